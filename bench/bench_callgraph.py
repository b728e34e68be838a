#!/usr/bin/env python3
"""Call resolution: this tree against a baseline revision, on one repository.

    python bench/bench_callgraph.py PATH [--base REV] [--runs N] [--lang python|js|go|java|...]

The baseline is repo-rlm at REV (default: the parent of the value-flow work, aefeca3), taken
with `git archive` into a temporary directory. Each version builds its own index of PATH (in a
temporary directory, with the fact cache off so that no index of another clone seeds it with
facts of another extractor; PATH is only read), then the resolve step runs N times per
version, alternating, so both see the same machine load. Printed: the best resolve time of each
(wall clock, and the process's CPU time, steadier on a loaded machine), their ratios to the
baseline (target: at most 1.30), and the call rows by resolution label with the in-repository edges.
`--lang go` (or java, csharp, ...) times the other languages' resolver on that language's files;
`--lang js` takes the JavaScript, TypeScript and TSX files together.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE = "aefeca3d145a259a42e7e0e25010f1ee1f469b37"

RESOLVE = r'''
import json, sys, time
sys.path.insert(0, sys.argv[1]); sys.setrecursionlimit(10000)
from pathlib import Path
from repo_rlm.index import store, resolve_generic, resolve_python
from repo_rlm.query.repo import Repo
if sys.argv[4] == "build":
    Repo.open(Path(sys.argv[2]), index_path=Path(sys.argv[3])).close()
    raise SystemExit
c = store.connect(Path(sys.argv[3]))
lang = sys.argv[5]
langs = ("javascript", "typescript", "tsx") if lang == "js" else (lang,)
marks = ",".join("?" * len(langs))
ids = [x[0] for x in c.execute(f"SELECT id FROM files WHERE lang IN ({marks})", langs)]
with c:
    c.execute(f"UPDATE files SET resolved=0 WHERE lang IN ({marks})", langs)
    t, cpu = time.perf_counter(), time.process_time()
    (resolve_python if lang == "python" else resolve_generic).resolve_files(c, ids)
    dt, cpu = time.perf_counter() - t, time.process_time() - cpu
    c.execute("UPDATE files SET resolved=1 WHERE resolved=0")
labels = dict(c.execute("SELECT c.resolution, COUNT(*) FROM calls c JOIN files f ON f.id = c.file_id "
                        f"WHERE f.lang IN ({marks}) GROUP BY c.resolution", langs))
edges = c.execute(f"SELECT COUNT(*) FROM calls c JOIN files f ON f.id = c.file_id WHERE f.lang IN ({marks}) "
                  "AND c.target IS NOT NULL AND c.target NOT LIKE '<%'", langs).fetchone()[0]
print(json.dumps({"seconds": dt, "cpu": cpu, "labels": labels, "edges": edges}))
'''


def run(code: Path, repo: Path, db: Path, what: str, lang: str = "python") -> dict:
    out = subprocess.run([sys.executable, "-c", RESOLVE, str(code), str(repo), str(db), what, lang],
                         capture_output=True, text=True,  # parse workers import `code` too; no shared fact cache
                         env={**os.environ, "PYTHONPATH": str(code), "REPO_RLM_FACT_CACHE": "off"})
    if out.returncode != 0:
        raise SystemExit(f"{code}: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else 'failed'}")
    return json.loads(out.stdout) if what == "resolve" else {}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path")
    ap.add_argument("--base", default=BASE)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--lang", default="python", help="the files whose calls are resolved: python (default), js (JS, TS, TSX), go, java, ...")
    args = ap.parse_args()
    repo = Path(args.path).resolve()
    if not repo.is_dir():
        print(f"not a directory: {args.path}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        base.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.base, "repo_rlm"], capture_output=True)
        if archive.returncode != 0:
            print(f"unknown revision: {args.base}", file=sys.stderr)
            return 2
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive.stdout, check=True)
        versions = {"baseline": base, "this tree": ROOT}
        dbs = {k: Path(tmp) / f"{i}.db" for i, k in enumerate(versions)}
        for k, code in versions.items():
            run(code, repo, dbs[k], "build")
        best: dict[str, dict] = {}
        for _ in range(args.runs):
            for k, code in versions.items():
                r = run(code, repo, dbs[k], "resolve", args.lang)
                if k not in best:
                    best[k] = r
                best[k]["seconds"] = min(best[k]["seconds"], r["seconds"])
                best[k]["cpu"] = min(best[k]["cpu"], r["cpu"])
    b, bcpu = best["baseline"]["seconds"], best["baseline"]["cpu"]
    names = sorted(best["this tree"]["labels"])
    print(f"| version | resolve s | ratio | CPU s | CPU ratio | in-repo edges | {' | '.join(names)} |")
    print("| --- | --- | --- | --- | --- | --- |" + " --- |" * len(names))
    for k, r in best.items():
        labels = " | ".join(str(r["labels"].get(lb, 0)) for lb in names)
        print(f"| {k} | {r['seconds']:.2f} | {r['seconds'] / b:.2f} | {r['cpu']:.2f} | {r['cpu'] / bcpu:.2f} "
              f"| {r['edges']} | {labels} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
