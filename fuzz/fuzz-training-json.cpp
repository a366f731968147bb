// The training set's json, the published training_json.json (train/training_set.cpp).
#include "fuzz_input.h"
#include "train/training_set.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto file = dinet::fuzz::write_input(dinet::fuzz::as_text(data, size), "training_json.json");
  dinet::fuzz::parse_or_reject([&] {
    auto set = dinet::train::read_training_set(file);
    dinet::train::split_heldout(set, 0.25);
  });
  return 0;
}
