// Hostile and broken inputs: every one must end in one dinet::Error, never a crash, an abort,
// a hang or a call of a Python global.
#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>

#include <fstream>
#include <random>

#include "dinet/checkpoint.h"
#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/torch_file.h"
#include "model/pickle.h"
#include "test_support.h"

using dinet::TorchValue;
using namespace std::string_literals;
using dinet::test::TempDir;
namespace fs = std::filesystem;

namespace {

void write_bytes(const fs::path& file, const std::string& bytes) {
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
}

// "" when the file loads, else the error message (which must be one line naming the file).
std::string load_error(const fs::path& file) {
  try {
    dinet::load_torch_file(file);
    return {};
  } catch (const dinet::Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind(file.string() + ": ", 0), 0u) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    return message;
  }
}

// A zip archive as torch.save writes it, around a pickle we craft.
void write_archive(const fs::path& file, const std::string& pickle,
                   const std::string& record = "data.pkl") {
  std::ofstream out(file, std::ios::binary);
  caffe2::serialize::PyTorchStreamWriter writer([&out](const void* buf, size_t n) {
    out.write(static_cast<const char*>(buf), static_cast<std::streamsize>(n));
    return n;
  });
  writer.writeRecord(record, pickle.data(), pickle.size());
  writer.writeEndOfFile();
}

std::string small_checkpoint(const TempDir& dir) {
  TorchValue net = TorchValue::ordered_dict();
  net.set("conv.weight", at::arange(24, at::kFloat).reshape({2, 3, 2, 2}));
  net.set("conv.bias", at::ones({2}));
  net.set("norm.num_batches_tracked", at::scalar_tensor(3, at::kLong));
  TorchValue root = TorchValue::dict();
  root.set("epoch", 3);
  TorchValue state = TorchValue::dict();
  state.set("net_g", net);
  root.set("state_dict", state);
  dinet::save_torch_file(dir / "small.pth", root);
  return dinet::read_file(dir / "small.pth");
}

TorchValue unpickle(const std::string& bytes) {
  return dinet::pickle::load(bytes, [](const dinet::pickle::StorageRef& ref) {
    return at::zeros({ref.numel}, at::TensorOptions().dtype(ref.dtype));
  });
}

std::string unpickle_error(const std::string& bytes) {
  try {
    unpickle(bytes);
    return {};
  } catch (const dinet::Error& e) {
    return e.what();
  }
}

}  // namespace

TEST(TorchFileMalformed, EveryTruncationOfASmallCheckpointIsAnError) {
  TempDir dir;
  const std::string good = small_checkpoint(dir);
  ASSERT_EQ(load_error(dir / "small.pth"), "");
  for (size_t length = 0; length < good.size(); ++length) {
    write_bytes(dir / "cut.pth", good.substr(0, length));
    EXPECT_NE(load_error(dir / "cut.pth"), "") << "length " << length;
  }
}

TEST(TorchFileMalformed, CorruptingAnyByteNeverCrashes) {
  TempDir dir;
  const std::string good = small_checkpoint(dir);
  int errors = 0;
  for (size_t at = 0; at < good.size(); ++at) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x5a);
    write_bytes(dir / "bad.pth", bad);
    errors += !load_error(dir / "bad.pth").empty();
  }
  EXPECT_GT(errors, 0);
}

TEST(TorchFileMalformed, TruncatedFixtureIsOneClearError) {
  DINET_REQUIRE_SHARED();
  TempDir dir;
  const std::string good =
      dinet::read_file(dinet::test::shared_dir() / "fixtures" / "parity64" / "discriminator.pth");
  for (const size_t length :
       {size_t{0}, size_t{1}, size_t{4}, size_t{30}, size_t{100}, size_t{5000}, good.size() / 3,
        good.size() / 2, good.size() - 200, good.size() - 22, good.size() - 1}) {
    write_bytes(dir / "cut.pth", good.substr(0, length));
    const std::string message = load_error(dir / "cut.pth");
    EXPECT_NE(message, "") << "length " << length;
  }
}

TEST(TorchFileMalformed, NotACheckpoint) {
  TempDir dir;
  std::mt19937 rng(7);
  std::string noise(4096, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  write_bytes(dir / "noise.pth", noise);
  EXPECT_NE(load_error(dir / "noise.pth").find("not a torch.save file"), std::string::npos);
  write_bytes(dir / "zipnoise.pth", "PK\x03\x04" + noise);
  EXPECT_NE(load_error(dir / "zipnoise.pth"), "");
  write_bytes(
      dir / "legacynoise.pth",
      std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e", 15) + noise);
  EXPECT_NE(load_error(dir / "legacynoise.pth"), "");
  write_bytes(dir / "empty.pth", "");
  EXPECT_NE(load_error(dir / "empty.pth").find("empty file"), std::string::npos);
  EXPECT_NE(load_error(dir / "absent.pth").find("no such file"), std::string::npos);
  write_archive(dir / "other.pth", "hello", "constants.pkl");
  EXPECT_NE(load_error(dir / "other.pth").find("no data.pkl"), std::string::npos);
}

TEST(TorchFileMalformed, ForbiddenGlobalsAreRefusedNotCalled) {
  TempDir dir;
  const fs::path marker = dir / "marker";
  const std::string command = "touch " + marker.string();
  const std::string length{static_cast<char>(command.size()), 0, 0, 0};
  // os.system("touch marker") as Python's pickle protocol 2 spells it.
  write_archive(dir / "os.pth",
                "\x80\x02"
                "cos\nsystem\n"
                "X" +
                    length + command + "\x85R.");
  EXPECT_NE(load_error(dir / "os.pth").find("forbidden pickle global 'os.system'"),
            std::string::npos);
  // builtins.eval through protocol 4's STACK_GLOBAL.
  const std::string eval =
      "\x80\x04\x8c\x08"
      "builtins"
      "\x8c\x04"
      "eval"
      "\x93"
      "\x8c\x01"
      "1"
      "\x85R.";
  write_archive(dir / "eval.pth", eval);
  EXPECT_NE(load_error(dir / "eval.pth").find("'builtins.eval'"), std::string::npos);
  EXPECT_NE(unpickle_error("\x80\x02"
                           "ctorch\nload\n."),
            "");
  EXPECT_NE(unpickle_error("\x80\x02"
                           "ctorch._utils\n_rebuild_qtensor\n."),
            "");
  EXPECT_FALSE(fs::exists(marker));
}

TEST(TorchFileMalformed, BrokenPicklesAreErrors) {
  const std::map<std::string, std::string> cases = {
      {"empty", ""},
      {"no stop", "\x80\x02}"},
      {"underflow", "\x80\x02s."},
      {"setitems without mark", "\x80\x02}K\x01K\x02u."},
      {"missing memo", "\x80\x02h\x05."},
      {"string past the end",
       "\x80\x02X\xff\x00\x00\x00"
       "abc."s},
      {"two values at stop", "\x80\x02K\x01K\x02."},
      {"unsupported NEWOBJ", "\x80\x02)\x81."},
      {"text protocol INT", "I1\n."},
      {"self-referencing list", "\x80\x02]q\x00h\x00a."s},
      {"persistent id not a storage", "\x80\x02X\x01\x00\x00\x00xQ."s},
      {"REDUCE of a value", "\x80\x02K\x01)R."},
      {"int keyed by list", "\x80\x02}]K\x01s."},
  };
  for (const auto& [name, bytes] : cases) EXPECT_NE(unpickle_error(bytes), "") << name;

  std::string deep = "\x80\x02";
  for (int i = 0; i < 100000; ++i) deep += "]";
  for (int i = 0; i < 99999; ++i) deep += "a";
  EXPECT_NE(unpickle_error(deep + "."), "");
}

TEST(TorchFileMalformed, TensorsMayNotReachPastTheirStorage) {
  // _rebuild_tensor_v2(storage of 4 floats, offset, size, stride, False, OrderedDict())
  const auto tensor_pickle = [](const std::string& offset, const std::string& size,
                                const std::string& stride) {
    return "\x80\x02"
           "ctorch._utils\n_rebuild_tensor_v2\n"
           "((X\x07\x00\x00\x00storage"
           "ctorch\nFloatStorage\n"
           "X\x01\x00\x00\x00"
           "0"
           "X\x03\x00\x00\x00"
           "cpu"
           "K\x04"
           "tQ"s +
           offset + size + stride +
           "\x89"
           "ccollections\nOrderedDict\n)RtR.";
  };
  EXPECT_EQ(
      unpickle(tensor_pickle("K\x00"s, "K\x02K\x02\x86", "K\x02K\x01\x86")).as_tensor().numel(), 4);
  EXPECT_NE(unpickle_error(tensor_pickle("K\x01", "K\x02K\x02\x86", "K\x02K\x01\x86"))
                .find("past its storage"),
            std::string::npos);
  EXPECT_NE(unpickle_error(tensor_pickle("K\x00"s, "K\x05\x85", "K\x01\x85")), "");
  EXPECT_NE(unpickle_error(tensor_pickle("K\x00"s, "K\x02\x85", "J\xff\xff\xff\xff\x85")), "");
  EXPECT_NE(unpickle_error(tensor_pickle("K\x00"s, "K\x02\x85", ")")), "");
}

TEST(TorchFileMalformed, ExponentialSharingIsBounded) {
  // Each list holds two references to the one below: 2^60 leaves if expanded naively.
  std::string bomb =
      "\x80\x02]q\x00"
      "0"s;
  for (int i = 1; i <= 60; ++i) {
    bomb += "]q"s + static_cast<char>(i);
    bomb += "h"s + static_cast<char>(i - 1) + "ah" + static_cast<char>(i - 1) + "a";
    if (i < 60) bomb += "0";
  }
  EXPECT_NE(unpickle_error(bomb + "."), "");
}

TEST(TorchFileMalformed, SharedObjectsSeeLaterChangesAsInPython) {
  // x = []; d = {'a': x, 'b': x}; x.append(7), in the order a pickler may emit it.
  const TorchValue d = unpickle(
      "\x80\x02}(X\x01\x00\x00\x00"
      "a]q\x00X\x01\x00\x00\x00"
      "bh\x00uh\x00K\x07"
      "a0."s);
  ASSERT_EQ(d.at("a").items().size(), 1u);
  EXPECT_EQ(d.at("a").items()[0].as_int(), 7);
  EXPECT_EQ(d.at("b").items()[0].as_int(), 7);
}
