"""Reference numbers for dinet's LPIPS and FID networks (tests/test-eval-perceptual.cpp).

Writes, into the directory given, weight files with random values in the published key
layouts -- torchvision's AlexNet and VGG16 `features`, the lpips package's heads (alex.pth,
vgg.pth), pytorch-fid's pt_inception (with its 1008-class fc) -- plus inputs.pt and what
PyTorch computes from them (expected.pt): the LPIPS distances (lpips 0.1) and the 2048-d
pool3 features of pytorch-fid's FID Inception. Needs torch only; with --check-torchvision
it also checks the networks written here against torchvision's own (needs torchvision).
"""
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)


# ---- LPIPS: torchvision's features, lpips' ScalingLayer, normalize_tensor and NetLinLayer ----
def features(layout):
    layers, channels = [], 3
    for spec in layout:
        if spec[0] == "M":
            layers.append(nn.MaxPool2d(kernel_size=spec[1], stride=spec[2]))
        else:
            out, kernel, stride, padding = spec
            layers += [nn.Conv2d(channels, out, kernel, stride, padding), nn.ReLU(inplace=True)]
            channels = out
    return nn.Sequential(*layers)


ALEX = [(64, 11, 4, 2), ("M", 3, 2), (192, 5, 1, 2), ("M", 3, 2), (384, 3, 1, 1), (256, 3, 1, 1),
        (256, 3, 1, 1), ("M", 3, 2)]
VGG16 = []
for block in [[64] * 2, [128] * 2, [256] * 3, [512] * 3, [512] * 3]:
    VGG16 += [(c, 3, 1, 1) for c in block] + [("M", 2, 2)]
TAPS = {"alex": [1, 4, 7, 9, 11], "vgg16": [3, 8, 15, 22, 29]}
CHANNELS = {"alex": [64, 192, 384, 256, 256], "vgg16": [64, 128, 256, 512, 512]}


class NetLinLayer(nn.Module):
    def __init__(self, chn_in):
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(chn_in, 1, 1, stride=1, padding=0, bias=False))


class Heads(nn.Module):
    def __init__(self, channels):
        super().__init__()
        for k, c in enumerate(channels):
            setattr(self, "lin%d" % k, NetLinLayer(c))


def lpips(feats, heads, taps, in0, in1):
    shift = torch.tensor([-.030, -.088, -.188])[None, :, None, None]
    scale = torch.tensor([.458, .448, .450])[None, :, None, None]

    def outputs(x):
        x, out = (2 * x - 1 - shift) / scale, []
        for i, layer in enumerate(feats):
            x = layer(x.clone())  # clone: the in-place ReLU must not touch a tap kept earlier
            if i in taps:
                out.append(x)
            if i == taps[-1]:
                return out

    def normalize_tensor(x, eps=1e-10):
        return x / (torch.sqrt(torch.sum(x ** 2, dim=1, keepdim=True)) + eps)

    total = 0
    for k, (f0, f1) in enumerate(zip(outputs(in0), outputs(in1))):
        diff = (normalize_tensor(f0) - normalize_tensor(f1)) ** 2
        total = total + getattr(heads, "lin%d" % k).model(diff).mean([2, 3], keepdim=True)
    return total.flatten()


# ---- FID: torchvision's Inception3 blocks with pytorch-fid's patches ----
class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)), inplace=True)


def avg_pool(x):
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class FIDInceptionA(nn.Module):
    def __init__(self, cin, pool_features):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, kernel_size=1)

    def forward(self, x):
        return torch.cat([self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
                          self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          self.branch_pool(avg_pool(x))], 1)


class InceptionB(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x):
        return torch.cat([self.branch3x3(x), self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class FIDInceptionC(nn.Module):
    def __init__(self, cin, c7):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d7 = x
        for k in range(1, 6):
            d7 = getattr(self, "branch7x7dbl_%d" % k)(d7)
        return torch.cat([self.branch1x1(x), b7, d7, self.branch_pool(avg_pool(x))], 1)


class InceptionD(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x):
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class FIDInceptionE(nn.Module):
    def __init__(self, cin, max_pool):  # max_pool: FIDInceptionE_2, else FIDInceptionE_1
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(cin, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x):
        b3 = self.branch3x3_1(x)
        d3 = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool else avg_pool(x)
        return torch.cat([self.branch1x1(x), self.branch3x3_2a(b3), self.branch3x3_2b(b3),
                          self.branch3x3dbl_3a(d3), self.branch3x3dbl_3b(d3), self.branch_pool(pooled)], 1)


class FIDInception(nn.Module):
    """fid_inception_v3(): Inception3(num_classes=1008, aux_logits=False) with the FID blocks."""

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = FIDInceptionA(192, 32)
        self.Mixed_5c = FIDInceptionA(256, 64)
        self.Mixed_5d = FIDInceptionA(288, 64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = FIDInceptionC(768, 128)
        self.Mixed_6c = FIDInceptionC(768, 160)
        self.Mixed_6d = FIDInceptionC(768, 160)
        self.Mixed_6e = FIDInceptionC(768, 192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = FIDInceptionE(1280, False)
        self.Mixed_7c = FIDInceptionE(2048, True)
        self.fc = nn.Linear(2048, 1008)

    def blocks(self):  # pytorch-fid's InceptionV3 blocks 0..3
        pool = nn.MaxPool2d(kernel_size=3, stride=2)
        return [self.Conv2d_1a_3x3, self.Conv2d_2a_3x3, self.Conv2d_2b_3x3, pool, self.Conv2d_3b_1x1,
                self.Conv2d_4a_3x3, pool, self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a,
                self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b,
                self.Mixed_7c, nn.AdaptiveAvgPool2d(output_size=(1, 1))]


def pool3(blocks, x):  # InceptionV3(resize_input=True, normalize_input=True), block 3
    x = 2 * F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False) - 1
    for block in blocks:
        x = block(x)
    return x.flatten(1)


def randomize(net):
    """He-scaled convolutions and non-trivial BatchNorm statistics keep deep activations in range."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            fan_in = m.weight[0].numel()
            nn.init.normal_(m.weight, std=(2.0 / fan_in) ** 0.5)
            if m.bias is not None:
                nn.init.uniform_(m.bias, -0.1, 0.1)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.weight, 0.8, 1.2)
            nn.init.uniform_(m.bias, -0.1, 0.1)
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.8, 1.2)
    return net.eval()


def heads(channels):
    h = Heads(channels)
    for p in h.parameters():  # trained lpips weights are non-negative
        nn.init.uniform_(p, 0.0, 0.2)
    return h.eval()


def main(out, check_torchvision):
    alex, vgg = randomize(features(ALEX)), randomize(features(VGG16))
    alex_heads, vgg_heads = heads(CHANNELS["alex"]), heads(CHANNELS["vgg16"])
    inception = randomize(FIDInception())
    # The published backbones carry a classifier the loader ignores; a small stand-in keeps the
    # files small (full size would be 150 MB and 400 MB). The AlexNet file is in the legacy format,
    # as old torchvision files are.
    alex_state = {"features." + k: v for k, v in alex.state_dict().items()}
    alex_state["classifier.1.weight"] = torch.zeros(4, 9216)
    torch.save(alex_state, out + "/alexnet.pth", _use_new_zipfile_serialization=False)
    torch.save({"features." + k: v for k, v in vgg.state_dict().items()}, out + "/vgg16.pth")
    torch.save(alex_heads.state_dict(), out + "/alex.pth")
    torch.save(vgg_heads.state_dict(), out + "/vgg.pth")
    torch.save(inception.state_dict(), out + "/pt_inception.pth")

    a, b = torch.rand(2, 3, 96, 80), torch.rand(2, 3, 96, 80)
    faces = torch.rand(2, 3, 120, 100)
    with torch.no_grad():
        expected = {"lpips_alex": lpips(alex, alex_heads, TAPS["alex"], a, b),
                    "lpips_vgg16": lpips(vgg, vgg_heads, TAPS["vgg16"], a, b),
                    "pool3": pool3(inception.blocks(), faces)}
    torch.save({"a": a, "b": b, "faces": faces}, out + "/inputs.pt")
    torch.save(expected, out + "/expected.pt")
    print({k: v.flatten()[:3].tolist() for k, v in expected.items()})

    if check_torchvision:  # the same weights in torchvision's own networks
        import torchvision
        tv_alex, tv_vgg = torchvision.models.alexnet(), torchvision.models.vgg16()
        tv_alex.features.load_state_dict(alex.state_dict())
        tv_vgg.features.load_state_dict(vgg.state_dict())
        with torch.no_grad():
            print("alex vs torchvision", (lpips(tv_alex.features.eval(), alex_heads, TAPS["alex"], a, b)
                                          - expected["lpips_alex"]).abs().max().item())
            print("vgg16 vs torchvision", (lpips(tv_vgg.features.eval(), vgg_heads, TAPS["vgg16"], a, b)
                                           - expected["lpips_vgg16"]).abs().max().item())
        tv = torchvision.models.inception.Inception3(num_classes=1008, aux_logits=False, init_weights=False)
        tv.Mixed_5b, tv.Mixed_5c, tv.Mixed_5d = inception.Mixed_5b, inception.Mixed_5c, inception.Mixed_5d
        tv.Mixed_6b, tv.Mixed_6c = inception.Mixed_6b, inception.Mixed_6c
        tv.Mixed_6d, tv.Mixed_6e = inception.Mixed_6d, inception.Mixed_6e
        tv.Mixed_7b, tv.Mixed_7c = inception.Mixed_7b, inception.Mixed_7c
        tv.load_state_dict(torch.load(out + "/pt_inception.pth"))  # strict: same keys and shapes
        tv.eval()
        pool = nn.MaxPool2d(kernel_size=3, stride=2)
        blocks = [tv.Conv2d_1a_3x3, tv.Conv2d_2a_3x3, tv.Conv2d_2b_3x3, pool, tv.Conv2d_3b_1x1, tv.Conv2d_4a_3x3,
                  pool, tv.Mixed_5b, tv.Mixed_5c, tv.Mixed_5d, tv.Mixed_6a, tv.Mixed_6b, tv.Mixed_6c, tv.Mixed_6d,
                  tv.Mixed_6e, tv.Mixed_7a, tv.Mixed_7b, tv.Mixed_7c, nn.AdaptiveAvgPool2d(output_size=(1, 1))]
        with torch.no_grad():
            print("inception vs torchvision", (pool3(blocks, faces) - expected["pool3"]).abs().max().item())


if __name__ == "__main__":
    main(sys.argv[1], "--check-torchvision" in sys.argv[2:])
