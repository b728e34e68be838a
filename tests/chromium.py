"""Headless Chromium for tests of HTML pages: the DOM after scripts ran, a screenshot, and its pixels.

Uses Debian's `chromium` (installed by .ci/run) with a throw-away profile per call, so parallel
runs do not share a profile lock. `--dump-dom` prints the DOM after the page's scripts ran; a
URL fragment (`page.html#module=app`) lets a test drive what a click would. Pages get no
network: every request goes to a closed proxy port, so a page that needs one shows it.
"""
from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

TIMEOUT_S = 120


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise RuntimeError("headless Chromium is not installed (Debian: apt-get install chromium)")


def _run(args: list[str]) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        cmd = [chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--mute-audio",
               "--proxy-server=127.0.0.1:9",
               f"--user-data-dir={profile}", "--virtual-time-budget=5000", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)


def file_url(path: Path, fragment: str = "") -> str:
    return Path(path).resolve().as_uri() + (f"#{fragment}" if fragment else "")


def dump_dom(path: Path, fragment: str = "") -> str:
    """The page's DOM (serialised HTML) after its scripts ran."""
    out = _run(["--dump-dom", file_url(path, fragment)])
    if out.returncode != 0 or "<html" not in out.stdout:
        raise RuntimeError(f"chromium --dump-dom failed ({out.returncode}): {out.stderr[-500:]}")
    return out.stdout


def screenshot(path: Path, png: Path, width: int = 1280, height: int = 900, fragment: str = "") -> Path:
    out = _run([f"--screenshot={png}", f"--window-size={width},{height}", "--hide-scrollbars", file_url(path, fragment)])
    if not Path(png).is_file():
        raise RuntimeError(f"chromium --screenshot wrote nothing ({out.returncode}): {out.stderr[-500:]}")
    return Path(png)


def png_pixels(png: Path) -> tuple[int, int, list[tuple[int, ...]]]:
    """Width, height and RGB(A) pixels of an 8-bit non-interlaced PNG (what Chromium writes)."""
    data = Path(png).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, width = 8, b"", 0
    height = depth = ctype = interlace = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype, _c, _f, interlace = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG (depth {depth}, colour type {ctype}, interlace {interlace})")
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytearray] = []
    prev = bytearray(stride)
    i = 0
    for _ in range(height):
        f = raw[i]
        line = bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    pixels = [tuple(r[x:x + bpp]) for r in rows for x in range(0, stride, bpp)]
    return width, height, pixels


def colour_variety(png: Path) -> tuple[int, float]:
    """(distinct colours, share of the most common colour): a blank page is (1, 1.0)."""
    from collections import Counter

    _w, _h, pixels = png_pixels(png)
    counts = Counter(p[:3] for p in pixels)
    return len(counts), counts.most_common(1)[0][1] / len(pixels)
