"""Engine benchmark: `python bench/bench_engine.py [--files N]`.

Runs the real engine (real litellm HTTP path, real sandboxed REPL worker) against the fake
OpenAI-compatible server at a fixed latency and prints:
- the engine's own overhead per iteration, model time excluded (target < 50 ms);
- the speed-up of 16 batched sub-calls over 16 sequential ones;
- the root prompt's size in tokens for a tiny fixture and a large synthetic repository
  (it must not grow with the repository).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from repo_rlm.agent.ask import AskConfig, ask_async  # noqa: E402
from repo_rlm.query.repo import Repo  # noqa: E402
from tests.fakellm import MODEL, Delay, FakeLLM, Script, repl  # noqa: E402

LATENCY = 0.05


def config(fake: FakeLLM, tmp: Path, **kw) -> AskConfig:
    base = dict(model=MODEL, api_base=fake.api_base, api_key="dummy", use_cache=False, budget_usd=None,
                trace_path=tmp / f"trace-{time.monotonic_ns()}.jsonl", max_iterations=100, timeout_s=300)
    base.update(kw)
    return AskConfig(**base)


async def overhead(fake: FakeLLM, repo: Repo, tmp: Path, n: int = 20) -> dict[str, float]:
    fake.handler = Script([repl(f"x{i} = find_defs('*')[:3]\nprint(len(x{i}))") for i in range(n)]
                          + [repl("FINAL('done')")])
    fake.latency = LATENCY
    cfg = config(fake, tmp)
    start = time.monotonic()
    r = await ask_async(repo, "benchmark", cfg)
    wall = time.monotonic() - start
    events = [json.loads(x) for x in Path(r.trace).read_text().splitlines()]
    model = sum(e["latency_s"] for e in events if e["event"] == "model_call")
    calls = sum(1 for e in events if e["event"] == "model_call")
    cells = [e for e in events if e["event"] == "cell"]
    startup = next(e["t"] for e in events if e["event"] == "model_call") - events[0]["t"] - events[1]["latency_s"]
    return {"iterations": r.iterations, "wall_s": wall, "model_s": model,
            "overhead_ms": (wall - model - max(startup, 0)) / r.iterations * 1000,
            "litellm_ms": (model - calls * LATENCY) / calls * 1000, "startup_ms": max(startup, 0) * 1000,
            "cell_ms": sum(c["seconds"] for c in cells) / len(cells) * 1000}


async def fanout(fake: FakeLLM, tmp: Path) -> dict[str, float]:
    fake.latency = 0.0
    out = {}
    for name, code in (("batched", "r = llm_query_batched([f'p{i}' for i in range(16)])"),
                       ("sequential", "r = [llm_query(f'q{i}') for i in range(16)]")):
        fake.handler = Script([repl(code), repl("FINAL(str(len(r)))")], sub=lambda p: Delay("ok", 0.5))
        start = time.monotonic()
        res = await ask_async(None, "fan-out", config(fake, tmp, context_text="x" * 1000))
        assert res.answer == "16", res.answer
        out[name] = time.monotonic() - start
    return out


async def prompt_tokens(fake: FakeLLM, repo: Repo, tmp: Path) -> int:
    import litellm
    fake.latency = 0.0
    fake.handler = Script([repl("print(1)"), repl("FINAL('x')")])
    fake.requests.clear()
    await ask_async(repo, "Where is the session checked?", config(fake, tmp))
    return litellm.token_counter(model="gpt-4o-mini", messages=fake.requests[0]["messages"])


def synthetic_repo(dest: Path, files: int) -> Path:
    for i in range(files):
        d = dest / f"pkg{i % 40}" / f"mod{i % 7}"
        d.mkdir(parents=True, exist_ok=True)
        body = "\n\n".join(f"def func_{i}_{j}(x):\n    return helper_{j}(x) + {j}\n" for j in range(8))
        (d / f"file_{i}.py").write_text(f'"""Module {i}."""\nfrom pkg0 import helpers\n\n{body}')
    (dest / "pkg0" / "helpers.py").write_text("def helper_0(x):\n    return x\n")
    (dest / "main.py").write_text("import pkg0\n")
    return dest


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=3000, help="files in the synthetic large repository")
    a = ap.parse_args()
    import litellm  # noqa: F401 - imported once (about 3 s) before anything is timed
    fake = FakeLLM().start()
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        os.environ["REPO_RLM_CACHE_DIR"] = str(tmp / "cache")
        tiny = Repo.open(ROOT / "fixtures" / "pyapp", index_path=tmp / "tiny.db")
        mid = Repo.open(synthetic_repo(tmp / "mid", max(1, a.files // 10)), index_path=tmp / "mid.db")
        t0 = time.monotonic()
        big = Repo.open(synthetic_repo(tmp / "big", a.files), index_path=tmp / "big.db")
        index_s = time.monotonic() - t0
        ov = await overhead(fake, tiny, tmp)
        fo = await fanout(fake, tmp)
        tiny_tokens = await prompt_tokens(fake, tiny, tmp)
        mid_tokens = await prompt_tokens(fake, mid, tmp)
        big_tokens = await prompt_tokens(fake, big, tmp)
        big_stats = big.stats
        fake.stop()
    rows = [
        ("engine overhead / iteration (model time excluded)", f"{ov['overhead_ms']:.1f} ms", "< 50 ms"),
        ("  of which: cell execution in the sandbox", f"{ov['cell_ms']:.1f} ms", ""),
        ("litellm client overhead / call (beyond server latency)", f"{ov['litellm_ms']:.1f} ms", ""),
        ("REPL worker start (bubblewrap + index open) + prompt", f"{ov['startup_ms']:.0f} ms", "once per run"),
        (f"{ov['iterations']} iterations at {LATENCY * 1000:.0f} ms model latency", f"{ov['wall_s']:.2f} s wall", ""),
        ("16 sub-calls of 0.5 s, sequential", f"{fo['sequential']:.2f} s", ""),
        ("16 sub-calls of 0.5 s, llm_query_batched", f"{fo['batched']:.2f} s", "well under 8 s"),
        ("fan-out speed-up", f"{fo['sequential'] / fo['batched']:.1f}x", ""),
        (f"root prompt, tiny fixture ({tiny.stats['files']} files)", f"{tiny_tokens} tokens", ""),
        (f"root prompt, synthetic repo ({mid.stats['files']} files)", f"{mid_tokens} tokens", ""),
        (f"root prompt, synthetic repo ({big_stats['files']} files, {big_stats['symbols']} symbols; "
         f"indexed in {index_s:.1f} s)", f"{big_tokens} tokens", "must not grow"),
    ]
    try:
        from rich.console import Console
        from rich.table import Table
        table = Table(title="repo-rlm engine benchmark")
        for col in ("measure", "result", "target"):
            table.add_column(col)
        for r in rows:
            table.add_row(*r)
        Console().print(table)
    except ImportError:
        for r in rows:
            print(" | ".join(r))


if __name__ == "__main__":
    asyncio.run(main())
