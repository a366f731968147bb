#include "dinet/webrtc.h"

#include "dinet/error.h"
#include "webrtc/offer.h"
#include "webrtc/signal.h"

#define GST_USE_UNSTABLE_API  // webrtcbin's library is marked unstable in GStreamer 1.22
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/webrtc/webrtc.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <optional>
#include <vector>

namespace dinet {
namespace {

using nlohmann::json;

constexpr int kAudioRate = 16000;

void init_gstreamer() {
  static std::once_flag once;
  std::call_once(once, [] { gst_init(nullptr, nullptr); });
}

GstElement* make(const char* factory) {
  GstElement* element = gst_element_factory_make(factory, nullptr);
  if (!element) throw Error("webrtc", std::string("GStreamer element '") + factory + "' is not installed");
  return element;
}

// Waits for a webrtcbin promise and returns its reply (owned by the promise), throwing on an error.
const GstStructure* wait_reply(GstPromise* promise, const char* step) {
  if (gst_promise_wait(promise) != GST_PROMISE_RESULT_REPLIED)
    throw Error("webrtc", std::string(step) + ": no reply from webrtcbin");
  const GstStructure* reply = gst_promise_get_reply(promise);
  if (reply && gst_structure_has_field(reply, "error")) {
    GError* error = nullptr;
    gst_structure_get(reply, "error", G_TYPE_ERROR, &error, nullptr);
    const std::string message = error ? error->message : "unknown error";
    g_clear_error(&error);
    throw Error("webrtc", std::string(step) + ": " + message);
  }
  return reply;
}

struct PromiseRef {
  GstPromise* promise = gst_promise_new();
  ~PromiseRef() { gst_promise_unref(promise); }
};

}  // namespace

struct WebRtcPeer::Impl {
  WebRtcOptions options;
  SendSignal send_signal;
  OnAudio on_audio;
  GstClockTime frame_duration = 0;

  GstElement* pipeline = nullptr;
  GstElement* webrtc = nullptr;
  GstElement* video_src = nullptr;  // set once the offer is handled
  GstElement* audio_src = nullptr;

  std::mutex signal_mutex;  // one signalling message at a time
  std::mutex push_mutex;    // the timestamp origin
  std::optional<int64_t> first_index;
  GstClockTime first_pts = 0;

  std::atomic<bool> offered{false};
  std::atomic<int> ice_state{GST_WEBRTC_ICE_CONNECTION_STATE_NEW};
  std::atomic<int> connection_state{GST_WEBRTC_PEER_CONNECTION_STATE_NEW};
  std::atomic<int64_t> frames_pushed{0}, frames_encoded{0}, audio_samples_received{0};
  mutable std::mutex error_mutex;
  std::string error;

  void record_error(const std::string& message) {
    std::lock_guard lock(error_mutex);
    if (error.empty()) error = message;
  }

  void start();
  void handle_offer(const std::string& sdp);
  void add_video_branch(const webrtc::OfferedMedia& video);
  void add_audio_branch(const webrtc::OfferedMedia& audio);
  void link_to_mline(GstElement* last, unsigned mline, GstWebRTCRTPTransceiverDirection direction, GstCaps* caps);
  void add_microphone_branch(GstPad* pad);

  static void on_ice_candidate(GstElement*, guint mline, gchar* candidate, gpointer data);
  static void on_ice_state(GstElement* webrtc, GParamSpec*, gpointer data);
  static void on_connection_state(GstElement* webrtc, GParamSpec*, gpointer data);
  static void on_pad_added(GstElement*, GstPad* pad, gpointer data);
  static GstFlowReturn on_microphone_sample(GstAppSink* sink, gpointer data);
  static GstPadProbeReturn count_encoded_frame(GstPad*, GstPadProbeInfo*, gpointer data);
  static GstBusSyncReply on_bus_message(GstBus*, GstMessage* message, gpointer data);
};

// ---- GStreamer callbacks (webrtcbin's and the streaming threads) --------------------------

void WebRtcPeer::Impl::on_ice_candidate(GstElement*, guint mline, gchar* candidate, gpointer data) {
  auto* impl = static_cast<WebRtcPeer::Impl*>(data);
  impl->send_signal(json{{"type", "ice"}, {"candidate", candidate}, {"sdpMLineIndex", mline}}.dump());
}

void WebRtcPeer::Impl::on_ice_state(GstElement* webrtc, GParamSpec*, gpointer data) {
  GstWebRTCICEConnectionState state;
  g_object_get(webrtc, "ice-connection-state", &state, nullptr);
  static_cast<WebRtcPeer::Impl*>(data)->ice_state = int(state);
}

void WebRtcPeer::Impl::on_connection_state(GstElement* webrtc, GParamSpec*, gpointer data) {
  GstWebRTCPeerConnectionState state;
  g_object_get(webrtc, "connection-state", &state, nullptr);
  static_cast<WebRtcPeer::Impl*>(data)->connection_state = int(state);
}

void WebRtcPeer::Impl::on_pad_added(GstElement*, GstPad* pad, gpointer data) {
  if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC) return;
  static_cast<WebRtcPeer::Impl*>(data)->add_microphone_branch(pad);
}

GstFlowReturn WebRtcPeer::Impl::on_microphone_sample(GstAppSink* sink, gpointer data) {
  auto* impl = static_cast<WebRtcPeer::Impl*>(data);
  GstSample* sample = gst_app_sink_pull_sample(sink);
  if (!sample) return GST_FLOW_EOS;
  GstBuffer* buffer = gst_sample_get_buffer(sample);
  GstMapInfo map;
  if (buffer && gst_buffer_map(buffer, &map, GST_MAP_READ)) {
    const std::span<const int16_t> pcm(reinterpret_cast<const int16_t*>(map.data), map.size / 2);
    impl->audio_samples_received += int64_t(pcm.size());
    if (impl->on_audio) impl->on_audio(pcm);
    gst_buffer_unmap(buffer, &map);
  }
  gst_sample_unref(sample);
  return GST_FLOW_OK;
}

GstPadProbeReturn WebRtcPeer::Impl::count_encoded_frame(GstPad*, GstPadProbeInfo*, gpointer data) {
  ++static_cast<WebRtcPeer::Impl*>(data)->frames_encoded;
  return GST_PAD_PROBE_OK;
}

GstBusSyncReply WebRtcPeer::Impl::on_bus_message(GstBus*, GstMessage* message, gpointer data) {
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
    GError* error = nullptr;
    gst_message_parse_error(message, &error, nullptr);
    static_cast<WebRtcPeer::Impl*>(data)->record_error(
        std::string(GST_OBJECT_NAME(GST_MESSAGE_SRC(message))) + ": " + (error ? error->message : "error"));
    g_clear_error(&error);
  }
  return GST_BUS_DROP;  // nobody pops this bus
}

// ---- the pipeline ----------------------------------------------------------------------------

void WebRtcPeer::Impl::start() {
  pipeline = gst_pipeline_new("dinet-webrtc-peer");
  webrtc = make("webrtcbin");
  gst_util_set_object_arg(G_OBJECT(webrtc), "bundle-policy", "max-bundle");
  if (!options.stun.empty()) g_object_set(webrtc, "stun-server", options.stun.c_str(), nullptr);
  gst_bin_add(GST_BIN(pipeline), webrtc);
  g_signal_connect(webrtc, "on-ice-candidate", G_CALLBACK(on_ice_candidate), this);
  g_signal_connect(webrtc, "notify::ice-connection-state", G_CALLBACK(on_ice_state), this);
  g_signal_connect(webrtc, "notify::connection-state", G_CALLBACK(on_connection_state), this);
  g_signal_connect(webrtc, "pad-added", G_CALLBACK(on_pad_added), this);
  GstBus* bus = gst_element_get_bus(pipeline);
  gst_bus_set_sync_handler(bus, on_bus_message, this, nullptr);
  gst_object_unref(bus);
  // webrtcbin takes descriptions and candidates only once it runs.
  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    throw Error("webrtc", "the webrtcbin pipeline does not start");
}

// Links `last` to webrtcbin's sink pad for that m-line. Its transceiver, matched with the
// offer's m-line when the answer is made, sends in `direction` with the codec of `caps` only.
void WebRtcPeer::Impl::link_to_mline(GstElement* last, unsigned mline, GstWebRTCRTPTransceiverDirection direction,
                                     GstCaps* caps) {
  const std::string name = "sink_" + std::to_string(mline);
  GstPad* sink = gst_element_request_pad_simple(webrtc, name.c_str());
  if (!sink) throw Error("webrtc", "webrtcbin gives no pad " + name);
  // One media stream for both tracks: a browser synchronises audio with video only within one.
  // The answer names it (a=ssrc:... msid:) only for an SSRC in the caps, hence the fixed SSRCs.
  g_object_set(sink, "msid", "dinet-avatar", nullptr);
  GstWebRTCRTPTransceiver* transceiver = nullptr;
  g_object_get(sink, "transceiver", &transceiver, nullptr);
  if (transceiver) {
    g_object_set(transceiver, "direction", direction, "codec-preferences", caps, nullptr);
    gst_object_unref(transceiver);
  }
  GstPad* source = gst_element_get_static_pad(last, "src");
  const GstPadLinkReturn linked = gst_pad_link(source, sink);
  gst_object_unref(source);
  gst_object_unref(sink);
  if (!transceiver) throw Error("webrtc", "webrtcbin's " + name + " has no transceiver");
  if (linked != GST_PAD_LINK_OK) throw Error("webrtc", "cannot link to webrtcbin's " + name);
}

void WebRtcPeer::Impl::add_video_branch(const webrtc::OfferedMedia& video) {
  video_src = make("appsrc");
  GstCaps* raw = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "BGR", "width", G_TYPE_INT,
                                     options.width, "height", G_TYPE_INT, options.height, "framerate",
                                     GST_TYPE_FRACTION, options.fps, 1, nullptr);
  g_object_set(video_src, "caps", raw, "format", GST_FORMAT_TIME, "is-live", TRUE, "max-bytes", guint64(0),
               "max-buffers", guint64(options.fps / 5 + 1), nullptr);
  gst_util_set_object_arg(G_OBJECT(video_src), "leaky-type", "downstream");  // drop the oldest
  gst_caps_unref(raw);
  GstElement* convert = make("videoconvert");
  GstElement* encoder = make("vp8enc");
  // Real time: the fastest settings, no look-ahead, a key frame at least every 2 s so a lost
  // packet or a late joiner recovers; one thread, the dubbing engine wants the others.
  g_object_set(encoder, "deadline", gint64(1), "cpu-used", 8, "threads", 1, "lag-in-frames", 0,
               "keyframe-max-dist", 2 * options.fps, "target-bitrate", options.video_kbps * 1000, nullptr);
  gst_util_set_object_arg(G_OBJECT(encoder), "error-resilient", "default");
  gst_util_set_object_arg(G_OBJECT(encoder), "end-usage", "cbr");
  GstElement* payloader = make("rtpvp8pay");
  const guint ssrc = g_random_int();
  g_object_set(payloader, "pt", guint(video.payload), "ssrc", ssrc, "mtu", guint(1200), nullptr);
  gst_util_set_object_arg(G_OBJECT(payloader), "picture-id-mode", "15-bit");
  GstElement* filter = make("capsfilter");
  GstCaps* rtp = gst_caps_new_simple("application/x-rtp", "media", G_TYPE_STRING, "video", "encoding-name",
                                     G_TYPE_STRING, "VP8", "clock-rate", G_TYPE_INT, 90000, "payload",
                                     G_TYPE_INT, video.payload, "ssrc", G_TYPE_UINT, ssrc, nullptr);
  g_object_set(filter, "caps", rtp, nullptr);

  GstPad* encoded = gst_element_get_static_pad(encoder, "src");
  gst_pad_add_probe(encoded, GST_PAD_PROBE_TYPE_BUFFER, count_encoded_frame, this, nullptr);
  gst_object_unref(encoded);
  gst_bin_add_many(GST_BIN(pipeline), video_src, convert, encoder, payloader, filter, nullptr);
  if (!gst_element_link_many(video_src, convert, encoder, payloader, filter, nullptr))
    throw Error("webrtc", "cannot link the video encoder");
  link_to_mline(filter, video.mline, GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, rtp);
  gst_caps_unref(rtp);
}

void WebRtcPeer::Impl::add_audio_branch(const webrtc::OfferedMedia& audio) {
  audio_src = make("appsrc");
  GstCaps* raw = gst_caps_new_simple("audio/x-raw", "format", G_TYPE_STRING, "S16LE", "rate", G_TYPE_INT,
                                     kAudioRate, "channels", G_TYPE_INT, 1, "layout", G_TYPE_STRING,
                                     "interleaved", nullptr);
  g_object_set(audio_src, "caps", raw, "format", GST_FORMAT_TIME, "is-live", TRUE, "max-bytes", guint64(0),
               "max-buffers", guint64(options.fps / 5 + 1), nullptr);
  gst_util_set_object_arg(G_OBJECT(audio_src), "leaky-type", "downstream");
  gst_caps_unref(raw);
  GstElement* convert = make("audioconvert");
  GstElement* resample = make("audioresample");
  GstElement* encoder = make("opusenc");
  g_object_set(encoder, "bitrate", 32000, nullptr);
  gst_util_set_object_arg(G_OBJECT(encoder), "audio-type", "voice");
  GstElement* payloader = make("rtpopuspay");
  const guint ssrc = g_random_int();
  g_object_set(payloader, "pt", guint(audio.payload), "ssrc", ssrc, nullptr);
  GstElement* filter = make("capsfilter");
  GstCaps* rtp = gst_caps_new_simple("application/x-rtp", "media", G_TYPE_STRING, "audio", "encoding-name",
                                     G_TYPE_STRING, "OPUS", "clock-rate", G_TYPE_INT, 48000, "payload",
                                     G_TYPE_INT, audio.payload, "ssrc", G_TYPE_UINT, ssrc,
                                     // "opus/48000/2" in the answer: browsers match Opus with 2 channels
                                     "encoding-params", G_TYPE_STRING, "2", nullptr);
  g_object_set(filter, "caps", rtp, nullptr);
  gst_bin_add_many(GST_BIN(pipeline), audio_src, convert, resample, encoder, payloader, filter, nullptr);
  if (!gst_element_link_many(audio_src, convert, resample, encoder, payloader, filter, nullptr))
    throw Error("webrtc", "cannot link the audio encoder");
  link_to_mline(filter, audio.mline, GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDRECV, rtp);
  gst_caps_unref(rtp);
}

// The browser's microphone: Opus RTP -> 16 kHz mono S16LE -> OnAudio. Other media are discarded.
void WebRtcPeer::Impl::add_microphone_branch(GstPad* pad) {
  GstCaps* caps = gst_pad_get_current_caps(pad);
  const GstStructure* structure = caps ? gst_caps_get_structure(caps, 0) : nullptr;
  const char* media = structure ? gst_structure_get_string(structure, "media") : nullptr;
  const char* encoding = structure ? gst_structure_get_string(structure, "encoding-name") : nullptr;
  const bool opus = media && std::string(media) == "audio" && encoding && g_ascii_strcasecmp(encoding, "OPUS") == 0;
  if (caps) gst_caps_unref(caps);
  std::vector<GstElement*> chain;
  if (opus) {
    GstElement* sink = gst_element_factory_make("appsink", nullptr);
    GstCaps* pcm = gst_caps_new_simple("audio/x-raw", "format", G_TYPE_STRING, "S16LE", "rate", G_TYPE_INT,
                                       kAudioRate, "channels", G_TYPE_INT, 1, "layout", G_TYPE_STRING,
                                       "interleaved", nullptr);
    g_object_set(sink, "caps", pcm, "sync", FALSE, nullptr);
    gst_caps_unref(pcm);
    GstAppSinkCallbacks callbacks{};
    callbacks.new_sample = on_microphone_sample;
    gst_app_sink_set_callbacks(GST_APP_SINK(sink), &callbacks, this, nullptr);
    chain = {gst_element_factory_make("rtpopusdepay", nullptr), gst_element_factory_make("opusdec", nullptr),
             gst_element_factory_make("audioconvert", nullptr), gst_element_factory_make("audioresample", nullptr),
             sink};
  } else {
    chain = {gst_element_factory_make("fakesink", nullptr)};
  }
  // On GStreamer's thread: a failure is recorded for stats(), never thrown through C code.
  if (std::find(chain.begin(), chain.end(), nullptr) != chain.end()) {
    for (GstElement* element : chain)
      if (element) gst_object_unref(gst_object_ref_sink(element));
    record_error("a GStreamer element for the browser's audio is not installed");
    return;
  }
  for (GstElement* element : chain) gst_bin_add(GST_BIN(pipeline), element);
  bool linked = true;
  for (size_t i = 0; i + 1 < chain.size(); ++i) linked = linked && gst_element_link(chain[i], chain[i + 1]);
  GstPad* sink_pad = gst_element_get_static_pad(chain.front(), "sink");
  linked = linked && gst_pad_link(pad, sink_pad) == GST_PAD_LINK_OK;
  gst_object_unref(sink_pad);
  if (!linked) record_error("cannot link the browser's audio decoder");
  for (GstElement* element : chain) gst_element_sync_state_with_parent(element);
}

void WebRtcPeer::Impl::handle_offer(const std::string& sdp) {
  if (offered) throw Error("webrtc signal", "a second offer (renegotiation is not supported)");
  const webrtc::OfferMedia media = webrtc::find_offer_media(sdp);
  GstSDPMessage* message = nullptr;
  gst_sdp_message_new_from_text(sdp.c_str(), &message);
  GstWebRTCSessionDescription* offer = gst_webrtc_session_description_new(GST_WEBRTC_SDP_TYPE_OFFER, message);
  {
    PromiseRef promise;
    g_signal_emit_by_name(webrtc, "set-remote-description", offer, promise.promise);
    gst_webrtc_session_description_free(offer);
    wait_reply(promise.promise, "set-remote-description");
  }
  // Our transceivers, one per sink pad, meet the offer's m-lines when the answer is made.
  add_audio_branch(media.audio);
  add_video_branch(media.video);
  // The new branches follow the pipeline's state (playing).
  GstIterator* elements = gst_bin_iterate_elements(GST_BIN(pipeline));
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next(elements, &item) == GST_ITERATOR_OK) {
    gst_element_sync_state_with_parent(GST_ELEMENT(g_value_get_object(&item)));
    g_value_reset(&item);
  }
  g_value_unset(&item);
  gst_iterator_free(elements);

  GstWebRTCSessionDescription* answer = nullptr;
  {
    PromiseRef promise;
    g_signal_emit_by_name(webrtc, "create-answer", nullptr, promise.promise);
    const GstStructure* reply = wait_reply(promise.promise, "create-answer");
    if (!reply || !gst_structure_get(reply, "answer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &answer, nullptr))
      throw Error("webrtc", "create-answer gave no answer");
  }
  gchar* answer_text = gst_sdp_message_as_text(answer->sdp);
  const std::string answer_sdp = answer_text;
  g_free(answer_text);
  // The answer goes out before our candidates, which gathering starts with the local description.
  send_signal(json{{"type", "answer"}, {"sdp", answer_sdp}}.dump());
  PromiseRef promise;
  g_signal_emit_by_name(webrtc, "set-local-description", answer, promise.promise);
  gst_webrtc_session_description_free(answer);
  wait_reply(promise.promise, "set-local-description");
  offered = true;
}

// ---- the public face ------------------------------------------------------------------------

WebRtcPeer::WebRtcPeer(const WebRtcOptions& options, SendSignal send_signal, OnAudio on_audio)
    : impl_(std::make_unique<Impl>()) {
  if (options.width <= 0 || options.height <= 0 || options.fps <= 0 || options.video_kbps <= 0)
    throw Error("webrtc", "the frame size, fps and video bitrate must be positive");
  if (!send_signal) throw Error("webrtc", "no function to send signalling messages");
  init_gstreamer();
  impl_->options = options;
  impl_->send_signal = std::move(send_signal);
  impl_->on_audio = std::move(on_audio);
  impl_->frame_duration = gst_util_uint64_scale_int(GST_SECOND, 1, options.fps);
  try {
    impl_->start();
  } catch (...) {
    if (impl_->pipeline) gst_object_unref(impl_->pipeline);
    throw;
  }
}

WebRtcPeer::~WebRtcPeer() {
  // Stopping joins the streaming threads and webrtcbin's own; no callback runs after it.
  gst_element_set_state(impl_->pipeline, GST_STATE_NULL);
  gst_object_unref(impl_->pipeline);
}

void WebRtcPeer::handle_signal(const std::string& text) {
  const webrtc::Signal signal = webrtc::parse_signal(text);
  std::lock_guard lock(impl_->signal_mutex);
  switch (signal.type) {
    case webrtc::Signal::Type::offer:
      impl_->handle_offer(signal.sdp);
      break;
    case webrtc::Signal::Type::ice:
      // mDNS (".local") candidates go to webrtcbin like the others: it resolves them if the
      // host can, else drops them, and the browser's checks against our host candidates still
      // connect (peer-reflexive).
      g_signal_emit_by_name(impl_->webrtc, "add-ice-candidate", signal.mline, signal.candidate.c_str());
      break;
    case webrtc::Signal::Type::end_of_candidates:
      break;
  }
}

void WebRtcPeer::push(const cv::Mat& bgr, std::span<const int16_t> audio16k, int64_t frame_index) {
  if (bgr.type() != CV_8UC3 || bgr.cols != impl_->options.width || bgr.rows != impl_->options.height)
    throw Error("webrtc push", "the frame is not " + std::to_string(impl_->options.width) + "x" +
                                   std::to_string(impl_->options.height) + " BGR");
  if (!impl_->offered) return;
  GstClockTime pts = 0;
  {
    std::lock_guard lock(impl_->push_mutex);
    if (!impl_->first_index) {
      // The first frame is stamped with the pipeline's running time now, so the timestamps
      // follow the clock while the engine keeps pace; later ones only from their index.
      GstClock* clock = gst_element_get_clock(impl_->pipeline);
      const GstClockTime now = clock ? gst_clock_get_time(clock) : 0;
      if (clock) gst_object_unref(clock);
      const GstClockTime base = gst_element_get_base_time(impl_->pipeline);
      impl_->first_index = frame_index;
      impl_->first_pts = now > base ? now - base : 0;
    }
    if (frame_index < *impl_->first_index) return;
    pts = impl_->first_pts + GstClockTime(frame_index - *impl_->first_index) * impl_->frame_duration;
  }

  const size_t row = size_t(bgr.cols) * 3, stride = (row + 3) & ~size_t(3);  // GStreamer's BGR rows: 4-byte aligned
  GstBuffer* video = gst_buffer_new_allocate(nullptr, stride * size_t(bgr.rows), nullptr);
  GstMapInfo map;
  gst_buffer_map(video, &map, GST_MAP_WRITE);
  for (int y = 0; y < bgr.rows; ++y) std::memcpy(map.data + stride * size_t(y), bgr.ptr(y), row);
  gst_buffer_unmap(video, &map);
  GST_BUFFER_PTS(video) = pts;
  GST_BUFFER_DURATION(video) = impl_->frame_duration;
  gst_app_src_push_buffer(GST_APP_SRC(impl_->video_src), video);

  if (!audio16k.empty()) {
    GstBuffer* audio = gst_buffer_new_memdup(audio16k.data(), audio16k.size_bytes());
    GST_BUFFER_PTS(audio) = pts;
    GST_BUFFER_DURATION(audio) = gst_util_uint64_scale_int(GST_SECOND, int(audio16k.size()), kAudioRate);
    gst_app_src_push_buffer(GST_APP_SRC(impl_->audio_src), audio);
  }
  ++impl_->frames_pushed;
}

bool WebRtcPeer::connected() const {
  return impl_->connection_state == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED;
}

namespace {
std::string enum_nick(GType type, int value) {
  GEnumClass* values = G_ENUM_CLASS(g_type_class_ref(type));
  const GEnumValue* found = g_enum_get_value(values, value);
  std::string nick = found ? found->value_nick : "unknown";
  g_type_class_unref(values);
  return nick;
}
}  // namespace

WebRtcPeer::Stats WebRtcPeer::stats() const {
  Stats stats;
  stats.ice_state = enum_nick(GST_TYPE_WEBRTC_ICE_CONNECTION_STATE, impl_->ice_state);
  stats.connection_state = enum_nick(GST_TYPE_WEBRTC_PEER_CONNECTION_STATE, impl_->connection_state);
  stats.frames_pushed = impl_->frames_pushed;
  stats.frames_encoded = impl_->frames_encoded;
  stats.audio_samples_received = impl_->audio_samples_received;
  std::lock_guard lock(impl_->error_mutex);
  stats.error = impl_->error;
  return stats;
}

}  // namespace dinet
