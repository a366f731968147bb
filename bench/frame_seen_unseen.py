#!/usr/bin/python3
"""Mouth-region L1 of a frame-stage checkpoint on the videos it trained on and on the videos
`--holdout` kept out, next to copying a reference frame (docs/training.md, "Seen faces
against unseen ones"). Runs the published network definition (published_frame_step.py).

  cd <folder with asserts/training_data>
  frame_seen_unseen.py frame64/netG_model_epoch_95.pth --holdout 0.1

With fewer than 4 videos, as `dinet train --holdout` does, the last clips of every video are
held out instead: unseen frames and audio of faces it trained on.

Eval mode uses the checkpoint's running BatchNorm statistics (as inference does); "other
audio" is eval mode with every sample driven by another sample's audio; "re-estimated"
replaces the statistics by the plain average over training batches; train mode uses each
batch's statistics. Mel features, any mouth size.
"""
import argparse
import math
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import published_frame_step as published  # noqa: E402

DATA = "asserts/training_data"


def clips_of(video):
    return sorted(int(c) for c in os.listdir(f"{DATA}/split_video_25fps_crop_face/{video}"))


def split_heldout(names, fraction):
    """(trained on, held out) as lists of (video, clips), as `dinet train --holdout` splits
    (split_heldout in src/train/training_set.cpp): whole videos from 4 on, else each video's
    last clips."""
    n = len(names)
    if n >= 4:
        held = min(max(round(fraction * n), 1), n - 1)
        held_names = {names[(k * n) // held + n // (2 * held)] for k in range(held)}
        return ([(v, clips_of(v)) for v in names if v not in held_names],
                [(v, clips_of(v)) for v in names if v in held_names])
    train, heldout = [], []
    for v in names:
        clips = clips_of(v)
        held = min(len(clips) - 1, math.ceil(fraction * len(clips) - 1e-9))
        train.append((v, clips[:len(clips) - held]))
        heldout.append((v, clips[len(clips) - held:]))
    return train, heldout


class Samples:
    """Random frames of random clips, five random frames of the same group's clips of the same
    video as references."""

    def __init__(self, mouth):
        self.mouth = mouth
        self.size = (mouth + mouth // 4, mouth * 3 // 2 + mouth // 8)  # (width, height)

    def image(self, video, clip, frame):
        path = f"{DATA}/split_video_25fps_crop_face/{video}/{clip:06d}/{clip * 9 + frame:06d}.jpg"
        rgb = np.array(Image.open(path).convert("RGB").resize(self.size, Image.BILINEAR))
        return torch.from_numpy(rgb).permute(2, 0, 1).float() / 255

    def batch(self, group, n, seed):
        rng = np.random.default_rng(seed)
        m, r, q = self.mouth, self.mouth // 2, self.mouth // 8
        source, refs, audio, target = [], [], [], []
        for _ in range(n):
            video, clips = group[rng.integers(len(group))]
            mel = np.load(f"{DATA}/split_video_25fps_deepspeech/{video}_mel.npy")
            clip = clips[rng.integers(len(clips))]
            t = self.image(video, clip, 4)
            s = t.clone()
            s[:, r:r + m, q:q + m] = 0
            refs.append(torch.cat([self.image(video, clips[rng.integers(len(clips))], int(rng.integers(9)))
                                   for _ in range(5)]))
            audio.append(torch.from_numpy(np.array(mel[clip * 9 + 2:clip * 9 + 7])).float().t())
            source.append(s)
            target.append(t)
        return [torch.stack(x) for x in (source, refs, audio, target)]

    def mouth_l1(self, a, b):
        m, r, q = self.mouth, self.mouth // 2, self.mouth // 8
        return (a - b)[:, :, r:r + m, q:q + m].abs().mean().item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--holdout", type=float, default=0.1)
    ap.add_argument("--mouth", type=int, default=64)
    ap.add_argument("--samples", type=int, default=48, help="per group, a multiple of --batch")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--stat_batches", type=int, default=25, help="training batches to re-estimate with")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    state = torch.load(args.checkpoint, map_location="cpu")["state_dict"]["net_g"]
    state = {k.removeprefix("module."): v for k, v in state.items()}
    net = published.DINet(state["audio_encoder.0.conv.weight"].shape[1])
    names = sorted(os.listdir(f"{DATA}/split_video_25fps_crop_face"))
    trained, heldout = split_heldout(names, args.holdout)
    groups = {"trained on": trained, "held out": heldout}
    samples = Samples(args.mouth)
    batches = {g: samples.batch(v, args.samples, seed=1) for g, v in groups.items()}

    def run(source, refs, audio):
        return torch.cat([net(source[i:i + args.batch], refs[i:i + args.batch], audio[i:i + args.batch])
                          for i in range(0, len(source), args.batch)])

    rows = {g: {} for g in groups}
    with torch.no_grad():
        for g, (source, refs, audio, target) in batches.items():
            net.load_state_dict(state)  # train mode below moves the running statistics
            net.eval()
            rows[g]["eval mode"] = samples.mouth_l1(run(source, refs, audio), target)
            # Each sample driven by the next one's audio: how much of the mouth the audio decides.
            rows[g]["other audio"] = samples.mouth_l1(run(source, refs, audio.roll(1, 0)), target)
            net.train()
            rows[g]["train mode"] = samples.mouth_l1(run(source, refs, audio), target)
            rows[g]["copy a reference"] = samples.mouth_l1(refs[:, :3], target)
        net.load_state_dict(state)
        for module in net.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.reset_running_stats()
                module.momentum = None  # a plain average over the batches below
        net.train()
        for k in range(args.stat_batches):
            net(*samples.batch(groups["trained on"], args.batch, seed=100 + k)[:3])
        net.eval()
        for g, (source, refs, audio, target) in batches.items():
            rows[g]["re-estimated"] = samples.mouth_l1(run(source, refs, audio), target)

    print("held out: " + ", ".join(f"{v} (clips {c[0]}-{c[-1]})" for v, c in heldout))
    columns = ["eval mode", "re-estimated", "train mode", "other audio", "copy a reference"]
    print("| samples from | " + " | ".join(columns) + " |")
    print("| --- |" + " ---: |" * len(columns))
    for g in groups:
        clips = sum(len(c) for _, c in groups[g])
        print(f"| {clips} clips of {len(groups[g])} videos {g} | " + " | ".join(f"{rows[g][c]:.4f}" for c in columns) + " |")


if __name__ == "__main__":
    main()
