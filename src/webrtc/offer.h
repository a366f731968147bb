// What the server needs from a browser's SDP offer: which m-line carries the Opus audio and
// which the VP8 video, with the payload types the browser chose for them.
#pragma once

#include <string>

namespace dinet::webrtc {

struct OfferedMedia {
  unsigned mline = 0;
  int payload = -1;  // the offer's payload type for the codec
};

struct OfferMedia {
  OfferedMedia audio;  // opus/48000/2
  OfferedMedia video;  // VP8/90000
};

// Throws dinet::Error when the text is not SDP or offers no Opus audio or no VP8 video.
OfferMedia find_offer_media(const std::string& sdp);

}  // namespace dinet::webrtc
