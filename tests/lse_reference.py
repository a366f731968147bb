"""Reference numbers for dinet's LSE-C / LSE-D (tests/test-eval-lse.cpp).

A transcription of joonson/syncnet_python (MIT licence): SyncNetModel.py's class S, and the part of
SyncNetInstance.evaluate and calc_pdist that turns face crops and MFCC into the offset,
the confidence (LSE-C) and the least distance (LSE-D), with run_syncnet.py's vshift 15.

    lse_reference.py DIR SAMPLES

reads DIR/frames.npy ((T, 224, 224, 3) uint8, BGR as cv2.imread gives) and DIR/mfcc.npy
((13, M) float32, python_speech_features.mfcc(audio, 16000) transposed; SAMPLES is the length
of that audio), writes random weights into DIR in the released file's layout --
syncnet_v2.model: a bare state dict, legacy (non-zip) torch.save, no BatchNorm
num_batches_tracked -- and in a modern one (syncnet_zip.model: zip format, with them), and
prints the state-dict keys, the embeddings and the scores as JSON. Needs torch and numpy only.
"""
import collections
import json
import math
import sys

import numpy
import torch
import torch.nn as nn

torch.manual_seed(0)


class S(nn.Module):  # SyncNetModel.py, as published
    def __init__(self, num_layers_in_fc_layers=1024):
        super(S, self).__init__()
        self.__nFeatures__ = 24
        self.__nChs__ = 32
        self.__midChs__ = 32

        self.netcnnaud = nn.Sequential(
            nn.Conv2d(1, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=(1, 1), stride=(1, 1)),

            nn.Conv2d(64, 192, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)),
            nn.BatchNorm2d(192),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=(3, 3), stride=(1, 2)),

            nn.Conv2d(192, 384, kernel_size=(3, 3), padding=(1, 1)),
            nn.BatchNorm2d(384),
            nn.ReLU(inplace=True),

            nn.Conv2d(384, 256, kernel_size=(3, 3), padding=(1, 1)),
            nn.BatchNorm2d(256),
            nn.ReLU(inplace=True),

            nn.Conv2d(256, 256, kernel_size=(3, 3), padding=(1, 1)),
            nn.BatchNorm2d(256),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=(3, 3), stride=(2, 2)),

            nn.Conv2d(256, 512, kernel_size=(5, 4), padding=(0, 0)),
            nn.BatchNorm2d(512),
            nn.ReLU(),
        )

        self.netfcaud = nn.Sequential(
            nn.Linear(512, 512),
            nn.BatchNorm1d(512),
            nn.ReLU(),
            nn.Linear(512, num_layers_in_fc_layers),
        )

        self.netfclip = nn.Sequential(
            nn.Linear(512, 512),
            nn.BatchNorm1d(512),
            nn.ReLU(),
            nn.Linear(512, num_layers_in_fc_layers),
        )

        self.netcnnlip = nn.Sequential(
            nn.Conv3d(3, 96, kernel_size=(5, 7, 7), stride=(1, 2, 2), padding=0),
            nn.BatchNorm3d(96),
            nn.ReLU(inplace=True),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),

            nn.Conv3d(96, 256, kernel_size=(1, 5, 5), stride=(1, 2, 2), padding=(0, 1, 1)),
            nn.BatchNorm3d(256),
            nn.ReLU(inplace=True),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),

            nn.Conv3d(256, 256, kernel_size=(1, 3, 3), padding=(0, 1, 1)),
            nn.BatchNorm3d(256),
            nn.ReLU(inplace=True),

            nn.Conv3d(256, 256, kernel_size=(1, 3, 3), padding=(0, 1, 1)),
            nn.BatchNorm3d(256),
            nn.ReLU(inplace=True),

            nn.Conv3d(256, 256, kernel_size=(1, 3, 3), padding=(0, 1, 1)),
            nn.BatchNorm3d(256),
            nn.ReLU(inplace=True),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),

            nn.Conv3d(256, 512, kernel_size=(1, 6, 6), padding=0),
            nn.BatchNorm3d(512),
            nn.ReLU(inplace=True),
        )

    def forward_aud(self, x):
        mid = self.netcnnaud(x)
        mid = mid.view((mid.size()[0], -1))
        out = self.netfcaud(mid)
        return out

    def forward_lip(self, x):
        mid = self.netcnnlip(x)
        mid = mid.view((mid.size()[0], -1))
        out = self.netfclip(mid)
        return out


def calc_pdist(feat1, feat2, vshift=10):  # SyncNetInstance.py, as published
    win_size = vshift * 2 + 1
    feat2p = torch.nn.functional.pad(feat2, (0, 0, vshift, vshift))
    dists = []
    for i in range(0, len(feat1)):
        dists.append(torch.nn.functional.pairwise_distance(feat1[[i], :].repeat(win_size, 1),
                                                           feat2p[i:i + win_size, :]))
    return dists


def evaluate(net, images, mfcc, samples, batch_size=20, vshift=15):
    """SyncNetInstance.evaluate from the decoded frames and the MFCC on (no files, no CUDA)."""
    net.eval()
    im = numpy.stack(images, axis=3)
    im = numpy.expand_dims(im, axis=0)
    im = numpy.transpose(im, (0, 3, 4, 1, 2))
    imtv = torch.from_numpy(im.astype(float)).float()

    cc = numpy.expand_dims(numpy.expand_dims(mfcc, axis=0), axis=0)
    cct = torch.from_numpy(cc.astype(float)).float()

    min_length = min(len(images), math.floor(samples / 640))
    lastframe = min_length - 5
    im_feat = []
    cc_feat = []
    for i in range(0, lastframe, batch_size):
        im_batch = [imtv[:, :, vframe:vframe + 5, :, :] for vframe in range(i, min(lastframe, i + batch_size))]
        im_in = torch.cat(im_batch, 0)
        im_out = net.forward_lip(im_in)
        im_feat.append(im_out.data.cpu())

        cc_batch = [cct[:, :, :, vframe * 4:vframe * 4 + 20] for vframe in range(i, min(lastframe, i + batch_size))]
        cc_in = torch.cat(cc_batch, 0)
        cc_out = net.forward_aud(cc_in)
        cc_feat.append(cc_out.data.cpu())

    im_feat = torch.cat(im_feat, 0)
    cc_feat = torch.cat(cc_feat, 0)

    dists = calc_pdist(im_feat, cc_feat, vshift=vshift)
    mdist = torch.mean(torch.stack(dists, 1), 1)
    minval, minidx = torch.min(mdist, 0)
    offset = vshift - minidx
    conf = torch.median(mdist) - minval
    return im_feat, cc_feat, mdist, int(offset), float(conf), float(minval)


def random_network():
    net = S()
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                # Random running statistics, so eval mode is a real test.
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.num_batches_tracked.fill_(7)
    return net.eval()


def main():
    out_dir, samples = sys.argv[1], int(sys.argv[2])
    net = random_network()
    state = net.state_dict()
    released = collections.OrderedDict(
        (k, v) for k, v in state.items() if not k.endswith("num_batches_tracked"))
    torch.save(released, out_dir + "/syncnet_v2.model", _use_new_zipfile_serialization=False)
    torch.save(state, out_dir + "/syncnet_zip.model")

    frames = numpy.load(out_dir + "/frames.npy")
    mfcc = numpy.load(out_dir + "/mfcc.npy")
    with torch.no_grad():
        lip, aud, mdist, offset, conf, dist = evaluate(net, list(frames), mfcc, samples)
    json.dump({"keys": list(state.keys()), "lip": lip.tolist(), "audio": aud.tolist(), "mean_distance": mdist.tolist(),
               "offset": offset, "lse_c": conf, "lse_d": dist}, sys.stdout)


if __name__ == "__main__":
    main()
