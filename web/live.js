// The page's live session: an avatar from GET /api/avatars, a session from POST /api/sessions,
// then one RTCPeerConnection (live-peer.js) that sends the microphone and receives the dubbed
// avatar with its audio; text goes to POST /api/sessions/ID/say.
"use strict";

const live = { id: null, peer: null, statsTimer: null };

function liveError(message) {
  $("live-error").textContent = message || "";
  $("live-error").hidden = !message;
}

async function loadAvatars() {
  const response = await fetch("api/avatars");
  if (!response.ok) return;
  const avatars = (await response.json()).avatars;
  const select = $("live-avatar");
  const chosen = select.value;
  select.textContent = "";
  let preparing = false;
  for (const a of avatars) {
    const option = document.createElement("option");
    option.value = a.id;
    option.textContent = a.name + (a.state === "ready" ? "" : " (" + a.state + ")");
    option.disabled = a.state !== "ready";
    select.appendChild(option);
    preparing = preparing || a.state === "preparing";
  }
  // Keep the user's choice; else the first ready avatar.
  const ready = avatars.filter((a) => a.state === "ready").map((a) => a.id);
  select.value = ready.includes(chosen) ? chosen : (ready[0] || "");
  $("live-start").disabled = live.id !== null || !select.value;
  $("avatar-state").textContent = preparing ? "Preparing an avatar (finding the face in every frame)..." : "";
  if (preparing) setTimeout(loadAvatars, 2000);
}

$("avatar-add").addEventListener("click", async () => {
  const file = $("avatar-file").files[0];
  if (!file) return liveError("choose a video first");
  liveError("");
  const form = new FormData();
  form.append("video", file);
  const response = await fetch("api/avatars", { method: "POST", body: form });
  if (!response.ok) return liveError(await apiError(response));
  loadAvatars();
});

async function showLiveStats() {
  const response = await fetch("api/stats");
  if (!response.ok || live.id === null) return;
  const mine = (await response.json()).sessions.find((s) => s.id === live.id);
  if (!mine) return;
  $("live-stats").textContent =
    mine.fps.toFixed(1) + " frames/s, latency p50 " + mine.latency_p50_ms.toFixed(0) + " ms, p95 " +
    mine.latency_p95_ms.toFixed(0) + " ms, " + mine.frames_dropped + " frames dropped, " +
    mine.audio_underruns + " underruns, mode " + mine.mode;
}

async function startLive() {
  liveError("");
  $("live-start").disabled = true;
  const response = await fetch("api/sessions", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ avatar: $("live-avatar").value }),
  });
  if (!response.ok) {
    liveError(await apiError(response));
    $("live-start").disabled = false;
    return;
  }
  live.id = (await response.json()).id;
  // Without a microphone (refused, or none) the avatar still speaks typed text.
  let microphone = null;
  try {
    microphone = await navigator.mediaDevices.getUserMedia(
      { audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true } });
  } catch (e) {
    liveError("no microphone (" + e.name + "): type text for the avatar to say");
  }
  const ws = (location.protocol === "https:" ? "wss://" : "ws://") + location.host +
    location.pathname.replace(/[^/]*$/, "") + "api/sessions/" + live.id + "/ws";
  live.peer = startLivePeer(ws, $("live-video"), microphone);
  $("live-stop").disabled = false;
  $("live-say").disabled = false;
  live.statsTimer = setInterval(showLiveStats, 1000);
}

async function stopLive() {
  if (live.peer) live.peer.stop();
  if (live.id) await fetch("api/sessions/" + live.id, { method: "DELETE" });
  clearInterval(live.statsTimer);
  live.id = null;
  live.peer = null;
  $("live-stop").disabled = true;
  $("live-say").disabled = true;
  loadAvatars();
}

$("live-start").addEventListener("click", startLive);
$("live-stop").addEventListener("click", stopLive);
$("live-say").addEventListener("click", async () => {
  const text = $("live-text").value.trim();
  if (!text || !live.id) return;
  const response = await fetch("api/sessions/" + live.id + "/say", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ text }),
  });
  if (!response.ok) liveError(await apiError(response));
});

loadAvatars();
