#!/usr/bin/env python3
"""Benchmark the repo-rlm language server on any repository.

    python bench/bench_lsp.py PATH [--index FILE] [-n 200] [--seed 1]

1. builds (or updates) the index of PATH in-process, timed;
2. starts `python -m lsp_server` on PATH with that (warm) index, and times initialize and
   the first definition answer after it;
3. sends N definition and N references requests at positions sampled from the index (half
   on call sites, half on definition names), one at a time, and reports p50 / p95 / max;
4. reads the server's resident memory (current and peak) from /proc.

The index goes to --index, or to a temporary directory; PATH itself is never written to.
Targets (issue 4): definition and references p95 < 50 ms, first answer < 1 s after
initialize on a warm index, memory < 500 MB.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class Client:
    """A minimal JSON-RPC client over the server's stdio (no pygls on this side)."""

    def __init__(self, proc: asyncio.subprocess.Process):
        self.proc = proc
        self.next_id = 0
        self.pending: dict[int, asyncio.Future] = {}
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        out = self.proc.stdout
        while True:
            length = 0
            while True:
                line = await out.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            msg = json.loads(await out.readexactly(length))
            if "id" in msg and "method" in msg:  # a request from the server: accept it
                self._send({"jsonrpc": "2.0", "id": msg["id"], "result": None})
            elif "id" in msg:
                fut = self.pending.pop(msg["id"], None)
                if fut and not fut.done():
                    fut.set_result(msg)

    def _send(self, obj: dict) -> None:
        body = json.dumps(obj).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def request(self, method: str, params) -> dict:
        self.next_id += 1
        fut = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = fut
        self._send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        msg = await asyncio.wait_for(fut, 60)
        if "error" in msg:
            raise RuntimeError(f"{method}: {msg['error'].get('message')}")
        return msg.get("result")

    def notify(self, method: str, params) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})


def rss_mb(pid: int) -> tuple[float, float]:
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def sample_positions(repo, n: int, rng: random.Random) -> list[tuple[str, int, int]]:
    """(path, 0-based line, 0-based character) on call sites and definition names."""
    files = repo.files()
    rng.shuffle(files)
    calls, names = [], []
    for path in files:
        if len(calls) >= n and len(names) >= n:
            break
        try:
            items = repo.outline(path)
        except Exception:  # noqa: BLE001 - not an indexed source file
            continue
        stack = list(items)
        while stack:
            item = stack.pop()
            stack.extend(item.children)
            for d in repo.find_defs(item.name, path=path)[:1]:
                if d.path == path and d.name_line and len(names) < n:
                    names.append((path, d.name_line - 1, d.name_column - 1))
            if len(calls) < n:
                for c in repo.callees_of(item.qualname)[:2]:
                    text = repo.read(c.path).split("\n")[c.line - 1]
                    col = text.find(c.callee.rsplit(".", 1)[-1], c.column - 1)
                    if col >= 0 and text.isascii():
                        calls.append((c.path, c.line - 1, col))
    out = calls[: n // 2] + names[: n - min(len(calls), n // 2)]
    rng.shuffle(out)
    return out


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


async def bench(args) -> list[tuple[str, str, str]]:
    from pygls.uris import from_fs_path

    from repo_rlm.query.repo import Repo

    root = Path(args.path).resolve()
    index = Path(args.index) if args.index else Path(tempfile.mkdtemp(prefix="repo-rlm-bench-")) / "index.db"
    rows: list[tuple[str, str, str]] = []

    t0 = time.perf_counter()
    repo = Repo.open(root=root, index_path=index)
    build = time.perf_counter() - t0
    stats = repo.stats
    rows.append(("repository", f"{stats['files']} files, {stats.get('lines', 0):,} lines, {stats['symbols']:,} symbols", ""))
    rows.append(("index build/update (in-process)", f"{build:.1f} s", ""))
    rng = random.Random(args.seed)
    positions = sample_positions(repo, args.n, rng)
    repo.close()

    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t_spawn = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lsp_server", "--index", str(index),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env,
    )
    client = Client(proc)
    await client.request("initialize", {
        "processId": os.getpid(), "rootUri": from_fs_path(str(root)),
        "capabilities": {"window": {"workDoneProgress": True}},
    })
    t_init = time.perf_counter()
    client.notify("initialized", {})
    path, line, char = positions[0]
    first = {"textDocument": {"uri": from_fs_path(str(root / path))}, "position": {"line": line, "character": char}}
    await client.request("textDocument/definition", first)
    t_first = time.perf_counter()
    rows.append(("spawn -> initialize result", f"{(t_init - t_spawn) * 1000:.0f} ms", ""))
    ok = (t_first - t_init) < 1.0
    rows.append(("initialize -> first definition (warm index)", f"{(t_first - t_init) * 1000:.0f} ms", "ok < 1 s" if ok else "SLOW (> 1 s)"))

    await asyncio.sleep(1.0)  # let the background update check finish, as in an editor
    for method in ("textDocument/definition", "textDocument/references"):
        times, found = [], 0
        for path, line, char in positions:
            params = {"textDocument": {"uri": from_fs_path(str(root / path))}, "position": {"line": line, "character": char}}
            if method.endswith("references"):
                params["context"] = {"includeDeclaration": True}
            t = time.perf_counter()
            result = await client.request(method, params)
            times.append((time.perf_counter() - t) * 1000)
            found += bool(result)
        p95 = pct(times, 0.95)
        rows.append((
            f"{method.split('/')[1]} x{len(times)} (p50 / p95 / max)",
            f"{statistics.median(times):.1f} / {p95:.1f} / {max(times):.1f} ms",
            ("ok < 50 ms" if p95 < 50 else "SLOW (p95 > 50 ms)") + f", {found}/{len(times)} non-empty",
        ))

    rss, peak = rss_mb(proc.pid)
    rows.append(("server memory (RSS / peak)", f"{rss:.0f} / {peak:.0f} MB", "ok < 500 MB" if peak < 500 else "HIGH (> 500 MB)"))
    await client.request("shutdown", None)
    client.notify("exit", None)
    await asyncio.wait_for(proc.wait(), 10)
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("path", nargs="?", default=".", help="repository to benchmark (default: .)")
    p.add_argument("--index", help="index file (default: a new temporary directory)")
    p.add_argument("-n", type=int, default=200, help="requests per method (default 200)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    rows = asyncio.run(bench(args))
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    print(f"{'measure':<{width[0]}}  {'value':<{width[1]}}  verdict")
    print(f"{'-' * width[0]}  {'-' * width[1]}  {'-' * max(width[2], 7)}")
    for a, b, c in rows:
        print(f"{a:<{width[0]}}  {b:<{width[1]}}  {c}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
