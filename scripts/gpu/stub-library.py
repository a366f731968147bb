#!/usr/bin/python3
"""stub-library.py REAL_LIB OUT_DIR: writes OUT_DIR/<soname>, a shared library with REAL_LIB's
soname, symbol versions and exported symbols whose functions trap. It satisfies the dynamic
loader where the real library is linked but never called (FFmpeg's and OpenCV's optional
codecs and formats), so pack-debian-deps.sh can leave the real one behind."""
import os, re, subprocess, sys
real, out = sys.argv[1], sys.argv[2]
real = os.path.realpath(real)
dyn = subprocess.run(['readelf', '-d', '-W', real], capture_output=True, text=True).stdout
soname = re.search(r'\(SONAME\)\s+Library soname: \[(.*)\]', dyn).group(1)
syms = subprocess.run(['readelf', '--dyn-syms', '-W', real], capture_output=True, text=True).stdout
entries = []
for line in syms.splitlines():
    f = line.split()
    if len(f) < 8 or not f[0].endswith(':'): continue
    num, value, size, typ, bind, vis, ndx, name = f[:8]
    if ndx in ('UND', 'ABS') or bind not in ('GLOBAL', 'WEAK') or typ not in ('FUNC', 'OBJECT', 'IFUNC', 'NOTYPE', 'TLS'): continue
    ver = None
    if '@@' in name: name, ver = name.split('@@', 1)
    elif '@' in name: continue  # an old, non-default version: nothing new links to it
    if name.startswith('(') or name in ('_init', '_fini', '_edata', '_end', '__bss_start'): continue
    size = int(size, 0) if size.startswith('0x') else int(size)
    entries.append((name, ver, typ, max(size, 8)))
c = ['#include <stdlib.h>']
nodes = {}
for i, (name, ver, typ, size) in enumerate(entries):
    if typ in ('FUNC', 'IFUNC', 'NOTYPE'):
        c.append(f'void f{i}(void) __asm__("{name}"); void f{i}(void) {{ __builtin_trap(); }}')
    elif typ == 'TLS':
        c.append(f'__thread char t{i}[{size}] __asm__("{name}");')
    else:
        c.append(f'char d{i}[{size}] __asm__("{name}");')
    nodes.setdefault(ver, []).append(name)
os.makedirs(out, exist_ok=True)
src = os.path.join(out, soname + '.c')
open(src, 'w').write('\n'.join(c) + '\n')
cmd = ['gcc', '-shared', '-fPIC', '-O0', '-o', os.path.join(out, soname), src, '-Wl,-soname,' + soname]
versioned = [v for v in nodes if v]
if versioned:
    vs = os.path.join(out, soname + '.map')
    with open(vs, 'w') as f:
        base = nodes.get(None, [])
        for k, v in enumerate(versioned):
            names = nodes[v] + (base if k == 0 else [])
            f.write(v + ' { global: ' + ''.join(n + '; ' for n in names) + ('local: *; ' if k == 0 else '') + '};\n')
    cmd.append('-Wl,--version-script=' + vs)
subprocess.run(cmd, check=True)
os.remove(src)
if versioned: os.remove(vs)
print(soname, len(entries))
