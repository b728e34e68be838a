"""Benchmark `repo-rlm review` on a real pull request of a sympy-size repository.

    python bench/bench_review.py [--repo PATH] [--merge SHA]

--repo is a clone of sympy (fetched outside this repository, e.g. /work/ext/review-sympy); the
merge commit's first parent is the base and the merge the head (default: sympy PR #29189, 21 files).
The bench checks the merge out in that clone (it is the bench's own clone).

Static report: the time to `review --no-model --json`, in three states: nothing cached; the
work tree's index warm (a user who has run repo-rlm before; the base is seeded from a copy of it
and only differing files are parsed); and both sides warm (the next push). Baseline, measured in
the same run: a full `repo-rlm index` of the head.

Model part: 30 changed-symbol prompts against tests/fakellm.py at 0.5 s latency, for several
concurrency caps, against the ideal ceil(30 / concurrency) x 0.5 s.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

DEFAULT_REPO = "/work/ext/review-sympy"
DEFAULT_MERGE = "8b31b821eb5ab69654781f7cd4722bf72cf932e8"  # sympy PR #29189: ndim, not rank, for arrays
LATENCY = 0.5
SYMBOLS = 30


def cli(repo: Path, env: dict, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "repo_rlm.cli", "--repo", str(repo), *args], capture_output=True,
                       text=True, env=env, cwd=str(HERE.parent))
    if r.returncode not in (0, 4):
        sys.exit(f"bench: {' '.join(args)} failed: {r.stderr.strip()}")
    return time.perf_counter() - t, r


def static_part(repo: Path, merge: str, warm: str) -> dict:
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", "--detach", merge], check=True)
    base = subprocess.run(["git", "-C", str(repo), "rev-parse", merge + "^1"], check=True, capture_output=True,
                          text=True).stdout.strip()
    files = subprocess.run(["git", "-C", str(repo), "diff", "--name-only", base, merge], check=True,
                           capture_output=True, text=True).stdout.split()
    out = {"files_changed": len(files)}
    with tempfile.TemporaryDirectory() as cold:
        env_cold = dict(os.environ, XDG_CACHE_HOME=cold)
        env_warm = dict(os.environ, XDG_CACHE_HOME=warm)
        args = ("review", "--base", base, "--no-model", "--json")
        out["index_full"], _ = cli(repo, env_warm, "index")
        out["review_cold"], r = cli(repo, env_cold, *args)
        out["review_head_warm"], _ = cli(repo, env_warm, *args)
        out["review_both_warm"], _ = cli(repo, env_warm, *args)
    d = json.loads(r.stdout)
    out["changed_symbols"] = d["coverage"]["changed_symbols"]
    out["affected_callers"] = d["coverage"]["affected_callers"]
    out["findings"] = len(d["findings"])
    out["base"] = base
    return out


def model_part(repo: Path, base: str, warm: str) -> list[tuple[int, float, float]]:
    """(concurrency, seconds, ideal seconds) for SYMBOLS prompts built from the change (warm indexes)."""
    from fakellm import MODEL, FakeLLM

    from repo_rlm.query.diff import compare
    from repo_rlm.query.repo import Repo, default_index_path
    from repo_rlm.review import model, revisions

    os.environ["XDG_CACHE_HOME"] = warm
    head_sha = revisions.resolve(repo, "HEAD")
    with revisions.locked(repo) as cache:
        head = Repo.open(repo, default_index_path(repo))
        base_repo = Repo.open(revisions.checkout(repo, cache, "base", base), cache / "base.db")
        diff = compare(base_repo, head, revisions.changed_files(repo, base, head_sha))
        changes = [c for c in diff.changed if c.change in ("signature", "body", "added")] or diff.changed
        prompts = [model.build_prompt(changes[i % len(changes)], [], base_repo, head, [f"bench prompt {i}"])
                   for i in range(SYMBOLS)]
        fake = FakeLLM(lambda req: "[]", latency=LATENCY).start()
        rows = []

        def run(ps, conc):
            return model.run(ps, head, MODEL, api_base=fake.api_base, api_key=None, budget_usd=None, max_tokens=None,
                             max_sub_calls=100, max_concurrency=conc, timeout_s=120, use_cache=False)

        try:
            run(prompts[:1], 1)  # warm-up: litellm's import and first connection
            for conc in (16, 8, 4):
                t = time.perf_counter()
                res = run(prompts, conc)
                assert res.reviewed == SYMBOLS, res
                rows.append((conc, time.perf_counter() - t, math.ceil(SYMBOLS / conc) * LATENCY))
        finally:
            fake.stop()
            head.close()
            base_repo.close()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repo", default=DEFAULT_REPO)
    ap.add_argument("--merge", default=DEFAULT_MERGE)
    a = ap.parse_args()
    repo = Path(a.repo)
    if not (repo / ".git").exists():
        sys.exit(f"bench: no clone at {repo}; clone sympy there first")
    warm = tempfile.mkdtemp(prefix="bench-review-")
    try:
        report(repo, a.merge, warm)
    finally:
        shutil.rmtree(warm, ignore_errors=True)


def report(repo: Path, merge: str, warm: str) -> None:
    s = static_part(repo, merge, warm)
    print(f"## static report: {s['files_changed']} files changed, {s['changed_symbols']} changed symbols, "
          f"{s['affected_callers']} affected callers, {s['findings']} findings\n")
    print("| run | seconds | ratio to a full index |")
    print("| --- | ---: | ---: |")
    base = s["index_full"]
    for key, label in (("index_full", "baseline: full `index` of the head"),
                       ("review_cold", "review, nothing cached (indexes head, then base)"),
                       ("review_head_warm", "review, work-tree index warm (first review)"),
                       ("review_both_warm", "review again (both sides warm)")):
        print(f"| {label} | {s[key]:.2f} | {s[key] / base:.2f} |")
    rows = model_part(repo, s["base"], warm)
    print(f"\n## model part: {SYMBOLS} sub-calls, fake server at {LATENCY} s latency\n")
    print("| concurrency | seconds | ideal ceil(30/c) x 0.5 s | ratio |")
    print("| ---: | ---: | ---: | ---: |")
    for conc, secs, ideal in rows:
        print(f"| {conc} | {secs:.2f} | {ideal:.2f} | {secs / ideal:.2f} |")


if __name__ == "__main__":
    main()
