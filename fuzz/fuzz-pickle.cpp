// The unpickler alone (model/unpickler.cpp), faster than through a whole file: the pickle of a
// checkpoint is the most complex outside input dinet reads. Storages are handed out as zeros,
// as large as the pickle asks up to 1 Mi elements (a file bounds them in real use).
#include <ATen/ATen.h>

#include "fuzz_input.h"
#include "model/pickle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const dinet::pickle::StorageLoader storages = [](const dinet::pickle::StorageRef& ref) {
    if (ref.numel < 0 || ref.numel > (1 << 20)) throw dinet::Error("storage too large for the fuzz target");
    return at::zeros({ref.numel}, at::TensorOptions().dtype(ref.dtype));
  };
  dinet::fuzz::parse_or_reject([&] { dinet::pickle::load(dinet::fuzz::as_text(data, size), storages); });
  return 0;
}
