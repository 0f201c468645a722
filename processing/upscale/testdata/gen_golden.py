#!/usr/bin/python3
"""Regenerate the golden files for processing/upscale's tests.

Run from this directory with Debian's python3-pil (9.4) and, for the latent
cases, python3-torch (1.13):

    apt-get install -y python3-pil python3-torch
    /usr/bin/python3 gen_golden.py

Resize goldens are plain Pillow calls. The resize_image, Upscaler.upscale and
extras goldens re-state A1111 v1.10's logic (modules/images.py resize_image,
modules/upscaler.py Upscaler.upscale, scripts/postprocessing_upscale.py) on
top of Pillow, so the Go code is compared with Pillow's pixels, not with
itself. Latent goldens are torch.nn.functional.interpolate outputs.
"""
import html
import json

import numpy as np
from PIL import Image

LANCZOS = Image.Resampling.LANCZOS
NEAREST = Image.Resampling.NEAREST
FILTERS = {"LANCZOS": LANCZOS, "BICUBIC": Image.Resampling.BICUBIC,
           "BILINEAR": Image.Resampling.BILINEAR, "NEAREST": NEAREST}


def make_sources():
    rng = np.random.RandomState(1234)
    src = {}
    src["src_7x5.png"] = Image.fromarray(rng.randint(0, 256, (5, 7, 3), dtype=np.uint8), "RGB")

    # Structured: gradients, hard edges (ringing and clipping) and a noisy patch.
    def structured(n):
        y, x = np.mgrid[0:n, 0:n]
        a = np.zeros((n, n, 3), dtype=np.uint8)
        a[..., 0] = (x * 255 // (n - 1)).astype(np.uint8)
        a[..., 1] = np.where(((x // 4) + (y // 4)) % 2 == 0, 255, 0).astype(np.uint8)
        a[..., 2] = (y * 255 // (n - 1)).astype(np.uint8)
        q = n // 4
        a[q:2 * q, q:2 * q] = rng.randint(0, 256, (q, q, 3), dtype=np.uint8)
        return Image.fromarray(a, "RGB")

    src["src_64.png"] = structured(64)
    src["src_128.png"] = structured(128)
    rgba = rng.randint(0, 256, (7, 9, 4), dtype=np.uint8)
    rgba[0, :, 3] = 255
    rgba[1, :, 3] = 0
    src["src_rgba_9x7.png"] = Image.fromarray(rgba, "RGBA")
    for name, im in src.items():
        im.save(name)
    return src


def upscale_loop(img, scale, step):
    """A1111's Upscaler.upscale with do_upscale = step."""
    dest_w = int((img.width * scale) // 8 * 8)
    dest_h = int((img.height * scale) // 8 * 8)
    for i in range(3):
        if img.width >= dest_w and img.height >= dest_h and (i > 0 or scale != 1):
            break
        before = img.size
        img = step(img)
        if img.size == before:
            break
    if img.size != (dest_w, dest_h):
        img = img.resize((dest_w, dest_h), resample=LANCZOS)
    return img


def pil_step(name, scale):
    if name == "None":
        return lambda im: im
    f = LANCZOS if name == "Lanczos" else NEAREST
    return lambda im: im.resize((int(im.width * scale), int(im.height * scale)), resample=f)


def resize_image(mode, im, width, height, upscaler):
    """A1111's images.resize_image with the built-in upscalers."""
    def resize(im, w, h):
        if upscaler == "None" or im.mode == "L":
            return im.resize((w, h), resample=LANCZOS)
        scale = max(w / im.width, h / im.height)
        if scale > 1.0:
            im = upscale_loop(im, scale, pil_step(upscaler, scale))
        if im.width != w or im.height != h:
            im = im.resize((w, h), resample=LANCZOS)
        return im

    ratio, src_ratio = width / height, im.width / im.height
    if mode == 0:
        return resize(im, width, height)
    if mode == 1:
        src_w = width if ratio > src_ratio else im.width * height // im.height
        src_h = height if ratio <= src_ratio else im.height * width // im.width
        resized = resize(im, src_w, src_h)
        res = Image.new("RGB", (width, height))
        res.paste(resized, box=(width // 2 - src_w // 2, height // 2 - src_h // 2))
        return res
    src_w = width if ratio < src_ratio else im.width * height // im.height
    src_h = height if ratio >= src_ratio else im.height * width // im.width
    resized = resize(im, src_w, src_h)
    res = Image.new("RGB", (width, height))
    res.paste(resized, box=(width // 2 - src_w // 2, height // 2 - src_h // 2))
    if ratio < src_ratio:
        fill = height // 2 - src_h // 2
        res.paste(resized.resize((width, fill), box=(0, 0, width, 0)), box=(0, 0))
        res.paste(resized.resize((width, fill), box=(0, resized.height, width, resized.height)), box=(0, fill + src_h))
    elif ratio > src_ratio:
        fill = width // 2 - src_w // 2
        res.paste(resized.resize((fill, height), box=(0, 0, 0, height)), box=(0, 0))
        res.paste(resized.resize((fill, height), box=(resized.width, 0, resized.width, height)), box=(fill + src_w, 0))
    return res


def quote(v):
    s = str(v)
    if "," not in s and "\n" not in s and ":" not in s:
        return v
    return json.dumps(v, ensure_ascii=False)


def extras(im, req):
    """run_extras + the Upscale postprocessing script, built-in upscalers."""
    im = im.convert("RGB")
    info = {}

    def up(image, name):
        mode, by = req["resize_mode"], req["upscaling_resize"]
        w, h = req["upscaling_resize_w"], req["upscaling_resize_h"]
        if mode == 1:
            by = max(w / image.width, h / image.height)
            info["Postprocess upscale to"] = f"{w}x{h}"
        else:
            info["Postprocess upscale by"] = by
        image = upscale_loop(image, by, pil_step(name, by))
        if mode == 1 and req["upscaling_crop"]:
            cropped = Image.new("RGB", (w, h))
            cropped.paste(image, box=(w // 2 - image.width // 2, h // 2 - image.height // 2))
            image = cropped
            info["Postprocess crop to"] = f"{image.width}x{image.height}"
        return image

    out = im
    if req["upscaler_1"] != "None":
        out = up(im, req["upscaler_1"])
        info["Postprocess upscaler"] = req["upscaler_1"]
        if req["upscaler_2"] != "None" and req["extras_upscaler_2_visibility"] > 0:
            second = up(im, req["upscaler_2"])
            out = Image.blend(out, second, req["extras_upscaler_2_visibility"])
            info["Postprocess upscaler 2"] = req["upscaler_2"]
    text = ", ".join([k if k == v else f"{k}: {quote(v)}" for k, v in info.items() if v is not None])
    return out, text, "<p>" + "<br>\n".join(html.escape(x) for x in text.split("\n")) + "</p>"


def f32(t):
    """Shortest decimals that read back as the same float32 values."""
    return [float(str(np.float32(v))) for v in t.flatten().tolist()]


def latent_cases():
    import torch
    import torch.nn.functional as F
    modes = [("bilinear", False), ("bilinear", True), ("bicubic", False),
             ("bicubic", True), ("nearest", False), ("nearest-exact", False)]
    g = torch.Generator().manual_seed(7)
    x = torch.randn((1, 2, 5, 7), generator=g, dtype=torch.float32)
    cases = []
    for oh, ow in [(11, 16), (10, 14), (3, 4), (5, 3), (13, 7)]:
        for mode, aa in modes:
            y = F.interpolate(x, size=(oh, ow), mode=mode, antialias=aa)
            cases.append({"mode": mode, "antialias": aa, "out_h": oh, "out_w": ow,
                          "out": f32(y)})
    return {"torch": torch.__version__, "c": 2, "h": 5, "w": 7,
            "in": f32(x), "cases": cases}


def main():
    src = make_sources()
    manifest = {"pillow": Image.__version__, "resize": [], "resize_image": [], "extras": []}

    resize_cases = [("src_7x5.png", 16, 11), ("src_64.png", 128, 128), ("src_128.png", 48, 40)]
    for s, w, h in resize_cases:
        for fname, f in FILTERS.items():
            manifest["resize"].append((s, w, h, fname))
    manifest["resize"] += [("src_7x5.png", 3, 2, "LANCZOS"), ("src_64.png", 100, 37, "NEAREST"),
                           ("src_64.png", 37, 100, "BICUBIC"), ("src_rgba_9x7.png", 20, 13, "LANCZOS"),
                           ("src_rgba_9x7.png", 20, 13, "BICUBIC"), ("src_rgba_9x7.png", 20, 13, "NEAREST"),
                           ("src_rgba_9x7.png", 4, 3, "BILINEAR")]
    out = []
    for s, w, h, fname in manifest["resize"]:
        name = f"resize_{s[4:-4]}_{fname.lower()}_{w}x{h}.png"
        src[s].resize((w, h), resample=FILTERS[fname]).save(name)
        out.append({"src": s, "w": w, "h": h, "filter": fname, "out": name})
    manifest["resize"] = out

    for mode, s, w, h, upn in [(0, "src_64.png", 96, 80, "None"), (1, "src_128.png", 64, 48, "None"),
                               (1, "src_7x5.png", 16, 16, "Lanczos"), (2, "src_64.png", 96, 64, "None"),
                               (2, "src_7x5.png", 12, 20, "Nearest"), (2, "src_128.png", 100, 300, "Lanczos"),
                               (0, "src_7x5.png", 30, 17, "Nearest")]:
        name = f"resizeimage_{mode}_{s[4:-4]}_{upn.lower()}_{w}x{h}.png"
        resize_image(mode, src[s], w, h, upn).save(name)
        manifest["resize_image"].append({"mode": mode, "src": s, "w": w, "h": h, "upscaler": upn, "out": name})

    base = {"resize_mode": 0, "upscaling_resize": 2.0, "upscaling_resize_w": 512, "upscaling_resize_h": 512,
            "upscaling_crop": True, "upscaler_1": "None", "upscaler_2": "None", "extras_upscaler_2_visibility": 0.0}
    for i, (s, over) in enumerate([
        ("src_64.png", {"upscaler_1": "Lanczos"}),
        ("src_7x5.png", {"resize_mode": 1, "upscaling_resize_w": 100, "upscaling_resize_h": 60,
                         "upscaler_1": "Nearest", "upscaler_2": "Lanczos", "extras_upscaler_2_visibility": 0.3}),
        ("src_rgba_9x7.png", {"upscaling_resize": 1.5 * 4, "upscaler_1": "Nearest", "upscaler_2": "Lanczos",
                              "extras_upscaler_2_visibility": 0.5}),
        ("src_7x5.png", {"resize_mode": 1, "upscaling_resize_w": 40, "upscaling_resize_h": 40,
                         "upscaling_crop": False, "upscaler_1": "Lanczos"}),
        ("src_64.png", {"upscaling_resize": 1.0, "upscaler_1": "Lanczos"}),
    ]):
        req = dict(base, **over)
        img, text, htm = extras(src[s], req)
        name = f"extras_{i}.png"
        img.save(name)
        manifest["extras"].append({"src": s, "req": req, "out": name, "infotext": text, "html_info": htm})

    with open("golden.json", "w") as f:
        json.dump(manifest, f, indent=1)
    try:
        lat = latent_cases()
    except ImportError:
        print("torch not installed: latent.json left as is")
        return
    with open("latent.json", "w") as f:
        json.dump(lat, f)


if __name__ == "__main__":
    main()
