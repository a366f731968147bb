#include <ATen/ATen.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/npy.h"
#include "python_support.h"
#include "test_support.h"

using dinet::test::TempDir;
namespace fs = std::filesystem;

namespace {

// A .npy file with the given header dict and raw data, for dtypes and malformations that
// write_npy never produces.
std::string npy_bytes(const std::string& header_dict, const std::string& data, int major = 1) {
  std::string header = header_dict;
  const size_t prefix = major == 1 ? 10 : 12;
  header.append(63 - (prefix + header.size()) % 64, ' ');
  header += '\n';
  std::string bytes = "\x93NUMPY";
  bytes += static_cast<char>(major);
  bytes += '\0';
  for (size_t i = 0; i < (major == 1 ? 2u : 4u); ++i)
    bytes += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return bytes + header + data;
}

template <typename T>
std::string raw(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

void expect_error_naming(const fs::path& file, const std::string& fragment) {
  try {
    dinet::read_npy(file);
    ADD_FAILURE() << "no error for " << file;
  } catch (const dinet::Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(file.string()), std::string::npos) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

}  // namespace

TEST(Npy, RoundTripIsBitExact) {
  TempDir dir;
  at::manual_seed(3);
  for (const auto& shape :
       std::vector<std::vector<int64_t>>{{2, 3, 5, 7}, {11}, {}, {0, 4}, {1, 1, 1}}) {
    const at::Tensor original = at::randn(shape);
    dinet::write_npy(dir / "a.npy", original);
    const at::Tensor back = dinet::read_npy(dir / "a.npy");
    EXPECT_EQ(back.scalar_type(), at::kFloat);
    EXPECT_EQ(back.sizes(), original.sizes());
    EXPECT_TRUE(at::equal(back, original));
  }
}

TEST(Npy, WritesFloat32COrderFromAnyLayout) {
  TempDir dir;
  const at::Tensor ints = at::arange(12, at::kLong).reshape({3, 4}).t();  // not contiguous
  dinet::write_npy(dir / "b.npy", ints);
  const at::Tensor back = dinet::read_npy(dir / "b.npy");
  EXPECT_EQ(back.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(back, ints.to(at::kFloat)));
  const std::string bytes = dinet::read_file(dir / "b.npy");
  EXPECT_EQ((bytes.size() - 12 * 4) % 64, 0u) << "data must start on a 64-byte boundary";
  EXPECT_NE(bytes.find("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }"),
            std::string::npos);
}

TEST(Npy, ReadsOtherDtypesAsTheirOwnType) {
  TempDir dir;
  struct Case {
    std::string descr;
    std::string data;
    at::ScalarType dtype;
  };
  const std::vector<Case> cases = {
      {"<f8", raw<double>({1.5, -2, 3, 4.25}), at::kDouble},
      {"<i8", raw<int64_t>({1, -2, 3, 1ll << 40}), at::kLong},
      {"<i4", raw<int32_t>({1, -2, 3, 4}), at::kInt},
      {"|u1", raw<uint8_t>({1, 2, 3, 255}), at::kByte},
      {"|b1", raw<uint8_t>({1, 0, 0, 1}), at::kBool},
  };
  for (const auto& c : cases) {
    std::ofstream(dir / "c.npy", std::ios::binary) << npy_bytes(
        "{'descr': '" + c.descr + "', 'fortran_order': False, 'shape': (2, 2), }", c.data);
    const at::Tensor t = dinet::read_npy(dir / "c.npy");
    EXPECT_EQ(t.scalar_type(), c.dtype) << c.descr;
    EXPECT_EQ(t.sizes(), (std::vector<int64_t>{2, 2}));
    EXPECT_EQ(std::string(static_cast<const char*>(t.data_ptr()), t.nbytes()), c.data) << c.descr;
  }
  // Format 2.0 (4-byte header length) and a 1-D shape written as "(4,)".
  std::ofstream(dir / "v2.npy", std::ios::binary) << npy_bytes(
      "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", raw<float>({1, 2, 3, 4}), 2);
  EXPECT_TRUE(at::equal(dinet::read_npy(dir / "v2.npy"), at::tensor({1.f, 2.f, 3.f, 4.f})));
}

TEST(Npy, MalformedFilesGiveOneLineErrorsNamingTheFile) {
  TempDir dir;
  const auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir / name, std::ios::binary) << bytes;
    return dir / name;
  };
  const std::string data = raw<float>({1, 2, 3, 4, 5, 6});
  const std::string good =
      npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data);
  expect_error_naming(write("magic.npy", "PK\x03\x04 not numpy at all"), "bad magic");
  expect_error_naming(write("empty.npy", ""), "bad magic");
  expect_error_naming(
      write("fortran.npy",
            npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", data)),
      "Fortran");
  expect_error_naming(
      write("big.npy",
            npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", data)),
      "unsupported dtype '>f4'");
  expect_error_naming(
      write("c8.npy", npy_bytes("{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", data)),
      "unsupported dtype");
  expect_error_naming(write("header.npy", npy_bytes("{'descr': '<f4', 'shape': (2, 3), }", data)),
                      "bad .npy header");
  expect_error_naming(
      write("garbage.npy",
            npy_bytes("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2, 3), }", data)),
      "bad .npy header");
  expect_error_naming(write("extra.npy", good + "xyz"), "unexpected bytes");
  expect_error_naming(write("version.npy", "\x93NUMPY\x07\x00" + good.substr(8)), "version");
  expect_error_naming(dir / "absent.npy", "no such file");
  // Every truncation of a valid file is reported, never read past.
  for (size_t length = 0; length < good.size(); ++length) {
    SCOPED_TRACE(length);
    EXPECT_THROW(dinet::read_npy(write("cut.npy", good.substr(0, length))), dinet::Error);
  }
  EXPECT_EQ(dinet::read_npy(write("good.npy", good)).numel(), 6);
}

TEST(Npy, ReadsEveryFixtureArrayWithItsManifestShape) {
  DINET_REQUIRE_SHARED();
  const fs::path dir = dinet::test::shared_dir() / "fixtures" / "parity64";
  const auto manifest = nlohmann::json::parse(dinet::read_file(dir / "manifest.json"));
  ASSERT_FALSE(manifest.at("arrays").empty());
  for (const auto& [name, shape] : manifest.at("arrays").items()) {
    const at::Tensor t = dinet::read_npy(dir / (name + ".npy"));
    EXPECT_EQ(t.scalar_type(), at::kFloat) << name;
    EXPECT_EQ(t.sizes().vec(), shape.get<std::vector<int64_t>>()) << name;
    EXPECT_TRUE(at::isfinite(t).all().item<bool>()) << name;
  }
  const at::Tensor mfcc =
      dinet::read_npy(dinet::test::shared_dir() / "fixtures" / "deepspeech_frontend" / "mfcc.npy");
  EXPECT_EQ(mfcc.sizes().vec(), (std::vector<int64_t>{799, 26}));
}

TEST(Npy, NumpyReadsWhatWeWriteAndWeReadWhatNumpyWrites) {
  DINET_REQUIRE_PYTHON(python, "numpy");
  TempDir dir;
  const at::Tensor ours = (at::arange(24, at::kFloat) / 8 - 1).reshape({2, 3, 4});
  dinet::write_npy(dir / "ours.npy", ours);
  const auto result =
      dinet::test::run_python(python, dir, R"(
import sys, numpy as np
a = np.load(sys.argv[1])
assert a.dtype == np.float32 and a.shape == (2, 3, 4), (a.dtype, a.shape)
assert np.array_equal(a.ravel(), np.arange(24) / 8 - 1), a
np.save(sys.argv[2], np.arange(6, dtype=np.float64).reshape(3, 2) / 4)
np.save(sys.argv[3], np.arange(5, dtype=np.int64) - 2)
)",
                              (dir / "ours.npy").string() + " " + (dir / "theirs.npy").string() +
                                  " " + (dir / "ints.npy").string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const at::Tensor theirs = dinet::read_npy(dir / "theirs.npy");
  EXPECT_EQ(theirs.scalar_type(), at::kDouble);
  EXPECT_TRUE(at::equal(theirs, at::arange(6, at::kDouble).reshape({3, 2}) / 4));
  EXPECT_TRUE(at::equal(dinet::read_npy(dir / "ints.npy"), at::arange(5, at::kLong) - 2));
}
