// NumPy .npy files (format versions 1.0 to 3.0): the exchange format of the fixtures and of
// cached features.
#pragma once

#include <ATen/Tensor.h>

#include <filesystem>

namespace dinet {

// Reads a C-order, little-endian array of dtype <f4, <f8, <i8, <i4, |u1 or |b1 into a CPU
// tensor of the same type (float32, float64, int64, int32, uint8, bool); callers that need
// float32 convert with .to(at::kFloat). Throws dinet::Error naming the file on a bad magic,
// a bad header, another dtype, Fortran order, or a data size that does not match the shape.
at::Tensor read_npy(const std::filesystem::path& file);

// Writes `tensor` as a float32 (<f4), C-order .npy file (version 1.0), converting from any
// dtype or device. Atomic: the file appears complete or not at all.
void write_npy(const std::filesystem::path& file, const at::Tensor& tensor);

}  // namespace dinet
