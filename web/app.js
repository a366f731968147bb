// The page's dubbing form: uploads the two files to POST /api/jobs, follows the job's
// progress through GET /api/jobs/ID/events (server-sent events) and shows the result.
"use strict";

const $ = (id) => document.getElementById(id);

async function apiError(response) {
  try {
    return (await response.json()).error || response.statusText;
  } catch (e) {
    return response.status + " " + response.statusText;
  }
}

function showError(message) {
  $("job-error").textContent = message;
  $("job-error").hidden = !message;
}

function showJob(job) {
  $("progress").value = job.progress || 0;
  $("job-state").textContent = job.state + (job.stage ? " (" + job.stage + ")" : "");
  $("cancel").hidden = !(job.state === "queued" || job.state === "running");
  if (job.state === "failed") showError(job.error || "the job failed");
  if (job.state === "done") {
    const url = "api/jobs/" + job.id + "/result";
    $("result").src = url;
    $("result").hidden = false;
    $("download").href = url;
    $("download").hidden = false;
    listJobs();
  }
}

function follow(id) {
  const events = new EventSource("api/jobs/" + id + "/events");
  events.onmessage = (e) => {
    const job = JSON.parse(e.data);
    showJob(job);
    if (job.state !== "queued" && job.state !== "running") events.close();
  };
  events.onerror = () => events.close();
  $("cancel").onclick = () => fetch("api/jobs/" + id, { method: "DELETE" });
}

$("job-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  showError("");
  $("result").hidden = true;
  $("download").hidden = true;
  const form = new FormData();
  form.append("video", $("video-file").files[0]);
  form.append("audio", $("audio-file").files[0]);
  if ($("precision").value) form.append("options", JSON.stringify({ precision: $("precision").value }));
  $("submit").disabled = true;
  $("job-state").textContent = "uploading";
  try {
    const response = await fetch("api/jobs", { method: "POST", body: form });
    if (!response.ok) {
      showError(await apiError(response));
      $("job-state").textContent = "";
      return;
    }
    follow((await response.json()).id);
  } catch (err) {
    showError("the server did not answer: " + err);
  } finally {
    $("submit").disabled = false;
  }
});

async function listJobs() {
  const response = await fetch("api/jobs");
  if (!response.ok) return;
  const list = $("jobs");
  list.textContent = "";
  for (const job of (await response.json()).jobs.sort((a, b) => b.created - a.created)) {
    const item = document.createElement("li");
    const when = new Date(job.created * 1000).toLocaleString();
    item.textContent = when + ": " + job.video + " + " + job.audio + ", " + job.state + " ";
    if (job.state === "done") {
      const link = document.createElement("a");
      link.href = "api/jobs/" + job.id + "/result";
      link.textContent = "result";
      item.appendChild(link);
    }
    list.appendChild(item);
  }
}

listJobs();
