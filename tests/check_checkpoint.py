#!/usr/bin/python3
"""Opens a checkpoint written by `dinet train` with PyTorch's torch.load and checks it
against the published layout (reference section 4), as the published code would use it.

  check_checkpoint.py frame OURS.pth FIXTURE_DIR   netG_model_epoch_N.pth (frame stage)
  check_checkpoint.py clip  OURS.pth FIXTURE_DIR   netG_model_epoch_N.pth (clip stage)
  check_checkpoint.py sync  OURS.pth FIXTURE_DIR   syncnet_*.pth

FIXTURE_DIR holds checkpoints written by the published implementation (dinet.pth,
discriminator.pth, syncnet.pth): our state dicts must have exactly their keys, in order,
and shapes (the clip discriminator net_dV, which has no fixture, against the published
Discriminator(15) wrapped in DataParallel). For frame and clip checkpoints the optimizer
states must also load into torch.optim.Adam over the published networks' parameters. Prints OK or the first problem.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'bench'))
from published_frame_step import DINet, Discriminator  # noqa: E402


def same_layout(ours, published, what):
    ok, pk = list(ours.keys()), list(published.keys())
    if ok != pk:
        missing = [k for k in pk if k not in ours][:5]
        extra = [k for k in ok if k not in published][:5]
        raise SystemExit(f'{what}: keys differ (missing {missing}, unexpected {extra}, or order)')
    for k in pk:
        if ours[k].shape != published[k].shape or ours[k].dtype != published[k].dtype:
            raise SystemExit(f'{what}: {k} is {tuple(ours[k].shape)} {ours[k].dtype}, '
                             f'published {tuple(published[k].shape)} {published[k].dtype}')


def adam_loads(net, state, what):
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    opt.load_state_dict(state)
    for i, p in enumerate(net.parameters()):
        s = opt.state.get(p)
        if s is not None and s['exp_avg'].shape != p.shape:
            raise SystemExit(f'{what}: optimizer moment {i} has shape {tuple(s["exp_avg"].shape)}, '
                             f'parameter {tuple(p.shape)}')


def main(kind, ours_path, fixtures):
    ours = torch.load(ours_path, map_location='cpu')
    if kind in ('frame', 'clip'):
        if set(ours) != {'epoch', 'state_dict', 'optimizer', 'dinet_meta'}:
            raise SystemExit(f'top-level keys {sorted(ours)}')
        pub_g = torch.load(os.path.join(fixtures, 'dinet.pth'), map_location='cpu')['state_dict']['net_g']
        pub_d = torch.load(os.path.join(fixtures, 'discriminator.pth'), map_location='cpu')['state_dict']['net_dI']
        same_layout(ours['state_dict']['net_g'], pub_g, 'net_g')
        same_layout(ours['state_dict']['net_dI'], pub_d, 'net_dI')
        # As the published trainer does: a DataParallel-wrapped network loads 'module.' keys.
        net_g = torch.nn.DataParallel(DINet(29))
        net_g.load_state_dict(ours['state_dict']['net_g'])
        net_d = torch.nn.DataParallel(Discriminator(3))
        net_d.load_state_dict(ours['state_dict']['net_dI'])
        adam_loads(net_g, ours['optimizer']['net_g'], 'optimizer net_g')
        adam_loads(net_d, ours['optimizer']['net_dI'], 'optimizer net_dI')
        nets = {'net_g', 'net_dI'} | ({'net_dV'} if kind == 'clip' else set())
        if set(ours['state_dict']) != nets or set(ours['optimizer']) != nets:
            raise SystemExit(f'networks {sorted(ours["state_dict"])}, optimizers {sorted(ours["optimizer"])}')
        if kind == 'clip':
            net_v = torch.nn.DataParallel(Discriminator(15))
            same_layout(ours['state_dict']['net_dV'], net_v.state_dict(), 'net_dV')
            net_v.load_state_dict(ours['state_dict']['net_dV'])
            adam_loads(net_v, ours['optimizer']['net_dV'], 'optimizer net_dV')
        if not isinstance(ours['epoch'], int):
            raise SystemExit('epoch is not an int')
    else:
        pub = torch.load(os.path.join(fixtures, 'syncnet.pth'), map_location='cpu')['state_dict']['net']
        same_layout(ours['state_dict']['net'], pub, 'net')
    print('OK')


if __name__ == '__main__':
    main(*sys.argv[1:4])
