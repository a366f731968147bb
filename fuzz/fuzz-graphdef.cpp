// A frozen TensorFlow graph, DeepSpeech's output_graph.pb (audio/deepspeech_graph.cpp).
#include "audio/deepspeech_network.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto file = dinet::fuzz::write_input(dinet::fuzz::as_text(data, size), "output_graph.pb");
  dinet::fuzz::parse_or_reject([&] { dinet::deepspeech::read_graph(file); });
  return 0;
}
