// WebRtcPeer against a second webrtcbin in the browser's role, in one process: the browser
// offers its microphone (audio sendrecv, audio first as Chromium does) and a recvonly video,
// the two exchange the page's JSON messages, and each side decodes what the other sends.
#include "dinet/error.h"
#include "dinet/webrtc.h"

#define GST_USE_UNSTABLE_API
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/webrtc/webrtc.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <deque>
#include <mutex>
#include <sstream>
#include <thread>

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Signalling messages waiting to be carried, in order, as the server's WebSocket would.
struct Mailbox {
  std::mutex mutex;
  std::deque<std::string> messages;
  void post(std::string message) {
    std::lock_guard lock(mutex);
    messages.push_back(std::move(message));
  }
  std::deque<std::string> take() {
    std::lock_guard lock(mutex);
    return std::exchange(messages, {});
  }
};

GstPromise* wait_promise(GstPromise* promise) {
  gst_promise_wait(promise);
  return promise;
}

// How the browser behaves: Chromium puts the microphone's m-line first and hides its address
// behind an mDNS name unless told not to; the page may add the video transceiver first.
struct BrowserSetup {
  bool video_first = false;
  bool mdns_candidates = false;  // send "<uuid>.local" names instead of the browser's addresses
};

// The browser: a webrtcbin with a sine "microphone" and a recvonly VP8 video transceiver.
// Payload types differ from the server's defaults (109 Opus, 100 VP8), as a browser's may.
class Browser {
 public:
  Browser(Mailbox& to_server, BrowserSetup setup) : to_server_(to_server), setup_(setup) {
    gst_init(nullptr, nullptr);
    GError* error = nullptr;
    pipeline_ = gst_parse_launch(
        "webrtcbin name=browser bundle-policy=max-bundle "
        "audiotestsrc is-live=true wave=sine freq=440 volume=0.5 ! audioconvert ! audioresample ! "
        "opusenc ! rtpopuspay pt=109 ! "
        "capsfilter name=microphone caps=application/x-rtp,media=audio,encoding-name=OPUS,payload=109,clock-rate=48000",
        &error);
    if (!pipeline_) throw std::runtime_error(error ? error->message : "gst_parse_launch");
    webrtc_ = gst_bin_get_by_name(GST_BIN(pipeline_), "browser");
    GstElement* microphone = gst_bin_get_by_name(GST_BIN(pipeline_), "microphone");
    if (!setup.video_first) gst_element_link(microphone, webrtc_);  // a new transceiver per linked pad
    GstCaps* video = gst_caps_from_string("application/x-rtp,media=video,encoding-name=VP8,payload=100,clock-rate=90000");
    GstWebRTCRTPTransceiver* transceiver = nullptr;
    g_signal_emit_by_name(webrtc_, "add-transceiver", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY, video,
                          &transceiver);
    gst_caps_unref(video);
    gst_object_unref(transceiver);
    if (setup.video_first) gst_element_link(microphone, webrtc_);
    gst_object_unref(microphone);
    g_signal_connect(webrtc_, "on-ice-candidate", G_CALLBACK(+[](GstElement*, guint mline, gchar* candidate, gpointer self) {
                       static_cast<Browser*>(self)->send_candidate(mline, candidate);
                     }),
                     this);
    g_signal_connect(webrtc_, "pad-added", G_CALLBACK(+[](GstElement*, GstPad* pad, gpointer self) {
                       static_cast<Browser*>(self)->decode(pad);
                     }),
                     this);
    gst_element_set_state(pipeline_, GST_STATE_PLAYING);
  }

  ~Browser() {
    gst_element_set_state(pipeline_, GST_STATE_NULL);
    gst_object_unref(webrtc_);
    gst_object_unref(pipeline_);
  }

  std::string offer() {
    GstPromise* promise = wait_promise(([&] {
      GstPromise* p = gst_promise_new();
      g_signal_emit_by_name(webrtc_, "create-offer", nullptr, p);
      return p;
    })());
    GstWebRTCSessionDescription* offer = nullptr;
    gst_structure_get(gst_promise_get_reply(promise), "offer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &offer, nullptr);
    gst_promise_unref(promise);
    gchar* text = gst_sdp_message_as_text(offer->sdp);
    const std::string sdp = text;
    g_free(text);
    g_signal_emit_by_name(webrtc_, "set-local-description", offer, nullptr);
    gst_webrtc_session_description_free(offer);
    return json{{"type", "offer"}, {"sdp", sdp}}.dump();
  }

  void receive(const std::string& text) {
    const json message = json::parse(text);
    if (message["type"] == "answer") {
      answer_sdp = message["sdp"];
      GstSDPMessage* sdp = nullptr;
      gst_sdp_message_new_from_text(answer_sdp.c_str(), &sdp);
      GstWebRTCSessionDescription* answer = gst_webrtc_session_description_new(GST_WEBRTC_SDP_TYPE_ANSWER, sdp);
      GstPromise* promise = gst_promise_new();
      g_signal_emit_by_name(webrtc_, "set-remote-description", answer, promise);
      gst_promise_unref(wait_promise(promise));
      gst_webrtc_session_description_free(answer);
    } else {
      g_signal_emit_by_name(webrtc_, "add-ice-candidate", message["sdpMLineIndex"].get<unsigned>(),
                            message["candidate"].get<std::string>().c_str());
    }
  }

  std::string answer_sdp;
  std::mutex mutex;
  std::vector<Clock::time_point> frame_arrivals;
  int frame_width = 0, frame_height = 0;
  std::atomic<int> loudest_sample{0};
  std::atomic<int64_t> audio_samples{0};

 private:
  void decode(GstPad* pad) {
    GstCaps* caps = gst_pad_get_current_caps(pad);
    const std::string media = gst_structure_get_string(gst_caps_get_structure(caps, 0), "media");
    gst_caps_unref(caps);
    const bool video = media == "video";
    GstElement* bin = gst_parse_bin_from_description(
        video ? "rtpvp8depay request-keyframe=true ! vp8dec ! videoconvert ! video/x-raw,format=BGR ! appsink name=sink sync=false"
              : "rtpopusdepay ! opusdec ! audioconvert ! audio/x-raw,format=S16LE,channels=1 ! appsink name=sink sync=false",
        TRUE, nullptr);
    GstElement* sink = gst_bin_get_by_name(GST_BIN(bin), "sink");
    GstAppSinkCallbacks callbacks{};
    callbacks.new_sample = video ? on_video : on_audio;
    gst_app_sink_set_callbacks(GST_APP_SINK(sink), &callbacks, this, nullptr);
    gst_object_unref(sink);
    gst_bin_add(GST_BIN(pipeline_), bin);
    gst_element_sync_state_with_parent(bin);
    GstPad* sink_pad = gst_element_get_static_pad(bin, "sink");
    gst_pad_link(pad, sink_pad);
    gst_object_unref(sink_pad);
  }

  static GstFlowReturn on_video(GstAppSink* sink, gpointer data) {
    auto* self = static_cast<Browser*>(data);
    GstSample* sample = gst_app_sink_pull_sample(sink);
    const GstStructure* s = gst_caps_get_structure(gst_sample_get_caps(sample), 0);
    std::lock_guard lock(self->mutex);
    gst_structure_get_int(s, "width", &self->frame_width);
    gst_structure_get_int(s, "height", &self->frame_height);
    self->frame_arrivals.push_back(Clock::now());
    gst_sample_unref(sample);
    return GST_FLOW_OK;
  }

  static GstFlowReturn on_audio(GstAppSink* sink, gpointer data) {
    auto* self = static_cast<Browser*>(data);
    GstSample* sample = gst_app_sink_pull_sample(sink);
    GstMapInfo map;
    GstBuffer* buffer = gst_sample_get_buffer(sample);
    gst_buffer_map(buffer, &map, GST_MAP_READ);
    const auto* pcm = reinterpret_cast<const int16_t*>(map.data);
    int loudest = self->loudest_sample;
    for (size_t i = 0; i < map.size / 2; ++i) loudest = std::max(loudest, std::abs(int(pcm[i])));
    self->loudest_sample = loudest;
    self->audio_samples += int64_t(map.size / 2);
    gst_buffer_unmap(buffer, &map);
    gst_sample_unref(sample);
    return GST_FLOW_OK;
  }

  // "candidate:<foundation> <component> <transport> <priority> <address> <port> typ ..."
  void send_candidate(guint mline, const std::string& candidate) {
    std::string sent = candidate;
    if (setup_.mdns_candidates) {
      std::vector<std::string> fields;
      std::istringstream words(candidate);
      for (std::string word; words >> word;) fields.push_back(word);
      if (fields.size() < 8) return;
      fields[4] = "0b6c3d1e-5f2a-4c8b-9d7e-1f2a3b4c5d6e.local";
      sent.clear();
      for (const std::string& field : fields) sent += (sent.empty() ? "" : " ") + field;
    }
    to_server_.post(json{{"type", "ice"}, {"candidate", sent}, {"sdpMLineIndex", mline}}.dump());
  }

  Mailbox& to_server_;
  BrowserSetup setup_;
  GstElement* pipeline_ = nullptr;
  GstElement* webrtc_ = nullptr;
};

// One 40 ms step of the avatar: a moving gradient and a 300 Hz tone.
void make_step(int64_t index, cv::Mat& frame, std::vector<int16_t>& audio) {
  for (int y = 0; y < frame.rows; ++y)
    for (int x = 0; x < frame.cols; ++x)
      frame.at<cv::Vec3b>(y, x) = cv::Vec3b(uint8_t(x + index * 4), uint8_t(y), uint8_t((x + y) / 2));
  for (size_t i = 0; i < audio.size(); ++i)
    audio[i] = int16_t(8000 * std::sin(2 * M_PI * 300 * double(index * 640 + int64_t(i)) / 16000));
}

void expect_loopback(BrowserSetup setup) {
  Mailbox to_server, to_browser;
  std::atomic<int> loudest_microphone{0};
  dinet::WebRtcOptions options;
  options.width = 512;
  options.height = 512;
  auto peer = std::make_unique<dinet::WebRtcPeer>(
      options, [&](const std::string& json) { to_browser.post(json); },
      [&](std::span<const int16_t> pcm) {
        int loudest = loudest_microphone;
        for (int16_t s : pcm) loudest = std::max(loudest, std::abs(int(s)));
        loudest_microphone = loudest;
      });
  Browser browser(to_server, setup);
  const std::string offer = browser.offer();
  to_server.post(offer);

  const auto carry = [&] {  // the WebSocket, both ways
    for (const std::string& message : to_server.take()) peer->handle_signal(message);
    for (const std::string& message : to_browser.take()) browser.receive(message);
  };
  const auto deadline = Clock::now() + std::chrono::seconds(15);
  while (!peer->connected() && Clock::now() < deadline) {
    carry();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(peer->connected()) << "ICE " << peer->stats().ice_state << ", " << peer->stats().error;
  // The answer keeps the browser's order and payload types, sends video only, audio both ways.
  const std::string& answer = browser.answer_sdp;
  const size_t video_line = answer.find("m=video"), audio_line = answer.find("m=audio");
  ASSERT_NE(video_line, std::string::npos) << answer;
  ASSERT_NE(audio_line, std::string::npos) << answer;
  EXPECT_EQ(video_line < audio_line, setup.video_first) << answer;
  const std::string video_section = answer.substr(video_line, audio_line > video_line ? audio_line - video_line : std::string::npos);
  const std::string audio_section = answer.substr(audio_line, video_line > audio_line ? video_line - audio_line : std::string::npos);
  EXPECT_NE(audio_section.find("a=rtpmap:109 OPUS/48000/2"), std::string::npos) << answer;
  EXPECT_NE(audio_section.find("a=sendrecv"), std::string::npos) << answer;
  EXPECT_NE(video_section.find("a=rtpmap:100 VP8/90000"), std::string::npos) << answer;
  EXPECT_NE(video_section.find("a=sendonly"), std::string::npos) << answer;
  // Both tracks in one stream, which the browser plays in sync.
  EXPECT_NE(video_section.find("msid:dinet-avatar"), std::string::npos) << answer;
  EXPECT_NE(audio_section.find("msid:dinet-avatar"), std::string::npos) << answer;

  // 3 s of output at 25 fps, paced like the dubbing engine.
  constexpr int kFrames = 75;
  cv::Mat frame(options.height, options.width, CV_8UC3);
  std::vector<int16_t> audio(640);
  const auto start = Clock::now();
  for (int64_t k = 0; k < kFrames; ++k) {
    make_step(k, frame, audio);
    std::this_thread::sleep_until(start + std::chrono::milliseconds(40 * k));
    peer->push(frame, audio, k);
    carry();
  }
  const auto pushed_until = Clock::now();
  while (Clock::now() < pushed_until + std::chrono::seconds(1)) {
    carry();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  const dinet::WebRtcPeer::Stats stats = peer->stats();
  EXPECT_EQ(stats.frames_pushed, kFrames);
  EXPECT_TRUE(stats.error.empty()) << stats.error;
  std::lock_guard lock(browser.mutex);
  const auto& arrivals = browser.frame_arrivals;
  EXPECT_GE(int(arrivals.size()), kFrames * 8 / 10) << "encoded " << stats.frames_encoded;
  EXPECT_EQ(browser.frame_width, options.width);
  EXPECT_EQ(browser.frame_height, options.height);
  double longest_gap_ms = 0;
  for (size_t i = 1; i < arrivals.size(); ++i)
    longest_gap_ms = std::max(longest_gap_ms, std::chrono::duration<double, std::milli>(arrivals[i] - arrivals[i - 1]).count());
  EXPECT_LT(longest_gap_ms, 250) << "video arrives in bursts";
  EXPECT_GT(browser.loudest_sample, 1000) << "the avatar's audio is silent at the browser";
  EXPECT_GT(stats.audio_samples_received, 16000) << "less than 1 s of microphone";
  EXPECT_GT(loudest_microphone, 1000) << "the microphone is silent at the server";
  std::printf("video frames: %d of %d pushed, longest gap %.0f ms; browser audio samples %lld; "
              "microphone samples %lld\n",
              int(arrivals.size()), kFrames, longest_gap_ms, (long long)browser.audio_samples,
              (long long)stats.audio_samples_received);
  peer.reset();  // tears down while the browser still sends
}

TEST(WebRtcLoopback, VideoAndAudioBothWays) { expect_loopback({}); }

TEST(WebRtcLoopback, VideoFirstOffer) { expect_loopback({.video_first = true}); }

// The server cannot resolve the browser's mDNS names; the browser's checks against the
// server's host candidates still connect (the server learns a peer-reflexive candidate).
TEST(WebRtcLoopback, MdnsCandidatesFromTheBrowser) { expect_loopback({.mdns_candidates = true}); }

TEST(WebRtcSignal, BadMessagesAreErrors) {
  dinet::WebRtcOptions options;
  options.width = 64;
  options.height = 64;
  dinet::WebRtcPeer peer(options, [](const std::string&) {}, {});
  EXPECT_THROW(peer.handle_signal("{not json"), dinet::Error);
  EXPECT_THROW(peer.handle_signal("[1,2]"), dinet::Error);
  EXPECT_THROW(peer.handle_signal(R"({"type":"hello"})"), dinet::Error);
  EXPECT_THROW(peer.handle_signal(R"({"type":"offer"})"), dinet::Error);
  EXPECT_THROW(peer.handle_signal(R"({"type":"offer","sdp":42})"), dinet::Error);
  EXPECT_THROW(peer.handle_signal(R"({"type":"offer","sdp":"hello"})"), dinet::Error);
  EXPECT_THROW(peer.handle_signal(R"({"type":"ice","candidate":"candidate:1 1 udp 1 1.2.3.4 5 typ host"})"),
               dinet::Error);
  // An offer without VP8 video: the server cannot send the avatar.
  const std::string audio_only =
      "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
      "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\n"
      "a=rtpmap:111 opus/48000/2\r\n";
  EXPECT_THROW(peer.handle_signal(json{{"type", "offer"}, {"sdp", audio_only}}.dump()), dinet::Error);
  cv::Mat wrong_size(32, 32, CV_8UC3);
  EXPECT_THROW(peer.push(wrong_size, {}, 0), dinet::Error);
  const std::vector<int16_t> audio(640, 1000);
  EXPECT_NO_THROW(peer.push(cv::Mat(64, 64, CV_8UC3, cv::Scalar(0, 0, 0)), audio, 0));  // before the offer: dropped
  EXPECT_EQ(peer.stats().frames_pushed, 0);
  EXPECT_FALSE(peer.connected());
}

}  // namespace
