// OpenFace landmark CSVs, theirs and ours (face/openface_csv.cpp).
#include "dinet/landmarks.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto file = dinet::fuzz::write_input(dinet::fuzz::as_text(data, size), "input.csv");
  dinet::fuzz::parse_or_reject([&] { dinet::read_openface_csv(file); });
  return 0;
}
