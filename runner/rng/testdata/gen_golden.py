"""Generates the golden values in this directory from torch's CPU generator.

Run with Debian's python3-torch (1.13): /usr/bin/python3 gen_golden.py
This is a data-generation script, not part of the Go build.

torch's float32 randn of 16 or more values has two kernels: the portable
normal_fill (ATEN_CPU_CAPABILITY=default, AVX-512 and ARM builds) and an AVX2
one with approximate log/sincos that differs by up to ~2e-6. The golden files
use the portable kernel; cpu_randn_avx2.json keeps a few AVX2 outputs to bound
the difference.

cpu_randn.json: torch.randn on torch.Generator().manual_seed(seed), one or
more consecutive calls per case. Large outputs keep a head, a tail, every
STRIDE-th value and the float64 sum.

imagerng_cpu.json: A1111 v1.10 modules/rng.py ImageRNG semantics (randn_source
"CPU"), written out with torch ops: subseed slerp, seed resize, ENSD.
"""
import json
import os
import subprocess
import sys

if "ATEN_CPU_CAPABILITY" not in os.environ:  # run once per kernel
    for cap in ("default", "avx2"):
        subprocess.run([sys.executable, __file__], check=True, env=dict(os.environ, ATEN_CPU_CAPABILITY=cap))
    sys.exit()

import torch  # noqa: E402

FULL = 64  # outputs up to this many values are stored whole
STRIDE = 97


def f32(t):
    """Values as the shortest decimals that still identify the float32 values."""
    return [float("%.9g" % x) for x in t.reshape(-1).tolist()]


def pack(t):
    v = f32(t)
    if len(v) <= FULL:
        return {"n": len(v), "values": v}
    return {"n": len(v), "head": v[:16], "tail": v[-16:], "stride": STRIDE,
            "strided": v[::STRIDE], "sum": t.double().sum().item()}


def randn_cases():
    cases = []
    seeds = [0, 1, 1234, 4294967293, 2**32 + 5, 2**40 + 123, 2**64 - 1]
    shapes = [[1], [4], [15], [16], [17], [31], [32], [33], [64], [1, 4, 8, 8], [4, 64, 64]]
    for seed in seeds:
        for shape in shapes:
            cases.append({"seed": seed, "calls": [shape]})
    # Consecutive calls on one generator (A1111 draws sampler noise this way),
    # including the scalar path's cached second Box-Muller value.
    for seed in [0, 42, 4294967293]:
        for calls in ([[4, 64, 64], [4, 64, 64]], [[1, 4, 8, 8]] * 3, [[3], [3], [1]],
                      [[5], [16], [1], [17]], [[33], [2], [7]]):
            cases.append({"seed": seed, "calls": calls})
    out = []
    for c in cases:
        g = torch.Generator().manual_seed(c["seed"])
        res = [pack(torch.randn(s, generator=g)) for s in c["calls"]]
        out.append({"seed": c["seed"], "shapes": c["calls"], "results": res})
    return out


def slerp(val, low, high):  # A1111 rng.slerp, vectors along dim 1
    ln = low / torch.norm(low, dim=1, keepdim=True)
    hn = high / torch.norm(high, dim=1, keepdim=True)
    dot = (ln * hn).sum(1)
    if dot.mean() > 0.9995:
        return low * val + high * (1 - val)
    om = torch.acos(dot)
    so = torch.sin(om)
    return (torch.sin((1.0 - val) * om) / so).unsqueeze(1) * low + (torch.sin(val * om) / so).unsqueeze(1) * high


def gen(seed):
    return torch.Generator().manual_seed(int(seed))


def image_rng(shape, seeds, subseeds, strength, rh, rw, ensd, steps):
    shape = tuple(shape)
    nshape = shape if rh <= 0 or rw <= 0 else (shape[0], rh // 8, rw // 8)
    gens = [gen(s) for s in seeds]
    xs = []
    for i, seed in enumerate(seeds):
        sub = None
        if subseeds is not None and strength != 0:
            sub = torch.randn(nshape, generator=gen(subseeds[i] if i < len(subseeds) else 0))
        noise = torch.randn(nshape, generator=gen(seed) if nshape != shape else gens[i])
        if sub is not None:
            noise = slerp(strength, noise, sub)
        if nshape != shape:
            x = torch.randn(shape, generator=gens[i])
            dx, dy = (shape[2] - nshape[2]) // 2, (shape[1] - nshape[1]) // 2
            w = nshape[2] if dx >= 0 else nshape[2] + 2 * dx
            h = nshape[1] if dy >= 0 else nshape[1] + 2 * dy
            tx, ty, dx, dy = max(dx, 0), max(dy, 0), max(-dx, 0), max(-dy, 0)
            x[:, ty:ty + h, tx:tx + w] = noise[:, dy:dy + h, dx:dx + w]
            noise = x
        xs.append(noise)
    outs = [torch.stack(xs)]
    if ensd:
        gens = [gen(s + ensd) for s in seeds]
    for _ in range(steps - 1):
        outs.append(torch.stack([torch.randn(shape, generator=g) for g in gens]))
    return outs


def image_cases():
    cases = [
        dict(shape=[4, 8, 8], seeds=[7, 8], subseeds=None, strength=0.0, rh=0, rw=0, ensd=0),
        dict(shape=[4, 8, 8], seeds=[7, 7], subseeds=[100, 101], strength=0.3, rh=0, rw=0, ensd=0),
        dict(shape=[4, 8, 8], seeds=[7], subseeds=[100], strength=1.0, rh=0, rw=0, ensd=0),
        dict(shape=[4, 8, 8], seeds=[7], subseeds=[7], strength=0.25, rh=0, rw=0, ensd=0),
        dict(shape=[4, 8, 8], seeds=[3, 3, 3], subseeds=[9], strength=0.6, rh=0, rw=0, ensd=0),
        dict(shape=[4, 8, 8], seeds=[5], subseeds=None, strength=0.0, rh=48, rw=96, ensd=0),
        dict(shape=[4, 8, 9], seeds=[5], subseeds=None, strength=0.0, rh=80, rw=48, ensd=0),
        dict(shape=[4, 8, 8], seeds=[5, 6], subseeds=[11, 12], strength=0.5, rh=96, rw=40, ensd=0),
        dict(shape=[4, 8, 8], seeds=[5, 6], subseeds=None, strength=0.0, rh=0, rw=0, ensd=31337),
        dict(shape=[4, 6, 10], seeds=[4294967293], subseeds=[1], strength=0.1, rh=0, rw=0, ensd=0),
    ]
    for c in cases:
        outs = image_rng(c["shape"], c["seeds"], c["subseeds"], c["strength"], c["rh"], c["rw"], c["ensd"], 3)
        c["steps"] = [f32(o) for o in outs]
    return cases


if __name__ == "__main__" and os.environ["ATEN_CPU_CAPABILITY"] == "avx2":
    out = []
    for seed in [0, 1234, 4294967293]:
        g = torch.Generator().manual_seed(seed)
        out.append({"seed": seed, "shapes": [[4, 64, 64]], "results": [pack(torch.randn((4, 64, 64), generator=g))]})
    with open("cpu_randn_avx2.json", "w") as f:
        json.dump({"torch": torch.__version__, "capability": "avx2", "cases": out}, f)
        f.write("\n")
elif __name__ == "__main__":
    with open("cpu_randn.json", "w") as f:
        json.dump({"torch": torch.__version__, "cases": randn_cases()}, f, indent=None)
        f.write("\n")
    with open("imagerng_cpu.json", "w") as f:
        json.dump({"torch": torch.__version__, "cases": image_cases()}, f, indent=None)
        f.write("\n")
