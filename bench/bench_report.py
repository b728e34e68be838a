#!/usr/bin/env python3
"""Benchmark `repo-rlm report` on real repositories (sympy, a Django-size project).

    python bench/bench_report.py PATH [PATH ...] [--runs N] [--no-model-part] [--json]
    python bench/bench_report.py --synthetic 16000      # bench_index.py's generated polyglot monorepo

For every tree, in the same run:

  * cold index build (`repo-rlm index`), so the report runs on a warm index (not a target);
  * the baseline: a warm `repo-rlm index` re-check with nothing changed, which every report
    also pays (the ratio column is report wall / this);
  * `report --format json --no-model` and `report --format html --no-model`: wall clock
    (median of --runs) and peak RSS of the process (wait4's ru_maxrss), HTML and JSON size;
  * the phases of the static report in process (graph, entry points, history, rest);
  * the model part against tests/fakellm.py (no latency): sub-calls made against the number
    of modules, and the sub-calls of a second run (0: every module summary is cached).

Targets: report under 5 s on top of a warm index, peak memory under 1 GB. The trees are
never written to (the index and caches go to a temporary directory). Timings are noisy on a
shared machine; the ratio to the baseline measured in the same run is the stable number.
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

TARGET_S = 5.0
TARGET_MB = 1024.0
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def log(*a) -> None:
    print("[bench]", *a, file=sys.stderr, flush=True)


def run(cmd: list[str], env: dict) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB of the process, stdout)."""
    t = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _pid, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text, etext = out.read().decode(), err.read().decode()
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}): {etext[-800:]}")
    return wall, ru.ru_maxrss / 1024, text


def phases(repo: Path, index: Path, env: dict) -> dict:
    code = r"""
import json, sys, time
from pathlib import Path
from repo_rlm.query.repo import Repo
from repo_rlm.query import deps
from repo_rlm.query.entrypoints import find_entry_points
from repo_rlm.query.history import read_history, NoHistory
from repo_rlm.report.facts import build_facts, _reader
r = Repo.open(sys.argv[1], index_path=sys.argv[2])
read = _reader(Path(r.root))
out = {}
t = time.perf_counter(); g = deps.build_graph(r.conn, read); out["graph_s"] = time.perf_counter() - t
t = time.perf_counter(); find_entry_points(r.conn, read); out["entry_points_s"] = time.perf_counter() - t
t = time.perf_counter()
try:
    read_history(Path(r.root))
except NoHistory:
    pass
out["history_s"] = time.perf_counter() - t
t = time.perf_counter(); f = build_facts(r); out["facts_s"] = time.perf_counter() - t
out["edges"] = len(f.data["dependencies"]); out["modules"] = len(f.data["modules"])
out["cycles"] = len(f.data["cycles"]); out["entry_points"] = len(f.data["entry_points"])
print(json.dumps(out))
"""
    _w, _m, text = run([sys.executable, "-c", code, str(repo), str(index)], env)
    return json.loads(text)


def model_part(repo: Path, index: Path, env: dict) -> dict:
    sys.path.insert(0, str(ROOT))
    from tests.fakellm import MODEL, FakeLLM

    def handler(req):
        prompt = req["messages"][-1]["content"]
        for line in prompt.splitlines():
            if line.startswith("Modules: "):
                return "\n\n".join(f"## MODULE {n}\nThe {n} module." for n in line[9:].split(", "))
        return "An overview."

    fake = FakeLLM(handler).start()
    try:
        menv = env | {"REPO_RLM_MODEL": MODEL, "REPO_RLM_API_BASE": fake.api_base}
        cmd = [sys.executable, "-m", "repo_rlm.cli", "--repo", str(repo), "--index", str(index), "report", "--format", "json",
               "--max-sub-calls", "100000", "--budget", "1000"]
        wall1, mb1, text = run(cmd, menv)
        first = json.loads(text)["model"]
        n1 = len(fake.requests)
        wall2, _mb2, text = run(cmd, menv)
        second = json.loads(text)["model"]
        return {"modules": first["modules"], "sub_calls": first["sub_calls"], "requests": n1,
                "second_run_requests": len(fake.requests) - n1, "second_cached_modules": second["cached_modules"],
                "wall_s": wall1, "second_wall_s": wall2, "peak_mb": mb1}
    finally:
        fake.stop()


def bench(repo: Path, runs: int, model: bool) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-report-"))
    env = {**os.environ, "REPO_RLM_CACHE_DIR": str(tmp / "cache"), "XDG_CACHE_HOME": str(tmp / "xdg"),
           "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    for k in ("REPO_RLM_MODEL", "REPO_RLM_SUB_MODEL", "REPO_RLM_API_BASE", "REPO_RLM_INDEX"):
        env.pop(k, None)
    index = tmp / "index.db"
    cli = [sys.executable, "-m", "repo_rlm.cli", "--repo", str(repo), "--index", str(index)]
    log(f"{repo.name}: cold index")
    cold, _, text = run(cli + ["index", "--json"], env)
    files = json.loads(text)["files"]
    res: dict = {"repo": repo.name, "files": files, "cold_index_s": cold}
    warm = [run(cli + ["index", "--json"], env)[0] for _ in range(runs)]
    res["baseline_warm_index_s"] = statistics.median(warm)
    for fmt in ("json", "html"):
        log(f"{repo.name}: report --format {fmt}")
        walls, mbs = [], []
        for _ in range(runs):
            out = tmp / f"report.{fmt}"
            w, mb, _t = run(cli + ["report", "--format", fmt, "--no-model", "--out", str(out)], env)
            walls.append(w)
            mbs.append(mb)
        res[f"{fmt}_s"] = statistics.median(walls)
        res[f"{fmt}_peak_mb"] = max(mbs)
        res[f"{fmt}_kb"] = out.stat().st_size / 1024
    res["phases"] = phases(repo, index, env)
    if model:
        log(f"{repo.name}: model part against the fake server")
        res["model"] = model_part(repo, index, env)
    return res


def table(results: list[dict]) -> str:
    rows = ["| repo | files | modules | file edges | cycles | warm index s (baseline) | json s | html s | ratio html/baseline "
            "| peak MB | HTML KB | JSON KB | target |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in results:
        p = r["phases"]
        peak = max(r["json_peak_mb"], r["html_peak_mb"])
        ok = r["html_s"] < TARGET_S and peak < TARGET_MB
        rows.append(f"| {r['repo']} | {r['files']} | {p['modules']} | {p['edges']} | {p['cycles']} | {r['baseline_warm_index_s']:.2f} "
                    f"| {r['json_s']:.2f} | {r['html_s']:.2f} | {r['html_s'] / r['baseline_warm_index_s']:.1f}x | {peak:.0f} "
                    f"| {r['html_kb']:.0f} | {r['json_kb']:.0f} | {'met' if ok else 'MISSED'} (<{TARGET_S:.0f} s, <{TARGET_MB:.0f} MB) |")
    rows += ["", "| repo | graph s | entry points s | history s | all static facts s | entry points |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        p = r["phases"]
        rows.append(f"| {r['repo']} | {p['graph_s']:.2f} | {p['entry_points_s']:.2f} | {p['history_s']:.2f} | {p['facts_s']:.2f} | {p['entry_points']} |")
    if any("model" in r for r in results):
        rows += ["", "| repo | modules | sub-calls (map) | model requests (map + narrative) | second run requests | second run cached modules "
                 "| first run s | second run s |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in results:
            m = r.get("model")
            if m:
                rows.append(f"| {r['repo']} | {m['modules']} | {m['sub_calls']} | {m['requests']} | {m['second_run_requests']} "
                            f"| {m['second_cached_modules']} | {m['wall_s']:.2f} | {m['second_wall_s']:.2f} |")
    return "\n".join(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("paths", nargs="*", type=Path)
    ap.add_argument("--synthetic", help="comma-separated file counts of generated monorepos (bench_index.py's generator)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-model-part", action="store_true")
    ap.add_argument("--json", action="store_true", help="print the raw results as JSON on stdout (tables on stderr)")
    args = ap.parse_args()
    paths = [p.resolve() for p in args.paths]
    if args.synthetic:
        sys.path.insert(0, str(HERE))
        from bench_index import generate_synthetic

        for n in args.synthetic.split(","):
            log(f"generating a synthetic monorepo of {n} files")
            paths.append(generate_synthetic(int(n), Path(tempfile.mkdtemp(prefix="bench-report-synth-")) / f"synthetic-{n}"))
    if not paths:
        ap.error("give a PATH or --synthetic N")
    results = [bench(p, args.runs, not args.no_model_part) for p in paths]
    text = table(results)
    if args.json:
        print(text, file=sys.stderr)
        print(json.dumps(results, indent=2))
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
