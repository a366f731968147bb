#!/usr/bin/python3
"""The published DINet inference loop (inference.py, reference sections 1-3) in plain
PyTorch, as the speed baseline for `dinet-bench infer`: one frame at a time, float32, every
branch of the generator recomputed for every frame (the reference images go through
ref_in_conv and appearance_conv_list.0 again each time), output copied back to the CPU and
scaled to 0..255 as the script does before writing it.

The network is the one bench/published_frame_step.py declares with the published
state-dict names (so `--check` loads the parity fixture strictly). Weights are random: the
speed of a convolution does not depend on its weights.

  published_inference.py --mouth 256 --frames 3 --threads 2   -> one JSON line
  published_inference.py --check ../shared/fixtures/parity64  -> parity with the fixture
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from published_frame_step import DINet, face_size  # noqa: E402


def published_frame(model, source, refs, audio):
    # inference.py: masked crop, the five references and a 5-frame feature window per frame.
    with torch.no_grad():
        pre_frame = model(source, refs, audio)
        return pre_frame.squeeze(0).permute(1, 2, 0).detach().cpu().numpy() * 255


def bench(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    h, w = face_size(args.mouth)
    dev = torch.device(args.device)
    model = DINet(args.audio_channel).eval().to(dev)
    m, r, q = args.mouth, args.mouth // 2, args.mouth // 8
    source = torch.rand(1, 3, h, w)
    source[:, :, r:r + m, q:q + m] = 0
    refs = torch.rand(1, 15, h, w)
    audio = torch.randn(1, args.audio_channel, 5)
    source, refs, audio = source.to(dev), refs.to(dev), audio.to(dev)
    published_frame(model, source, refs, audio)  # warm-up
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(args.frames):
        published_frame(model, source, refs, audio)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(json.dumps({'mouth': args.mouth, 'threads': args.threads, 'device': args.device, 'torch': torch.__version__,
                      'frames': args.frames, 'seconds': wall, 'cpu_seconds': cpu,
                      'frames_per_s': args.frames / wall}))


def check(fixtures):
    ckpt = torch.load(os.path.join(fixtures, 'dinet.pth'), map_location='cpu')
    state = {k[len('module.'):]: v for k, v in ckpt['state_dict']['net_g'].items()}
    model = DINet(29)
    model.load_state_dict(state, strict=True)
    model.eval()
    load = lambda n: torch.from_numpy(np.load(os.path.join(fixtures, n)))[:1]
    out = published_frame(model, load('dinet_source.npy'), load('dinet_reference.npy'), load('dinet_audio.npy'))
    expected = load('dinet_out_eval.npy').squeeze(0).permute(1, 2, 0).numpy() * 255
    diff = float(np.abs(out - expected).max())
    print(json.dumps({'parity_max_abs_diff_0_255': diff}))
    return 0 if diff < 255e-4 else 1


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--mouth', type=int, default=256)
    ap.add_argument('--audio_channel', type=int, default=29)
    ap.add_argument('--frames', type=int, default=3)
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    ap.add_argument('--device', default='cpu', help='cpu or cuda (each frame is copied back, as the script does)')
    ap.add_argument('--check', metavar='FIXTURE_DIR')
    a = ap.parse_args()
    raise SystemExit(check(a.check) if a.check else bench(a))
