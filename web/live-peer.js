// The browser's side of `dinet serve`'s live dubbing (src/webrtc, dinet::WebRtcPeer): one
// RTCPeerConnection that sends the microphone and receives the avatar's video and dubbed audio
// in one media stream (played in sync), signalled over one WebSocket with the JSON messages
//   browser -> server  {"type":"offer","sdp":"..."}  {"type":"ice","candidate":"...","sdpMLineIndex":N}
//   server -> browser  {"type":"answer","sdp":"..."} {"type":"ice","candidate":"...","sdpMLineIndex":N}
// A plain script: <script src="live-peer.js"></script> defines startLivePeer.
//
//   const mic = await navigator.mediaDevices.getUserMedia(
//       {audio: {channelCount: 1, echoCancellation: true, noiseSuppression: true}});
//   const live = startLivePeer(`ws://${location.host}/live`, document.querySelector("video"), mic);
//   ... live.stop();
//
// The video element plays the dubbed audio too, so it must not be muted, and browsers start
// playing sound only after a user gesture: call this from a click.
"use strict";

function startLivePeer(wsUrl, videoElement, micStream, onState) {
  const report = onState || (() => {});
  // No STUN/TURN: the server is on the same host or LAN (host candidates). Chromium hides its
  // own address behind an mDNS name; the connection still forms from the server's candidates.
  const pc = new RTCPeerConnection({bundlePolicy: "max-bundle", iceServers: []});
  const ws = new WebSocket(wsUrl);
  const send = (message) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  };

  // The microphone first (audio both ways: it goes up, the dubbed voice comes back on the same
  // m-line), then a receive-only video: the order the server expects from a browser.
  // Without a microphone (refused, or none) the audio m-line stays, with nothing to send: the
  // avatar still speaks typed text.
  const micTrack = micStream ? micStream.getAudioTracks()[0] : null;
  if (micTrack) pc.addTransceiver(micTrack, {direction: "sendrecv", streams: [micStream]});
  else pc.addTransceiver("audio", {direction: "sendrecv"});
  const video = pc.addTransceiver("video", {direction: "recvonly"});
  // The server sends VP8 only; putting it first keeps the offer's choice obvious.
  if (video.setCodecPreferences && window.RTCRtpReceiver && RTCRtpReceiver.getCapabilities) {
    const codecs = RTCRtpReceiver.getCapabilities("video").codecs;
    const vp8 = codecs.filter((c) => c.mimeType.toLowerCase() === "video/vp8");
    if (vp8.length) video.setCodecPreferences(vp8.concat(codecs.filter((c) => !vp8.includes(c))));
  }

  // Both tracks arrive in the server's stream "dinet-avatar"; fall back to one stream of our own.
  const fallback = new MediaStream();
  pc.ontrack = (event) => {
    const stream = event.streams[0] || fallback;
    if (!event.streams[0]) fallback.addTrack(event.track);
    if (videoElement.srcObject !== stream) videoElement.srcObject = stream;
    videoElement.play().catch(() => {});  // autoplay may wait for a gesture
  };
  pc.onicecandidate = (event) => {
    // null (or an empty candidate) ends gathering: the server needs no message for it.
    if (event.candidate && event.candidate.candidate) {
      send({type: "ice", candidate: event.candidate.candidate, sdpMLineIndex: event.candidate.sdpMLineIndex});
    }
  };
  pc.onconnectionstatechange = () => report(pc.connectionState);

  ws.onopen = async () => {
    try {
      await pc.setLocalDescription(await pc.createOffer());
      send({type: "offer", sdp: pc.localDescription.sdp});
    } catch (error) {
      report("failed: " + error);
    }
  };
  // One message at a time, in order: a candidate must not overtake the answer.
  let handled = Promise.resolve();
  ws.onmessage = (event) => {
    handled = handled.then(async () => {
      const message = JSON.parse(event.data);
      if (message.type === "answer") {
        await pc.setRemoteDescription({type: "answer", sdp: message.sdp});
      } else if (message.type === "ice") {
        await pc.addIceCandidate({candidate: message.candidate, sdpMLineIndex: message.sdpMLineIndex});
      }
    }).catch((error) => report("failed: " + error));
  };
  ws.onclose = () => report("closed");

  function stop() {
    ws.onclose = null;
    ws.close();
    pc.getSenders().forEach((sender) => sender.track && sender.track.stop());
    pc.close();
    videoElement.srcObject = null;
    report("closed");
  }
  return {pc, ws, stop};
}

window.startLivePeer = startLivePeer;
