"""Headless Chromium (Debian's `chromium`) for tests of HTML pages: the DOM after scripts ran,
and a screenshot. Pages are opened from file:// with the network unreachable for them."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

BIN = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
         "--proxy-server=127.0.0.1:9", "--virtual-time-budget=2000"]


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    assert BIN, "chromium is not installed (.ci/run installs Debian's chromium)"
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run([BIN, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=timeout)


def dump_dom(page: Path, timeout: float = 90) -> str:
    """The serialized DOM of `page` after its scripts ran."""
    p = _run(["--dump-dom", Path(page).resolve().as_uri()], timeout)
    assert p.returncode == 0 and "<html" in p.stdout, p.stderr[-2000:]
    return p.stdout


def screenshot(page: Path, png: Path, size: str = "1200,900", timeout: float = 90) -> bytes:
    """A PNG of `page`; returns its bytes."""
    p = _run([f"--screenshot={png}", f"--window-size={size}", Path(page).resolve().as_uri()], timeout)
    assert p.returncode == 0 and Path(png).is_file(), p.stderr[-2000:]
    return Path(png).read_bytes()
