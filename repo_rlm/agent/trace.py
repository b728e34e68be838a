"""A JSONL trace of a run: every model call, every cell and every sub-call, with its depth.

One JSON object a line, so a run can be followed with `tail -f` and read back with `jq`.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any


KEEP = 200


def default_trace_path() -> Path:
    from repo_rlm.agent.models import cache_dir
    folder = cache_dir() / "traces"
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
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._f = open(self.path, "a", encoding="utf-8")

    def event(self, kind: str, depth: int = 0, **fields: Any) -> None:
        if self._f is None:
            return
        rec = {"event": kind, "depth": depth, "t": round(time.monotonic() - self._t0, 4),
               "time": time.time(), "pid": os.getpid(), **fields}
        self._f.write(json.dumps(rec, default=str, ensure_ascii=False) + "\n")
        self._f.flush()

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
