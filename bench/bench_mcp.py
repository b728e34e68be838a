#!/usr/bin/env python3
"""Benchmark `repo-rlm mcp` on any repository, through the official MCP SDK's client over stdio.

    python bench/bench_mcp.py PATH [--index FILE] [-n 200] [--seed 1]

1. builds (or updates) the index of PATH in-process (so the server starts on a warm index);
2. starts `repo-rlm --repo PATH --index FILE mcp` and times spawn -> initialized and the
   first `find_defs` answer after that;
3. calls `find_defs` (bare names), `callers_of` (qualified names) and `read_span` (definition
   spans of at most 60 lines) N times each with arguments sampled from the index, one at a time,
   with the server's default limit, and reports p50 / p95 / max, against a baseline measured in
   the same run: the same registry calls in-process, with no protocol, no JSON and no process hop;
4. reads the server's resident memory (current and peak) from /proc.

PATH is never written to. Targets (issue 8): p95 < 50 ms for the three tools, server memory
< 500 MB, first answer < 1 s after initialization on a warm index.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOOLS = ("find_defs", "callers_of", "read_span")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def rss_mb(pid: int) -> tuple[float, float]:
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def server_pid() -> int | None:
    """The MCP server among this process's children (the SDK client spawned it)."""
    me = str(os.getpid())
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[1] == me and b"mcp" in argv:
            return int(entry)
    return None


def sample(repo, n: int, rng: random.Random) -> dict[str, list[dict]]:
    rows = repo.conn.execute(
        "SELECT s.name, s.qualname, f.path, s.start_line, s.end_line FROM symbols s JOIN files f ON f.id = s.file_id "
        "WHERE s.kind IN ('function', 'method', 'class')").fetchall()
    picks = [rows[rng.randrange(len(rows))] for _ in range(n)]
    return {
        "find_defs": [{"name": name} for name, _q, _p, _s, _e in picks],
        "callers_of": [{"symbol": qual} for _n, qual, _p, _s, _e in picks],
        "read_span": [{"path": path, "start_line": s, "end_line": min(e, s + 59)} for _n, _q, path, s, e in picks],
    }


async def bench(args) -> list[tuple[str, str, str, str]]:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    from repo_rlm.mcp.server import DEFAULT_LIMIT
    from repo_rlm.query.helpers import HELPERS
    from repo_rlm.query.repo import Repo

    root = Path(args.path).resolve()
    index = Path(args.index) if args.index else Path(tempfile.mkdtemp(prefix="repo-rlm-bench-")) / "index.db"
    rows: list[tuple[str, str, str, str]] = []
    t0 = time.perf_counter()
    repo = Repo.open(root=root, index_path=index)
    build = time.perf_counter() - t0
    stats = repo.stats
    rows.append(("repository", f"{stats['files']:,} files, {stats['symbols']:,} symbols, {stats['calls']:,} calls", "", ""))
    rows.append(("index build/update (in-process)", f"{build:.1f} s", "", ""))
    calls = sample(repo, args.n, random.Random(args.seed))

    baseline: dict[str, list[float]] = {}
    for tool in TOOLS:  # the same registry calls in-process: what the protocol adds is the difference
        times = []
        for a in calls[tool]:
            a = {**a, "limit": DEFAULT_LIMIT} if HELPERS[tool].many else a
            t = time.perf_counter()
            HELPERS[tool].call(repo, a)
            times.append((time.perf_counter() - t) * 1000)
        baseline[tool] = times
    repo.close()

    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    params = StdioServerParameters(command=sys.executable, env=env,
                                   args=["-m", "repo_rlm.cli", "--repo", str(root), "--index", str(index), "mcp"])
    t_spawn = time.perf_counter()
    async with Client(params, read_timeout_seconds=120) as client:
        t_init = time.perf_counter()
        first = await client.call_tool("find_defs", calls["find_defs"][0])
        t_first = time.perf_counter()
        assert not first.is_error, first.content[0].text
        rows.append(("spawn -> initialized", f"{(t_init - t_spawn) * 1000:.0f} ms", "", ""))
        rows.append(("spawn -> first answer (warm index)", f"{(t_first - t_spawn) * 1000:.0f} ms", "", ""))
        ms = (t_first - t_init) * 1000
        rows.append(("initialized -> first find_defs (warm index)", f"{ms:.0f} ms", "", "ok < 1 s" if ms < 1000 else "SLOW (> 1 s)"))
        await asyncio.sleep(1.0)  # let the background re-check of the index finish
        for tool in TOOLS:
            times, errors = [], 0
            for a in calls[tool]:
                t = time.perf_counter()
                r = await client.call_tool(tool, a)
                times.append((time.perf_counter() - t) * 1000)
                errors += r.is_error
            p95, base95 = pct(times, 0.95), pct(baseline[tool], 0.95)
            rows.append((f"{tool} x{len(times)} (p50 / p95 / max)",
                         f"{statistics.median(times):.1f} / {p95:.1f} / {max(times):.1f} ms",
                         f"{statistics.median(baseline[tool]):.1f} / {base95:.1f} ms in-process "
                         f"(p95 x{p95 / max(base95, 0.001):.1f})",
                         ("ok < 50 ms" if p95 < 50 else "SLOW (p95 > 50 ms)") + (f", {errors} errors" if errors else "")))
        pid = server_pid()
        if pid is not None:
            rss, peak = rss_mb(pid)
            rows.append(("server memory (RSS / peak)", f"{rss:.0f} / {peak:.0f} MB", "",
                         "ok < 500 MB" if peak < 500 else "HIGH (> 500 MB)"))
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("path", nargs="?", default=".", help="repository to benchmark (default: .)")
    p.add_argument("--index", help="index file (default: a new temporary directory)")
    p.add_argument("-n", type=int, default=200, help="calls per tool (default 200)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    rows = asyncio.run(bench(args))
    head = ("measure", "MCP", "baseline", "verdict")
    width = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    for r in [head, tuple("-" * w for w in width), *rows]:
        print("  ".join(f"{c:<{width[i]}}" for i, c in enumerate(r)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
