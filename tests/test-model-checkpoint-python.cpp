// Interoperability with Python's torch.save / torch.load, where a python3 with torch exists:
// Python reads what we write (also with weights_only=True, and the published way of
// loading: strip "module.", load_state_dict strictly), and we read what Python writes in
// the zip format, the legacy format and with pickle protocol 4.
#include <ATen/ATen.h>
#include <torch/torch.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "dinet/checkpoint.h"
#include "dinet/error.h"
#include "dinet/files.h"
#include "dinet/torch_file.h"
#include "python_support.h"
#include "test_support.h"
#include "torch_value_support.h"

using dinet::TorchValue;
using dinet::test::TempDir;
namespace fs = std::filesystem;

namespace {

// The same module on both sides: an own parameter and buffer registered between children.
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

constexpr const char* kPythonTiny = R"(
import collections, sys, torch

class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 3)
        self.scale = torch.nn.Parameter(torch.rand(3))
        self.register_buffer('offset', torch.rand(3))
        self.norm = torch.nn.BatchNorm2d(3)

def pattern(i, like):
    return (torch.arange(like.numel(), dtype=torch.float64) * 0.25 + i).to(like.dtype).reshape(like.shape)
)";

at::Tensor pattern(int64_t i, const at::Tensor& like) {
  return (at::arange(like.numel(), at::kDouble) * 0.25 + static_cast<double>(i))
      .to(like.scalar_type())
      .reshape(like.sizes());
}

// Adam's state_dict() as PyTorch 1.13 lays it out, for the Tiny module's five parameters.
TorchValue adam_state(const at::Tensor& first_param) {
  TorchValue slot = TorchValue::dict();
  slot.set("step", at::scalar_tensor(3.0));
  slot.set("exp_avg", at::full_like(first_param, 0.5));
  slot.set("exp_avg_sq", at::full_like(first_param, 0.25));
  TorchValue state = TorchValue::dict();
  state.set(0, slot);
  TorchValue group = TorchValue::dict();
  group.set("lr", 1e-4);
  group.set("betas", TorchValue::tuple({0.5, 0.999}));
  group.set("eps", 1e-8);
  group.set("weight_decay", 0);
  group.set("amsgrad", false);
  group.set("foreach", TorchValue());
  group.set("params", TorchValue::list({0, 1, 2, 3, 4}));
  TorchValue adam = TorchValue::dict();
  adam.set("state", state);
  adam.set("param_groups", TorchValue::list({group}));
  return adam;
}

}  // namespace

TEST(CheckpointPython, PythonLoadsOurPublishedCheckpoint) {
  DINET_REQUIRE_PYTHON(python, "torch");
  TempDir dir;
  Tiny g, d;
  dinet::StateDict net_g = dinet::module_state_dict(*g);
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < net_g.size(); ++i)
      net_g[i].second.copy_(pattern(static_cast<int64_t>(i), net_g[i].second));
  }
  TorchValue optimizer = TorchValue::dict();
  optimizer.set("net_g", adam_state(g->scale));
  TorchValue checkpoint = dinet::published_generator_checkpoint(
      12, {{"net_g", net_g}, {"net_dI", dinet::module_state_dict(*d)}}, optimizer);
  TorchValue meta = TorchValue::dict();
  meta.set("mouth_region_size", 256);
  meta.set("audio_feature", "deepspeech");
  checkpoint.set("dinet_meta", meta);
  dinet::save_torch_file(dir / "ours.pth", checkpoint);

  const auto result =
      dinet::test::run_python(python, dir, std::string(kPythonTiny) + R"(
path, out = sys.argv[1], sys.argv[2]
# PyTorch 1.13's weights_only unpickler lacks BINFLOAT, so it refuses any float (the
# optimizer's lr), also in files Python itself saved; 2.x reads them.
modes = [{}] + ([{'weights_only': True}] if int(torch.__version__.split('.')[0]) >= 2 else [])
for kwargs in modes:
    ck = torch.load(path, **kwargs)
    assert list(ck.keys()) == ['epoch', 'state_dict', 'optimizer', 'dinet_meta'], list(ck.keys())
    assert ck['epoch'] == 12 and type(ck['epoch']) is int
    assert ck['dinet_meta'] == {'mouth_region_size': 256, 'audio_feature': 'deepspeech'}, ck['dinet_meta']
    sd = ck['state_dict']['net_g']
    assert type(sd) is collections.OrderedDict
    m = Tiny()
    assert list(sd.keys()) == ['module.' + k for k in m.state_dict()], (list(sd), list(m.state_dict()))
    # What the published inference code does: strip 'module.', load strictly.
    m.load_state_dict(collections.OrderedDict((k[7:], v) for k, v in sd.items()))
    for i, (k, v) in enumerate(m.state_dict().items()):
        assert torch.equal(v, pattern(i, v)), k
    assert m.norm.num_batches_tracked.dtype == torch.int64
    opt = torch.optim.Adam(m.parameters(), lr=1)
    opt.load_state_dict(ck['optimizer']['net_g'])
    assert opt.param_groups[0]['lr'] == 1e-4 and opt.param_groups[0]['betas'] == (0.5, 0.999)
    assert float(opt.state[m.scale]['step']) == 3 and torch.all(opt.state[m.scale]['exp_avg'] == 0.5)
torch.save(ck, out)
print('ok')
)",
                              (dir / "ours.pth").string() + " " + (dir / "python.pth").string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  // Python's own torch.save of what it read gives back exactly what we wrote.
  EXPECT_EQ(dinet::test::value_difference(checkpoint, dinet::load_torch_file(dir / "python.pth")),
            "");
}

TEST(CheckpointPython, PythonReadsOurCopyOfTheFixtureBitExact) {
  DINET_REQUIRE_SHARED();
  DINET_REQUIRE_PYTHON(python, "torch");
  TempDir dir;
  const fs::path fixture = dinet::test::shared_dir() / "fixtures" / "parity64" / "dinet.pth";
  const dinet::StateDict net_g = dinet::read_state_dict(fixture, {"state_dict", "net_g"});
  dinet::save_torch_file(dir / "copy.pth",
                         dinet::published_generator_checkpoint(161, {{"net_g", net_g}}));
  const auto result = dinet::test::run_python(python, dir, R"(
import sys, torch
ours = torch.load(sys.argv[1], weights_only=True)
theirs = torch.load(sys.argv[2])
assert ours['epoch'] == theirs['epoch']
a, b = ours['state_dict']['net_g'], theirs['state_dict']['net_g']
assert list(a) == list(b) and len(a) == 332
for k in a:
    assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and torch.equal(a[k], b[k]), k
)",
                                              (dir / "copy.pth").string() + " " + fixture.string());
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

TEST(CheckpointPython, WeReadWhatPythonWritesInEveryFormat) {
  DINET_REQUIRE_PYTHON(python, "torch");
  TempDir dir;
  const auto result = dinet::test::run_python(python, dir, std::string(kPythonTiny) + R"(
import json
torch.manual_seed(0)
m = Tiny()
opt = torch.optim.Adam(m.parameters(), lr=1e-3, betas=(0.5, 0.999))
sum(p.sum() for p in m.parameters()).backward()
opt.step()
base = torch.arange(20.).reshape(4, 5)
obj = {
    'epoch': 5,
    'state_dict': {'net': m.state_dict()},
    'optimizer': opt.state_dict(),
    'tensors': collections.OrderedDict([
        ('half', torch.arange(6, dtype=torch.half).reshape(2, 3)),
        ('bfloat16', torch.arange(4, dtype=torch.bfloat16)),
        ('int', torch.arange(-3, 3, dtype=torch.int32)),
        ('uint8', torch.arange(250, 256, dtype=torch.uint8)),
        ('bool', torch.arange(4) > 1),
        ('double', torch.arange(3, dtype=torch.float64) / 3),
        ('scalar', torch.tensor(2.5)),
        ('empty', torch.empty(0, 3)),
        ('base', base),
        ('view', base[1:, ::2]),
        ('transposed', base.t()),
    ]),
    'misc': [None, True, 1.5, 'text', (1, 2), -(2 ** 40), 2 ** 62, {'nested': [1]}],
}
d = sys.argv[1]
torch.save(obj, d + '/zip.pth')
torch.save(obj, d + '/legacy.pth', _use_new_zipfile_serialization=False)
torch.save(obj, d + '/protocol4.pth', pickle_protocol=4)
vgg = collections.OrderedDict([('features.0.weight', torch.ones(64, 3, 3, 3)), ('features.0.bias', torch.zeros(64))])
torch.save(vgg, d + '/vgg.pth', _use_new_zipfile_serialization=False)
json.dump({k: v.double().flatten().tolist() for k, v in m.state_dict().items()}, open(d + '/net.json', 'w'))
)",
                                              dir.path().string());
  ASSERT_EQ(result.exit_code, 0) << result.output;

  const TorchValue zip = dinet::load_torch_file(dir / "zip.pth");
  EXPECT_EQ(dinet::test::value_difference(zip, dinet::load_torch_file(dir / "legacy.pth")), "");
  EXPECT_EQ(dinet::test::value_difference(zip, dinet::load_torch_file(dir / "protocol4.pth")), "");

  // state_dict() with its `_metadata` attribute, values as Python has them.
  const dinet::StateDict net = dinet::read_state_dict(dir / "legacy.pth", {"state_dict", "net"});
  const auto expected = nlohmann::json::parse(dinet::read_file(dir / "net.json"));
  ASSERT_EQ(net.size(), expected.size());
  Tiny tiny;
  std::vector<std::string> order;
  for (const auto& [name, tensor] : dinet::module_state_dict(*tiny)) order.push_back(name);
  for (size_t i = 0; i < net.size(); ++i) {
    const auto& [name, tensor] = net[i];
    EXPECT_EQ(name, order[i]);
    const auto values = expected.at(name).get<std::vector<double>>();
    EXPECT_TRUE(at::equal(tensor.to(at::kDouble).flatten(), at::tensor(values, at::kDouble)))
        << name;
  }
  dinet::load_state_dict(*tiny, net, "legacy.pth");

  const TorchValue& tensors = zip.at("tensors");
  const at::Tensor base = at::arange(20, at::kFloat).reshape({4, 5});
  EXPECT_TRUE(at::equal(tensors.at("view").as_tensor(), base.slice(0, 1).slice(1, 0, 5, 2)));
  EXPECT_TRUE(tensors.at("view").as_tensor().storage().is_alias_of(
      tensors.at("base").as_tensor().storage()));
  EXPECT_TRUE(at::equal(tensors.at("half").as_tensor(), at::arange(6, at::kHalf).reshape({2, 3})));
  EXPECT_TRUE(at::equal(tensors.at("bool").as_tensor(), at::arange(4) > 1));
  EXPECT_EQ(tensors.at("scalar").as_tensor().dim(), 0);
  const TorchValue& misc = zip.at("misc");
  EXPECT_EQ(misc.items()[5].as_int(), -(int64_t{1} << 40));
  EXPECT_EQ(misc.items()[6].as_int(), int64_t{1} << 62);
  EXPECT_EQ(misc.items()[7].at("nested").items()[0].as_int(), 1);
  const TorchValue& group = zip.at("optimizer").at("param_groups").items()[0];
  EXPECT_EQ(group.at("lr").as_double(), 1e-3);
  EXPECT_EQ(group.at("params").items().size(), 5u);
  EXPECT_EQ(zip.at("optimizer").at("state").at(0).at("exp_avg").as_tensor().sizes(),
            tiny->scale.sizes());

  // torchvision's VGG weights are a bare state dict in the legacy format.
  const dinet::StateDict vgg = dinet::read_state_dict(dir / "vgg.pth", {});
  ASSERT_EQ(vgg.size(), 2u);
  EXPECT_EQ(vgg[0].first, "features.0.weight");
  EXPECT_TRUE(at::equal(vgg[0].second, at::ones({64, 3, 3, 3})));

  // Every truncation of a legacy file is one clear error.
  const std::string legacy = dinet::read_file(dir / "legacy.pth");
  for (size_t length = 0; length < legacy.size(); length += 7) {
    std::ofstream(dir / "cut.pth", std::ios::binary | std::ios::trunc) << legacy.substr(0, length);
    EXPECT_THROW(dinet::load_torch_file(dir / "cut.pth"), dinet::Error) << "length " << length;
  }
}
