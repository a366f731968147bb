// NumPy .npy files: cached features, fixtures (io/npy.cpp).
#include "dinet/npy.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto file = dinet::fuzz::write_input(dinet::fuzz::as_text(data, size), "input.npy");
  dinet::fuzz::parse_or_reject([&] { dinet::read_npy(file); });
  return 0;
}
