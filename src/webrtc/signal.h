// The browser's signalling messages, as they arrive over the session's WebSocket: JSON
// {"type":"offer","sdp":...} or {"type":"ice","candidate":...,"sdpMLineIndex":...}. Read here,
// apart from the peer, so that the text a client sends is parsed (and fuzzed) in one place.
#pragma once

#include <string>
#include <string_view>

namespace dinet::webrtc {

struct Signal {
  enum class Type { offer, ice, end_of_candidates };
  Type type = Type::offer;
  std::string sdp;        // offer
  std::string candidate;  // ice; empty: the browser's gathering ended
  unsigned mline = 0;     // ice
};

// Throws dinet::Error ("webrtc signal: ...") for text that is not such a message.
Signal parse_signal(std::string_view text);

}  // namespace dinet::webrtc
