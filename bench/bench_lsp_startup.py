#!/usr/bin/env python3
"""How long the language server takes to answer `initialize`, next to a bare pygls server.

    python bench/bench_lsp_startup.py [PATH] [-n 7]

Spawns each server N times on PATH (default: fixtures/pyapp, its index in a temporary
directory), sends `initialize` at once, and times spawn -> result. The baseline is a pygls
LanguageServer with no features: what any pygls server pays (Python, lsprotocol, pygls).
The ratio is repo-rlm's time over the baseline's, measured in the same run. Also prints the
slowest imports of `python -X importtime -m lsp_server` (self time, best of the runs).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BARE = "from pygls.lsp.server import LanguageServer; LanguageServer('bare', '0').start_io()"


def frame(obj: dict) -> bytes:
    body = json.dumps(obj).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def time_initialize(cmd: list[str], root: Path, env: dict) -> float:
    init = frame({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                  "params": {"processId": None, "rootUri": root.as_uri(), "capabilities": {}}})
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    proc.stdin.write(init)
    proc.stdin.flush()
    header = b""
    while not header.endswith(b"\r\n\r\n"):
        header += proc.stdout.read(1)
    length = int(header.split(b"Content-Length:")[1].split(b"\r\n")[0])
    json.loads(proc.stdout.read(length))
    elapsed = time.perf_counter() - t0
    proc.kill()
    proc.wait()
    return elapsed


def slowest_imports(env: dict, runs: int, top: int = 8) -> list[tuple[str, int]]:
    best: dict[str, int] = {}
    for _ in range(runs):
        err = subprocess.run([sys.executable, "-X", "importtime", "-c", "import lsp_server.__main__"],
                             capture_output=True, text=True, env=env, cwd=ROOT).stderr
        for line in err.splitlines():
            if line.startswith("import time:") and "|" in line and "self" not in line:
                self_us, _cum, name = (p.strip() for p in line[len("import time:"):].split("|"))
                best[name] = min(best.get(name, 1 << 62), int(self_us))
    return sorted(best.items(), key=lambda kv: -kv[1])[:top]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", nargs="?", default=str(ROOT / "fixtures" / "pyapp"))
    ap.add_argument("-n", type=int, default=7)
    args = ap.parse_args()
    root = Path(args.path).resolve()
    # bytecode ahead, as an installed package has it (pygls's came with its wheel): under
    # PYTHONDONTWRITEBYTECODE an editable install would compile repo_rlm at every spawn
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "repo_rlm"), str(ROOT / "lsp_server")],
                   capture_output=True, timeout=300)
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("REPO_RLM_")}
        env.update(XDG_CACHE_HOME=tmp, REPO_RLM_INDEX=str(Path(tmp) / "index.db"))
        ours = [sys.executable, "-m", "lsp_server", "--stdio"]
        bare = [sys.executable, "-c", BARE]
        times: dict[str, list[float]] = {"bare pygls": [], "repo-rlm lsp": []}
        for _ in range(args.n):  # interleaved: load on the machine hits both alike
            times["bare pygls"].append(time_initialize(bare, root, env))
            times["repo-rlm lsp"].append(time_initialize(ours, root, env))
        base = statistics.median(times["bare pygls"])
        print(f"spawn -> initialize result, {args.n} runs each (median / min)")
        print(f"{'server':<16}{'median':>10}{'min':>10}{'ratio':>8}")
        for name, ts in times.items():
            med = statistics.median(ts)
            print(f"{name:<16}{med * 1000:>8.0f}ms{min(ts) * 1000:>8.0f}ms{med / base:>8.2f}")
        print("\nslowest imports of `python -m lsp_server` (self time, best of 3)")
        for name, us in slowest_imports(env, 3):
            print(f"  {us / 1000:>7.1f} ms  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
