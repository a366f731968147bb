// HDTF's annotation files (data/hdtf_annotations.cpp). The input is the interval file, then,
// after a NUL byte if there is one, the crop file.
#include "data/prepare_steps.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = dinet::fuzz::as_text(data, size);
  const size_t nul = input.find('\0');
  dinet::fuzz::write_input(input.substr(0, nul), "WDA_annotion_time.txt");
  const auto dir = dinet::fuzz::scratch_dir();
  std::error_code ec;
  std::filesystem::remove(dir / "WDA_crop_wh.txt", ec);
  if (nul != std::string_view::npos) dinet::fuzz::write_input(input.substr(nul + 1), "WDA_crop_wh.txt");
  dinet::fuzz::parse_or_reject([&] { dinet::prepare::read_hdtf_annotations(dir, dir); });
  return 0;
}
