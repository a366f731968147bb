#include "webrtc/signal.h"

#include <nlohmann/json.hpp>

#include "dinet/error.h"

namespace dinet::webrtc {
namespace {

using json = nlohmann::json;

// One JSON field of a signalling message, as dinet::Error when missing or of the wrong type.
template <typename T>
T field(const json& message, const char* name) {
  try {
    return message.at(name).get<T>();
  } catch (const json::exception&) {
    throw Error("webrtc signal", std::string("missing or invalid field '") + name + "'");
  }
}

}  // namespace

Signal parse_signal(std::string_view text) {
  json message;
  try {
    message = json::parse(text);
  } catch (const json::exception& e) {
    throw Error("webrtc signal", std::string("bad JSON: ") + e.what());
  }
  if (!message.is_object()) throw Error("webrtc signal", "not a JSON object");
  Signal signal;
  const auto type = field<std::string>(message, "type");
  if (type == "offer") {
    signal.type = Signal::Type::offer;
    signal.sdp = field<std::string>(message, "sdp");
  } else if (type == "ice") {
    // A null candidate ends the browser's gathering, as some pages send it.
    if (message.contains("candidate") && message["candidate"].is_null()) {
      signal.type = Signal::Type::end_of_candidates;
      return signal;
    }
    signal.type = Signal::Type::ice;
    signal.candidate = field<std::string>(message, "candidate");
    signal.mline = field<unsigned>(message, "sdpMLineIndex");
    if (signal.candidate.empty()) signal.type = Signal::Type::end_of_candidates;
  } else {
    throw Error("webrtc signal", "unknown message type '" + type + "'");
  }
  return signal;
}

}  // namespace dinet::webrtc
