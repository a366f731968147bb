// A live session's WebSocket messages (webrtc/signal.cpp) and the SDP offer in them
// (webrtc/offer.cpp), up to where GStreamer's webrtcbin takes over.
#include "fuzz_input.h"
#include "webrtc/offer.h"
#include "webrtc/signal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dinet::fuzz::parse_or_reject([&] {
    const auto signal = dinet::webrtc::parse_signal(dinet::fuzz::as_text(data, size));
    if (signal.type == dinet::webrtc::Signal::Type::offer) dinet::webrtc::find_offer_media(signal.sdp);
  });
  return 0;
}
