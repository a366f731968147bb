// torch.save files, zip and legacy, down to a state dict (model/torch_file.cpp, unpickler.cpp,
// checkpoint.cpp): published checkpoints and whatever a user passes as --model_path.
#include "dinet/checkpoint.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto file = dinet::fuzz::write_input(dinet::fuzz::as_text(data, size), "input.pth");
  dinet::fuzz::parse_or_reject([&] { dinet::read_state_dict(file, {}); });
  return 0;
}
