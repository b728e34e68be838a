"""Search quality and speed: file localization on real bug-fix commits, against plain BM25.

Reads the JSONL that bench/localization/build_dataset.py writes (query = a commit message, gold =
the non-test files it changed), indexes each repository's snapshot, and reports file Acc@1/5/10
for each search mode beside BM25 over whole files, measured in the same run; then query latency.

    python bench/bench_search.py /tmp/loc.jsonl --clones DIR   # DIR/<repo> are the clones
Rows are split into a development half (even positions, used to choose the ranking weights) and
a test half (odd); both are printed.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from repo_rlm.query.repo import Repo  # noqa: E402
from repo_rlm.query.search import terms  # noqa: E402

KS = (1, 5, 10)


def bm25_files(repo: Repo) -> sqlite3.Connection:
    """The baseline: one FTS5 row per whole file (its text), ranked by bm25."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(path UNINDEXED, body)")
    for (path,) in repo.conn.execute("SELECT path FROM files WHERE lang = 'python'"):
        try:
            text = (repo.root / path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        db.execute("INSERT INTO docs VALUES (?, ?)", (path, text))
    return db


def bm25_rank(db: sqlite3.Connection, query: str, n: int) -> list[str]:
    words = terms(query, expand=False)
    if not words:
        return []
    match = " OR ".join(f'"{w}"' for w in words)
    return [r[0] for r in db.execute("SELECT path FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT ?", (match, n))]


def accuracy(ranked: list[str], gold: list[str]) -> dict[int, float]:
    return {k: float(any(g in ranked[:k] for g in gold)) for k in KS}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--clones", type=Path, required=True)
    ap.add_argument("--index-dir", type=Path, default=None, help="where the indexes go (default: next to the clones)")
    ap.add_argument("--modes", default="lexical", help="comma-separated search modes to score")
    ap.add_argument("--repos", default="", help="comma-separated repository names to keep (default: all)")
    a = ap.parse_args(argv)
    rows = [json.loads(line) for line in a.dataset.read_text().splitlines() if line.strip()]
    keep = {r for r in a.repos.split(",") if r}
    rows = [r for r in rows if not keep or r["repo"] in keep]
    by_repo: dict[str, list[tuple[int, dict]]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_repo[r["repo"]].append((i, r))
    modes = [m for m in a.modes.split(",") if m]
    methods = ["bm25-files"] + modes
    scores = {m: {"dev": defaultdict(list), "test": defaultdict(list)} for m in methods}
    latency: dict[str, list[float]] = defaultdict(list)
    embed_stats: dict[str, tuple[int, float, int]] = {}
    for name, items in by_repo.items():
        idx = (a.index_dir or a.clones) / f"{name}.search.db"
        t0 = time.perf_counter()
        repo = Repo.open(a.clones / name, index_path=idx)
        print(f"{name}: {len(items)} queries, index ready in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        if set(modes) - {"lexical"}:
            t0 = time.perf_counter()
            done = repo.embed()
            embed_stats[name] = (done["chunks"], time.perf_counter() - t0, done["embedded"])
        base = bm25_files(repo)
        for i, r in items:
            split = "dev" if i % 2 == 0 else "test"
            ranked = {"bm25-files": bm25_rank(base, r["query"], 10)}
            for m in modes:
                t = time.perf_counter()
                ranked[m] = [h.path for h in repo.search_files(r["query"], k=10, mode=m)]
                latency[m].append(time.perf_counter() - t)
            for m in methods:
                for k, v in accuracy(ranked[m], r["gold"]).items():
                    scores[m][split][k].append(v)
        repo.close()
    print(f"\nFile localization, {len(rows)} bug-fix commits over {len(by_repo)} repositories "
          f"({', '.join(by_repo)}); query = commit message\n")
    print("| method | split | Acc@1 | Acc@5 | Acc@10 |\n| --- | --- | ---: | ---: | ---: |")
    for m in methods:
        for split in ("dev", "test"):
            s = scores[m][split]
            print(f"| {m} | {split} | " + " | ".join(f"{statistics.mean(s[k]):.2f}" for k in KS) + " |")
    for name, (n, secs, fresh) in embed_stats.items():
        vfile = (a.index_dir or a.clones) / f"{name}.search.db.vectors"
        size = vfile.stat().st_size / 1e6 if vfile.exists() else 0.0
        print(f"\n{name} embeddings: {n} definitions, {fresh} embedded now in {secs:.1f}s, vectors file {size:.1f} MB")
    for m, xs in latency.items():
        xs.sort()
        print(f"\n{m} latency: p50 {1000 * xs[len(xs) // 2]:.1f} ms, p95 {1000 * xs[int(len(xs) * 0.95)]:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
