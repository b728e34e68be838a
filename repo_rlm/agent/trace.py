"""A JSONL trace of a run: every model call, every cell and every sub-call, with its depth.

One JSON object a line, so a run can be followed with `tail -f` and read back with `jq`.
"""
from __future__ import annotations

import json
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any


KEEP = 200
_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(text: str) -> str:
    """Text that always encodes as UTF-8: lone surrogates (from `print('\\udcff')` in a cell, a model
    reply, an undecodable file name) become U+FFFD. Worker output and model replies pass here once."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def private_dir(path: Path, narrow: bool = True) -> Path:
    """Create `path` (and missing parents) 0700: traces and cached replies hold code and prompts.
    `narrow`: an existing folder (our cache folder) is narrowed to 0700 too."""
    if not path.exists():
        if not path.parent.exists():
            private_dir(path.parent, narrow=False)
        path.mkdir(mode=0o700, exist_ok=True)
    elif narrow:
        try:
            if path.stat().st_mode & 0o077:
                path.chmod(0o700)
        except OSError:
            pass
    return path


def private_file(path: Path, mode: str = "a") -> Any:
    """Open a file created 0600 (an existing one is narrowed to 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC), 0o600)
    try:
        os.fchmod(fd, 0o600)
    except OSError:
        pass
    return os.fdopen(fd, mode, encoding="utf-8", errors="backslashreplace")


def default_trace_path() -> Path:
    from repo_rlm.agent.models import cache_dir
    private_dir(cache_dir())
    folder = private_dir(cache_dir() / "traces")
    try:  # keep the newest KEEP traces: one file per run would otherwise grow without bound
        old = sorted(folder.glob("*.jsonl"))[:-KEEP]
        for p in old:
            p.unlink()
    except OSError:
        pass
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return folder / f"{stamp}-{uuid.uuid4().hex[:6]}.jsonl"


class Trace:
    def __init__(self, path: Path | None):
        self.path = Path(path) if path else None
        self._t0 = time.monotonic()
        self._f = None
        if self.path is not None:
            private_dir(self.path.parent, narrow=False)
            self._f = private_file(self.path)

    def event(self, kind: str, depth: int = 0, **fields: Any) -> None:
        if self._f is None:
            return
        rec = {"event": kind, "depth": depth, "t": round(time.monotonic() - self._t0, 4),
               "time": time.time(), "pid": os.getpid(), **fields}
        self._f.write(valid_text(json.dumps(rec, default=str, ensure_ascii=False)) + "\n")
        self._f.flush()

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
