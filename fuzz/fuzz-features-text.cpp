// Audio features as text, the published <video>_deepspeech.txt (audio/feature_files.cpp).
#include "dinet/audio_features.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto file = dinet::fuzz::write_input(dinet::fuzz::as_text(data, size), "input_deepspeech.txt");
  dinet::fuzz::parse_or_reject([&] { dinet::read_feature_file(file); });
  return 0;
}
