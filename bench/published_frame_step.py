#!/usr/bin/python3
"""The published DINet frame-training step (train_DINet_frame.py, reference section 5) in
plain PyTorch, as the speed baseline for `dinet-bench train-frame`.

The networks are re-declared here with the published state-dict names (so the parity
fixture loads strictly, see --check), because the published repository is not vendored.
The step is the published one, quirks included: the discriminator loss is back-propagated
through the generator (its gradients are thrown away by the generator's zero_grad), and
VGG19 runs on all four images with autograd on. VGG weights are random: the speed of a
convolution does not depend on its weights, and torchvision is not installed.

  published_frame_step.py --mouth 64 --batch 4 --steps 5 --threads 2   -> one JSON line
  published_frame_step.py --check ../shared/fixtures/parity64          -> parity with PyTorch
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def conv_norm(dim, cin, cout, k, p, stride=1):
    conv = (nn.Conv1d if dim == 1 else nn.Conv2d)(cin, cout, k, stride=stride, padding=p)
    norm = (nn.BatchNorm1d if dim == 1 else nn.BatchNorm2d)(cout)
    return conv, norm


class Same(nn.Module):  # conv -> BN -> ReLU (stride 1, or 2 for Down)
    def __init__(self, cin, cout, k=3, p=1, dim=2, stride=1):
        super().__init__()
        self.conv, self.norm = conv_norm(dim, cin, cout, k, p, stride)

    def forward(self, x):
        return F.relu(self.norm(self.conv(x)))


def Down(cin, cout, dim=2):
    return Same(cin, cout, 3, 1, dim, stride=2)


class Res(nn.Module):  # pre-activation residual block
    def __init__(self, cin, cout, k=3, p=1, dim=2):
        super().__init__()
        Conv = nn.Conv1d if dim == 1 else nn.Conv2d
        Norm = nn.BatchNorm1d if dim == 1 else nn.BatchNorm2d
        self.conv1, self.conv2 = Conv(cin, cin, k, padding=p), Conv(cin, cout, k, padding=p)
        self.channel_conv = Conv(cin, cout, 1) if cin != cout else None
        self.norm1, self.norm2 = Norm(cin), Norm(cin)

    def forward(self, x):
        out = self.conv2(F.relu(self.norm2(self.conv1(F.relu(self.norm1(x))))))
        return out + (self.channel_conv(x) if self.channel_conv is not None else x)


class Up(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv, self.norm = conv_norm(2, cin, cout, 3, 1)

    def forward(self, x):
        return F.relu(self.norm(self.conv(F.interpolate(x, scale_factor=2))))


class AdaAT(nn.Module):
    def __init__(self, para, feat):
        super().__init__()
        self.feat = feat
        self.commn_linear = nn.Sequential(nn.Linear(para, para), nn.ReLU())
        self.scale = nn.Sequential(nn.Linear(para, feat), nn.Sigmoid())
        self.rotation = nn.Sequential(nn.Linear(para, feat), nn.Tanh())
        self.translation = nn.Sequential(nn.Linear(para, 2 * feat), nn.Tanh())

    def forward(self, fmap, code):
        # As published: every per-channel parameter is repeated over (h, w) before one
        # matmul, and the warp is one 5-D grid_sample (align_corners=False).
        b, d, h, w = fmap.shape
        code = self.commn_linear(code)
        scale = self.scale(code).unsqueeze(-1) * 2
        angle = self.rotation(code).unsqueeze(-1) * 3.14159
        rot = torch.cat([angle.cos(), -angle.sin(), angle.sin(), angle.cos()], -1).view(b, d, 2, 2)
        trans = self.translation(code).view(b, d, 2)
        lin = lambda n: 2 * (torch.arange(n, dtype=fmap.dtype, device=fmap.device) / (n - 1)) - 1
        xx = lin(w).view(1, 1, -1).repeat(d, h, 1)
        yy = lin(h).view(1, -1, 1).repeat(d, 1, w)
        zz = lin(d).view(-1, 1, 1).repeat(1, h, w)
        xy = torch.stack([xx, yy], 3).unsqueeze(0).repeat(b, 1, 1, 1, 1)
        zz = zz.unsqueeze(0).repeat(b, 1, 1, 1)
        scale = scale.unsqueeze(2).unsqueeze(3).repeat(1, 1, h, w, 1)
        rot = rot.unsqueeze(2).unsqueeze(3).repeat(1, 1, h, w, 1, 1)
        trans = trans.unsqueeze(2).unsqueeze(3).repeat(1, 1, h, w, 1)
        warped = torch.matmul(rot, xy.unsqueeze(-1)).squeeze(-1) * scale + trans
        grid = torch.cat([warped, zz.unsqueeze(-1)], -1)
        return F.grid_sample(fmap.unsqueeze(1), grid, align_corners=False).squeeze(1)


class DINet(nn.Module):
    def __init__(self, audio_channel=29):
        super().__init__()
        enc = lambda cin: nn.Sequential(Same(cin, 64, 7, 3), Down(64, 128), Down(128, 256))
        self.source_in_conv, self.ref_in_conv = enc(3), enc(15)
        self.trans_conv = nn.Sequential(
            Same(512, 128), Same(128, 128, 11, 5), Same(128, 128, 11, 5), Down(128, 128),
            Same(128, 128, 7, 3), Same(128, 128, 7, 3), Down(128, 128),
            Same(128, 128), Down(128, 128), Same(128, 128), Down(128, 128))
        self.audio_encoder = nn.Sequential(
            Same(audio_channel, 128, 5, 2, dim=1), Res(128, 128, dim=1), Down(128, 128, dim=1),
            Res(128, 128, dim=1), Down(128, 128, dim=1), Same(128, 128, dim=1))
        self.appearance_conv_list = nn.ModuleList(
            [nn.Sequential(*[Res(256, 256) for _ in range(4)]) for _ in range(2)])
        self.adaAT = AdaAT(256, 256)
        self.out_conv = nn.Sequential(Same(512, 128), Up(128, 128), Res(128, 128), Up(128, 128),
                                      nn.Conv2d(128, 3, 7, padding=3), nn.Sigmoid())

    def forward(self, source, ref, audio):
        s, f = self.source_in_conv(source), self.ref_in_conv(ref)
        p_img = self.trans_conv(torch.cat([s, f], 1)).mean((2, 3))
        p_aud = self.audio_encoder(audio).mean(2)
        g = self.appearance_conv_list[0](f)
        g = self.appearance_conv_list[1](self.adaAT(g, torch.cat([p_img, p_aud], 1)))
        return self.out_conv(torch.cat([s, g], 1))


class Discriminator(nn.Module):
    def __init__(self, cin):
        super().__init__()
        chans = [cin, 128, 256, 256, 256]
        self.down_blocks = nn.ModuleList()
        for i in range(4):
            block = nn.Module()
            block.conv = nn.Conv2d(chans[i], chans[i + 1], 4)
            self.down_blocks.append(block)
        self.conv = nn.Conv2d(256, 1, 1)

    def forward(self, x):
        feats = []
        for i, block in enumerate(self.down_blocks):
            x = F.leaky_relu(block.conv(x), 0.2)
            if i < 3:
                x = F.avg_pool2d(x, 2)
            feats.append(x)
        return feats, self.conv(x)


class VGG19Slices(nn.Module):  # torchvision vgg19.features[0:30], cut after the relu_x_1
    CFG = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512]
    CUTS = [2, 7, 12, 21, 30]

    def __init__(self):
        super().__init__()
        layers, cin = [], 3
        for v in self.CFG:
            if v == 'M':
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=True)]
                cin = v
        self.features = nn.Sequential(*layers[:30])
        self.register_buffer('mean', torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer('std', torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        for p in self.parameters():
            p.requires_grad = False

    def forward(self, x):
        x, out, start = (x - self.mean) / self.std, [], 0
        for cut in self.CUTS:
            for layer in self.features[start:cut]:
                x = layer(x)
            out.append(x)
            start = cut
        return out


def published_step(net_g, net_d, vgg, opt_g, opt_d, real, masked, refs, audio):
    mse, l1 = nn.MSELoss(), nn.L1Loss()
    fake = net_g(masked, refs, audio)
    fake_half = F.avg_pool2d(fake, 3, 2, 1, count_include_pad=False)
    real_half = F.interpolate(real, scale_factor=0.5, mode='bilinear')
    opt_d.zero_grad()
    _, pf = net_d(fake)
    _, pr = net_d(real)
    loss_d = (mse(pf, torch.zeros_like(pf)) + mse(pr, torch.ones_like(pr))) * 0.5
    loss_d.backward(retain_graph=True)
    opt_d.step()
    _, pf = net_d(fake)
    opt_g.zero_grad()
    vr, vf, vrh, vfh = vgg(real), vgg(fake), vgg(real_half), vgg(fake_half)
    perc = sum(l1(vf[i], vr[i]) + l1(vfh[i], vrh[i]) for i in range(5)) / 10 * 10
    loss_g = perc + mse(pf, torch.ones_like(pf))
    loss_g.backward()
    opt_g.step()
    return float(loss_d), float(loss_g)


def face_size(m):
    r = m // 2
    return 3 * r + r // 4, 2 * r + 2 * (r // 4)


def bench(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    h, w = face_size(args.mouth)
    dev = torch.device(args.device)
    net_g, net_d, vgg = DINet(29).to(dev), Discriminator(3).to(dev), VGG19Slices().to(dev)
    opt_g = torch.optim.Adam(net_g.parameters(), lr=1e-4)
    opt_d = torch.optim.Adam(net_d.parameters(), lr=1e-4)
    b = args.batch
    real = torch.rand(b, 3, h, w)
    masked = real.clone()
    r, q = args.mouth // 2, args.mouth // 8
    masked[:, :, r:r + args.mouth, q:q + args.mouth] = 0
    refs, audio = torch.rand(b, 15, h, w), torch.randn(b, 29, 5)
    real, masked, refs, audio = (t.to(dev) for t in (real, masked, refs, audio))
    for _ in range(args.warmup):
        published_step(net_g, net_d, vgg, opt_g, opt_d, real, masked, refs, audio)
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        published_step(net_g, net_d, vgg, opt_g, opt_d, real, masked, refs, audio)
        times.append(time.perf_counter() - t)
    med = sorted(times)[len(times) // 2]
    print(json.dumps({'mouth': args.mouth, 'batch': b, 'threads': args.threads, 'device': args.device,
                      'torch': torch.__version__, 'step_s_median': med,
                      'samples_per_s': b / med, 'steps': args.steps}))


def check(fixtures):
    ckpt = torch.load(os.path.join(fixtures, 'dinet.pth'), map_location='cpu')
    state = {k[len('module.'):]: v for k, v in ckpt['state_dict']['net_g'].items()}
    net = DINet(29)
    net.load_state_dict(state, strict=True)
    net.eval()
    load = lambda n: torch.from_numpy(np.load(os.path.join(fixtures, n)))
    with torch.no_grad():
        out = net(load('dinet_source.npy'), load('dinet_reference.npy'), load('dinet_audio.npy'))
    diff = float((out - load('dinet_out_eval.npy')).abs().max())
    print(json.dumps({'parity_max_abs_diff': diff}))
    return 0 if diff < 1e-4 else 1


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--mouth', type=int, default=64)
    ap.add_argument('--batch', type=int, default=4)
    ap.add_argument('--steps', type=int, default=5)
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    ap.add_argument('--device', default='cpu', help='cpu or cuda (the losses are read back each step)')
    ap.add_argument('--check', metavar='FIXTURE_DIR')
    a = ap.parse_args()
    raise SystemExit(check(a.check) if a.check else bench(a))
