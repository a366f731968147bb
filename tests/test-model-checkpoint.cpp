#include <ATen/ATen.h>
#include <torch/torch.h>

#include "dinet/checkpoint.h"
#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/torch_file.h"
#include "model/pickle.h"
#include "test_support.h"
#include "torch_value_support.h"

using dinet::TorchValue;
using namespace std::string_literals;
using dinet::test::TempDir;
namespace fs = std::filesystem;

namespace {

fs::path fixture(const std::string& name) {
  return dinet::test::shared_dir() / "fixtures" / "parity64" / name;
}

// Own parameter and buffer registered between two children: PyTorch lists them first.
struct TinyImpl : torch::nn::Module {
  TinyImpl() {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(2, 3, 3)));
    scale = register_parameter("scale", torch::rand({3}));
    offset = register_buffer("offset", torch::rand({3}));
    norm = register_module("norm", torch::nn::BatchNorm2d(3));
  }
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d norm{nullptr};
  at::Tensor scale, offset;
};
TORCH_MODULE(Tiny);

const std::vector<std::string> kTinyOrder = {"scale",
                                             "offset",
                                             "conv.weight",
                                             "conv.bias",
                                             "norm.weight",
                                             "norm.bias",
                                             "norm.running_mean",
                                             "norm.running_var",
                                             "norm.num_batches_tracked"};

std::vector<std::string> names(const dinet::StateDict& state) {
  std::vector<std::string> out;
  for (const auto& entry : state) out.push_back(entry.first);
  return out;
}

// Every kind the value tree has, tensors of every storage type, views sharing a storage.
TorchValue sample_value() {
  const at::Tensor base = at::arange(20, at::kFloat).reshape({4, 5});
  TorchValue tensors = TorchValue::ordered_dict();
  tensors.set("float", at::randn({3, 4}));
  tensors.set("double", at::randn({2}, at::kDouble));
  tensors.set("half", at::randn({5}).to(at::kHalf));
  tensors.set("bfloat16", at::randn({5}).to(at::kBFloat16));
  tensors.set("long", at::arange(-3, 3, at::kLong) * (int64_t{1} << 40));
  tensors.set("int", at::arange(-3, 3, at::kInt));
  tensors.set("short", at::arange(-3, 3, at::kShort));
  tensors.set("char", at::arange(-3, 3, at::kChar));
  tensors.set("byte", at::arange(250, 256, at::kByte));
  tensors.set("bool", at::arange(4) > 1);
  tensors.set("scalar", at::scalar_tensor(161, at::kLong));
  tensors.set("empty", at::empty({0, 3}));
  tensors.set("base", base);
  tensors.set("view", base.slice(0, 1).slice(1, 0, 5, 2));  // offset 5, strides (5, 2)
  tensors.set("transposed", base.t());

  TorchValue root = TorchValue::dict();
  root.set("epoch", 161);
  root.set("big", int64_t{1} << 40);
  root.set("negative", -70000);
  root.set("lowest", std::numeric_limits<int64_t>::min());
  root.set("lr", 1e-4);
  root.set("flag", true);
  root.set("nothing", TorchValue());
  root.set("name", "dinet \xe2\x9c\x93 \xc3\xbcnicode");
  root.set("betas", TorchValue::tuple({0.5, 0.999}));
  root.set("list", TorchValue::list({1, "two", 3.0, TorchValue::tuple(),
                                     TorchValue::tuple({1, 2, 3, 4, 5}), TorchValue::list()}));
  TorchValue by_int = TorchValue::dict();
  by_int.set(0, TorchValue::dict());
  by_int.set(300, "three hundred");
  root.set("by_int", std::move(by_int));
  root.set("tensors", std::move(tensors));
  return root;
}

std::string file_bytes(const fs::path& file) { return dinet::read_file(file); }

}  // namespace

TEST(Checkpoint, ReadsThePublishedFixtures) {
  DINET_REQUIRE_SHARED();
  const dinet::StateDict net_g =
      dinet::read_state_dict(fixture("dinet.pth"), {"state_dict", "net_g"});
  ASSERT_EQ(net_g.size(), 332u);
  EXPECT_EQ(net_g.front().first, "source_in_conv.0.conv.weight");
  EXPECT_EQ(net_g.front().second.sizes(), (std::vector<int64_t>{64, 3, 7, 7}));
  EXPECT_EQ(net_g.back().first, "out_conv.4.bias");
  int64_t parameters = 0, counters = 0;
  for (const auto& [name, t] : net_g) {
    EXPECT_FALSE(name.starts_with("module.")) << name;
    if (name.ends_with("num_batches_tracked")) {
      ++counters;
      EXPECT_EQ(t.scalar_type(), at::kLong);
      EXPECT_EQ(t.dim(), 0);
    } else {
      EXPECT_EQ(t.scalar_type(), at::kFloat) << name;
      if (!name.ends_with("running_mean") && !name.ends_with("running_var"))
        parameters += t.numel();
    }
  }
  EXPECT_EQ(counters, 46);
  EXPECT_EQ(parameters, 19190275);  // "19.19 M parameters"

  const TorchValue file = dinet::load_torch_file(fixture("dinet.pth"));
  EXPECT_EQ(file.at("epoch").as_int(), 161);
  EXPECT_TRUE(file.at("state_dict").at("net_g").is_ordered_dict());

  // syncnet.pth was saved with the `_metadata` attribute of state_dict() (a pickle BUILD).
  const dinet::StateDict sync =
      dinet::read_state_dict(fixture("syncnet.pth"), {"state_dict", "net"});
  ASSERT_EQ(sync.size(), 68u);
  EXPECT_EQ(sync.front().first, "face_encoder.face_conv.0.conv.weight");
  EXPECT_EQ(sync.front().second.sizes(), (std::vector<int64_t>{64, 15, 7, 7}));
  EXPECT_EQ(sync.back().first, "merge_encoder.2.bias");

  const dinet::StateDict disc =
      dinet::read_state_dict(fixture("discriminator.pth"), {"state_dict", "net_dI"});
  ASSERT_EQ(disc.size(), 10u);
  EXPECT_EQ(disc.front().first, "down_blocks.0.conv.weight");
  EXPECT_EQ(disc.front().second.sizes(), (std::vector<int64_t>{128, 3, 4, 4}));
  EXPECT_EQ(disc.back().first, "conv.bias");
}

TEST(Checkpoint, MissingPathInFileNamesWhatIsThere) {
  DINET_REQUIRE_SHARED();
  try {
    dinet::read_state_dict(fixture("dinet.pth"), {"state_dict", "net_dV"});
    FAIL();
  } catch (const dinet::Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("dinet.pth"), std::string::npos) << message;
    EXPECT_NE(message.find("['net_dV']"), std::string::npos) << message;
    EXPECT_NE(message.find("'net_g'"), std::string::npos) << message;
  }
  EXPECT_THROW(dinet::read_state_dict(fixture("dinet.pth"), {"epoch", "x"}), dinet::Error);
  EXPECT_THROW(dinet::read_state_dict(fixture("dinet.pth"), {}),
               dinet::Error);  // 'epoch' is not a tensor
}

TEST(Checkpoint, ModuleStateDictFollowsPyTorchOrder) {
  Tiny tiny;
  const dinet::StateDict state = dinet::module_state_dict(*tiny);
  EXPECT_EQ(names(state), kTinyOrder);
  EXPECT_EQ(state.back().second.scalar_type(), at::kLong);
  EXPECT_TRUE(state.front().second.is_same(tiny->scale));  // the module's own tensors
}

TEST(Checkpoint, LoadStateDictCopiesByName) {
  Tiny source, target;
  torch::NoGradGuard no_grad;
  source->norm->running_mean.fill_(0.25);
  source->norm->num_batches_tracked.fill_(7);
  dinet::StateDict state = dinet::module_state_dict(*source);
  std::reverse(state.begin(), state.end());  // order in the file does not matter
  dinet::load_state_dict(*target, state, "tiny.pth");
  for (const auto& [name, tensor] : dinet::module_state_dict(*target)) {
    const auto it =
        std::find_if(state.begin(), state.end(), [&](const auto& e) { return e.first == name; });
    EXPECT_TRUE(at::equal(tensor, it->second)) << name;
    EXPECT_FALSE(tensor.is_same(it->second)) << name;
  }
  EXPECT_TRUE(target->scale.requires_grad());
}

TEST(Checkpoint, LoadStateDictNamesEveryMismatchInOneError) {
  Tiny source, target;
  dinet::StateDict state = dinet::module_state_dict(*source);
  state.erase(state.begin());  // scale
  state.emplace_back("extra.weight", at::zeros({1}));
  for (auto& [name, tensor] : state)
    if (name == "conv.weight") tensor = at::zeros({3, 2, 2, 2});
  const at::Tensor before = target->conv->weight.clone();
  try {
    dinet::load_state_dict(*target, state, "tiny.pth");
    FAIL();
  } catch (const dinet::Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind("tiny.pth: ", 0), 0u) << message;
    EXPECT_NE(message.find("missing keys: scale"), std::string::npos) << message;
    EXPECT_NE(message.find("unexpected keys: extra.weight"), std::string::npos) << message;
    EXPECT_NE(message.find("conv.weight (file [3, 2, 2, 2], network [3, 2, 3, 3])"),
              std::string::npos)
        << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
  EXPECT_TRUE(at::equal(before, target->conv->weight)) << "nothing is copied when the load fails";
}

TEST(TorchFile, WriteReadRoundTripIsBitExact) {
  TempDir dir;
  const TorchValue original = sample_value();
  dinet::save_torch_file(dir / "sample.pth", original);
  const TorchValue back = dinet::load_torch_file(dir / "sample.pth");
  EXPECT_EQ(dinet::test::value_difference(original, back), "");
  const TorchValue& tensors = back.at("tensors");
  EXPECT_TRUE(tensors.at("view").as_tensor().storage().is_alias_of(
      tensors.at("base").as_tensor().storage()));
  EXPECT_TRUE(tensors.at("transposed")
                  .as_tensor()
                  .storage()
                  .is_alias_of(tensors.at("base").as_tensor().storage()));
  // Written again, the file is the same byte for byte: nothing depends on addresses.
  dinet::save_torch_file(dir / "again.pth", back);
  EXPECT_EQ(file_bytes(dir / "sample.pth"), file_bytes(dir / "again.pth"));
}

TEST(TorchFile, FixtureRoundTripIsBitExact) {
  DINET_REQUIRE_SHARED();
  TempDir dir;
  const TorchValue original = dinet::load_torch_file(fixture("syncnet.pth"));
  dinet::save_torch_file(dir / "syncnet.pth", original);
  EXPECT_EQ(dinet::test::value_difference(original, dinet::load_torch_file(dir / "syncnet.pth")),
            "");
}

TEST(TorchFile, PublishedLayoutsWithExtraFields) {
  TempDir dir;
  Tiny g, d;
  TorchValue optimizer = TorchValue::dict();
  optimizer.set("net_g", TorchValue::dict());
  TorchValue checkpoint = dinet::published_generator_checkpoint(
      12, {{"net_g", dinet::module_state_dict(*g)}, {"net_dI", dinet::module_state_dict(*d)}},
      optimizer);
  TorchValue meta = TorchValue::dict();
  meta.set("mouth_region_size", 256);
  meta.set("audio_feature", "deepspeech");
  checkpoint.set("dinet_meta", meta);
  dinet::save_torch_file(dir / "g.pth", checkpoint);

  const TorchValue file = dinet::load_torch_file(dir / "g.pth");
  std::vector<std::string> top;
  for (const auto& e : file.entries()) top.push_back(e.key.as_string());
  EXPECT_EQ(top, (std::vector<std::string>{"epoch", "state_dict", "optimizer", "dinet_meta"}));
  EXPECT_EQ(file.at("epoch").as_int(), 12);
  const TorchValue& net_g = file.at("state_dict").at("net_g");
  EXPECT_TRUE(net_g.is_ordered_dict());
  EXPECT_EQ(net_g.entries().front().key.as_string(), "module.scale");
  EXPECT_EQ(file.at("dinet_meta").at("audio_feature").as_string(), "deepspeech");

  const dinet::StateDict read = dinet::read_state_dict(dir / "g.pth", {"state_dict", "net_dI"});
  EXPECT_EQ(names(read), kTinyOrder);
  dinet::load_state_dict(*g, read, "g.pth");
  EXPECT_TRUE(at::equal(g->conv->weight, d->conv->weight));

  dinet::save_torch_file(dir / "s.pth",
                         dinet::published_syncnet_checkpoint(dinet::module_state_dict(*g)));
  const TorchValue sync = dinet::load_torch_file(dir / "s.pth");
  EXPECT_EQ(sync.entries().size(), 1u);
  EXPECT_EQ(sync.at("state_dict").at("net").entries().front().key.as_string(), "scale");
}

TEST(TorchFile, WriteIsAtomic) {
  TempDir dir;
  TorchValue bad = TorchValue::dict();
  bad.set("complex", at::zeros({2}, at::kComplexFloat));
  EXPECT_THROW(dinet::save_torch_file(dir / "bad.pth", bad), dinet::Error);
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(TorchFile, OldPyTorchStorageViewsAndRebuildTensor) {
  // PyTorch <= 0.3 legacy files: _rebuild_tensor(storage, offset, size, stride), where the
  // storage may be a view (view_key, offset, numel) of a root storage.
  const std::string pickle =
      "\x80\x02"
      "ctorch._utils\n_rebuild_tensor\n"
      "((X\x07\x00\x00\x00storage"
      "ctorch\nFloatStorage\n"
      "X\x01\x00\x00\x00"
      "0"
      "X\x03\x00\x00\x00"
      "cpu"
      "K\x06"
      "X\x01\x00\x00\x00"
      "1"
      "K\x02K\x03\x87"
      "tQ"
      "K\x01K\x02\x85K\x01\x85tR."s;
  int loads = 0;
  const TorchValue value = dinet::pickle::load(pickle, [&](const dinet::pickle::StorageRef& ref) {
    ++loads;
    EXPECT_EQ(ref.key, "0");
    EXPECT_EQ(ref.numel, 6);
    return at::arange(ref.numel, at::TensorOptions().dtype(ref.dtype));
  });
  EXPECT_EQ(loads, 1);
  // View [2, 5) of the root, then elements [1, 3) of the view.
  EXPECT_TRUE(at::equal(value.as_tensor(), at::tensor({3.f, 4.f})));
}
