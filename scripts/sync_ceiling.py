#!/usr/bin/python3
"""How well can ANY lip-sync judge do on a prepared data set? An oracle for `dinet train sync`.

The oracle is given what SyncNet has to infer from pixels: the exact inner-lip opening of
every frame (landmarks 62 and 66 of the OpenFace CSVs, divided by the nose-to-chin length).
From the training videos it fits a ridge regression that predicts the opening of frame t from
the audio feature rows t-1..t+1; a pair (5 mouth frames, 9 feature rows) is judged in sync when
the mean |opening - predicted opening| over the 5 centre frames is small. The pairs are drawn
as `dinet train sync` draws them: in sync, shifted by 3..15 frames, or audio of another video.

What it prints, on held-out videos: the best balanced accuracy over thresholds, and, at the
threshold that keeps 90 % of the in-sync pairs, the share of off-sync pairs rejected per shift.
A SyncNet sees more than the opening (lip spread and rounding), but not much more on synthetic
faces; if this oracle is near 90 %, a SyncNet above 90 % needs a set with more telling motion.

  sync_ceiling.py asserts/training_data [--heldout 3] [--feature mel|deepspeech]
"""
import argparse
import csv
import glob
import os

import numpy as np


def read_opening(csv_path):
    with open(csv_path) as f:
        rows = list(csv.reader(f))
    header = [h.strip() for h in rows[0]]
    values = np.array([[float(x) for x in r] for r in rows[1:]])
    col = lambda name: values[:, header.index(name)]
    return (col('y_66') - col('y_62')) / (col('y_8') - col('y_27'))


def read_feature(folder, video, feature):
    if feature == 'mel':
        return np.load(os.path.join(folder, video + '_mel.npy'))
    return np.loadtxt(os.path.join(folder, video + '_deepspeech.txt'))


def context(rows, t):  # the feature rows t-1..t+1, flattened
    return rows[t - 1:t + 2].ravel()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('training_data', help='the folder that holds split_video_25fps_landmark_openface/')
    ap.add_argument('--heldout', type=int, default=3, help='last N videos held out')
    ap.add_argument('--feature', choices=['mel', 'deepspeech'], default='mel')
    ap.add_argument('--pairs', type=int, default=3000)
    ap.add_argument('--seed', type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)

    videos = []
    for path in sorted(glob.glob(os.path.join(args.training_data, 'split_video_25fps_landmark_openface', '*.csv'))):
        name = os.path.basename(path)[:-4]
        opening = read_opening(path)
        rows = read_feature(os.path.join(args.training_data, 'split_video_25fps_deepspeech'), name, args.feature)
        n = min(len(opening), len(rows))
        videos.append((opening[:n], rows[:n]))
    if len(videos) <= args.heldout:
        raise SystemExit(f'{args.training_data}: {len(videos)} videos, need more than --heldout {args.heldout}')
    train, heldout = range(len(videos) - args.heldout), range(len(videos) - args.heldout, len(videos))

    x = np.array([context(videos[v][1], t) for v in train for t in range(1, len(videos[v][0]) - 1)])
    y = np.array([videos[v][0][t] for v in train for t in range(1, len(videos[v][0]) - 1)])
    weights = np.linalg.solve(x.T @ x + 10 * np.eye(x.shape[1]), x.T @ (y - y.mean()))
    predict = lambda rows, t: context(rows, t) @ weights + y.mean()

    def mismatch(v, kind, shift=0):
        opening, rows = videos[v]
        n = len(opening)
        while True:
            s = int(rng.integers(1, n - 10))
            other, start = rows, s
            if kind == 'shift':
                start = s + shift * int(rng.choice([-1, 1]))
                if not 1 <= start <= n - 10:
                    continue
            elif kind == 'other':
                other = videos[int(rng.choice([w for w in range(len(videos)) if w != v]))][1]
                start = int(rng.integers(1, len(other) - 10))
            break
        predicted = np.array([predict(other, start + k) for k in range(2, 7)])
        return np.abs(opening[s + 2:s + 7] - predicted).mean()

    pick = lambda: int(rng.choice(list(heldout)))
    in_sync = np.array([mismatch(pick(), 'sync') for _ in range(args.pairs)])
    off = np.array([mismatch(pick(), 'shift', int(rng.integers(3, 16))) if k % 2 else mismatch(pick(), 'other')
                    for k in range(args.pairs)])
    thresholds = np.quantile(np.concatenate([in_sync, off]), np.linspace(0.01, 0.99, 99))
    best = max(0.5 * ((in_sync < t).mean() + (off >= t).mean()) for t in thresholds)
    print(f'{len(videos)} videos, {args.heldout} held out; opening predicted from {args.feature} rows t-1..t+1')
    print(f'oracle best balanced accuracy on held-out pairs: {100 * best:.1f}%')
    keep = np.quantile(in_sync, 0.9)
    for shift in (3, 5, 8, 15):
        d = np.array([mismatch(pick(), 'shift', shift) for _ in range(args.pairs // 3)])
        print(f'  keeping 90% of in-sync pairs, shifted by {shift:2d} frames rejected: {100 * (d >= keep).mean():.0f}%')
    d = np.array([mismatch(pick(), 'other') for _ in range(args.pairs // 3)])
    print(f'  keeping 90% of in-sync pairs, audio of another video rejected: {100 * (d >= keep).mean():.0f}%')


if __name__ == '__main__':
    main()
