// The WebRTC transport of `dinet serve`: one browser, one RTCPeerConnection. The browser sends
// its microphone; the server sends back the avatar's video (VP8) and the audio that plays with
// it (Opus), both timestamped from the frame index so they share one clock.
// GStreamer's webrtcbin does the work; no GStreamer type appears here.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

namespace dinet {

struct WebRtcOptions {
  std::string stun;  // "stun://host:port"; empty: no STUN, host candidates only (loopback, LAN)
  int width = 0;     // the size of every pushed frame
  int height = 0;
  int fps = 25;  // frames per second of push(); audio per frame is 16000 / fps samples
  int video_kbps = 1500;
};

// Threads: handle_signal (the WebSocket's thread), push (the engine's) and stats may run on
// different threads; the destructor must not overlap them, nor run on a callback's thread.
// The callbacks run on GStreamer's threads (webrtcbin's, the decoder's), never on the caller's;
// they must be quick and must not call into this peer (SendSignal runs inside handle_signal
// for the answer, and on webrtcbin's thread for our ICE candidates).
// There is no GMainLoop of ours: webrtcbin runs ICE on its own thread, the bus is read through
// a synchronous handler, the offer/answer steps wait on their promises in handle_signal.
class WebRtcPeer {
 public:
  // One JSON message for the browser, sent over the server's WebSocket:
  // {"type":"answer","sdp":"..."} or {"type":"ice","candidate":"...","sdpMLineIndex":N}.
  using SendSignal = std::function<void(const std::string& json)>;
  // The browser's microphone, decoded, 16 kHz mono, in pieces of any length.
  using OnAudio = std::function<void(std::span<const int16_t> pcm16k_mono)>;

  WebRtcPeer(const WebRtcOptions& options, SendSignal send_signal, OnAudio on_audio);
  ~WebRtcPeer();  // stops the pipeline; from any thread but the callbacks'
  WebRtcPeer(const WebRtcPeer&) = delete;
  WebRtcPeer& operator=(const WebRtcPeer&) = delete;

  // A message from the browser: {"type":"offer","sdp":"..."} (once; audio with Opus, video with
  // VP8, in any m-line order) or {"type":"ice","candidate":"...","sdpMLineIndex":N}.
  // Throws dinet::Error on bad JSON, an unknown type, an SDP that is not a usable offer, a
  // second offer; after an error from an offer the peer is unusable (close the connection).
  void handle_signal(const std::string& json);

  // 40 ms (1/fps) of output: a BGR frame of the options' size (else dinet::Error) and the
  // 16 kHz mono samples that play with it. Both get one timestamp, the first frame's arrival
  // + (index - first index) * frame duration; frames pushed before the offer are dropped.
  // Never blocks on the network: a full queue (~200 ms) drops the oldest.
  void push(const cv::Mat& bgr, std::span<const int16_t> audio16k, int64_t frame_index);

  // The connection is up (ICE connected and DTLS done): what is pushed now reaches the browser.
  bool connected() const;

  struct Stats {
    std::string ice_state;               // "new", "checking", "connected", "failed", ...
    std::string connection_state;        // ICE and DTLS together: "new", "connecting", "connected", ...
    int64_t frames_pushed = 0;           // accepted by push() after the offer
    int64_t frames_encoded = 0;          // VP8 frames out of the encoder
    int64_t audio_samples_received = 0;  // given to OnAudio
    std::string error;                   // the first pipeline error, empty when none
  };
  Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dinet
