#!/usr/bin/env python3
"""Where a cold index build spends its CPU, stage by stage, beside universal-ctags on the same tree.

    python bench/profile_index.py PATH [--runs N]

CPU time (user + sys of this process; ctags's from rusage) is steadier than wall time on a
shared machine. Stages, all in this one process (no pool, so each is measured alone):

  read + hash      read every file and compute its git blob id
  tree-sitter      parse only (Parser.parse)
  query matching   the tag query over each tree (QueryCursor.matches)
  extraction       the whole of parse.extract (parse + matching + Python per capture)
  encode / decode  facts to and from the fact cache's format
  index writes     Indexer writing every file (facts already in the fact cache), by statement
  resolution       tying the calls to their targets
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def ctags_cpu(root: Path, out: Path) -> tuple[float, float]:
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(["ctags", "-R", "-f", str(out), str(root)], check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime), time.perf_counter() - t0


class Timed:
    """A connection that adds up the CPU time of each kind of statement."""

    def __init__(self, conn: sqlite3.Connection, acc: dict) -> None:
        self.c, self.acc = conn, acc

    def __getattr__(self, k):
        return getattr(self.c, k)

    def __enter__(self):
        return self.c.__enter__()

    def __exit__(self, *a):
        t = cpu()
        r = self.c.__exit__(*a)
        self.acc["commit"] += cpu() - t
        return r

    def _key(self, sql: str) -> str:
        return " ".join(sql.split()[:3])[:32]

    def executemany(self, sql, rows):
        t = cpu()
        r = self.c.executemany(sql, rows)
        self.acc[self._key(sql)] += cpu() - t
        return r

    def execute(self, sql, *a):
        t = cpu()
        r = self.c.execute(sql, *a)
        self.acc[self._key(sql)] += cpu() - t
        return r


def profile(root: Path, work: Path) -> dict:
    import tree_sitter as ts

    from repo_rlm.index import discovery, factcache, store
    from repo_rlm.index.build import Indexer
    from repo_rlm.index.languages import has_query, language_for, parser_for, query_for
    from repo_rlm.index.parse import extract, git_blob_id

    P: dict = defaultdict(float)
    files = [p for p in discovery.discover(root).files]
    code = []
    t = cpu()
    for p in files:
        data = (root / p).read_bytes()
        git_blob_id(data)
        lang = language_for(p) or "text"
        if lang != "text" and has_query(lang):
            code.append((lang, data))
    P["read + hash (all files)"] = cpu() - t
    for lang in {lang for lang, _ in code}:  # compile once, outside the timing
        parser_for(lang), query_for(lang)
    t = cpu()
    trees = [(lang, parser_for(lang).parse(data)) for lang, data in code]
    P["tree-sitter parse"] = cpu() - t
    t = cpu()
    for lang, tree in trees:
        for _ in ts.QueryCursor(query_for(lang)).matches(tree.root_node):
            pass
    P["query matching"] = cpu() - t
    del trees
    # as a worker does it: each file's facts are encoded at once and only the bytes are kept
    # (holding every file's facts as objects would add the garbage collector's work to the stage)
    t_ex = 0.0
    enc = []
    for lang, data in code:
        t = cpu()
        f = extract(lang, data)
        t_ex += cpu() - t
        enc.append((f.blob, f.lang, factcache.encode(f)))
    P["extraction (parse + matching + Python)"] = t_ex
    t = cpu()
    facts = [factcache.decode(b, e) for b, _l, e in enc]
    P["decode from the cache"] = cpu() - t
    P["calls"] = sum(len(f.calls) for f in facts)
    P["code files"] = len(code)
    t = cpu()
    for f in facts:
        factcache.encode(f)
    P["encode for the cache"] = cpu() - t
    del facts
    # the index writes and resolution, with every blob already in a (private) fact cache
    os.environ["REPO_RLM_FACT_CACHE"] = str(work / "facts")
    cache = factcache.FactCache.open()
    cache.put_many(enc)
    del enc
    acc: dict = defaultdict(float)
    db = work / "p.db"
    conn = store.connect(db)
    store.init(conn)
    t = cpu()
    rep = Indexer(root, Timed(conn, acc), executor="inprocess", cache=cache).update()
    P["index build with every blob cached (total)"] = cpu() - t
    P["  of which until every file is written"] = rep["phases_cpu"]["until_written"]
    P["  of which resolution"] = rep["phases_cpu"]["resolve"]
    P["hits"] = rep["fact_cache"]["hits"]
    P["writes"] = dict(sorted(acc.items(), key=lambda kv: -kv[1]))
    P["phases (wall)"] = rep["phases"]
    conn.close()
    cache.close()
    return P


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("path", type=Path)
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    root = args.path.resolve()
    work = Path(tempfile.mkdtemp(prefix="repo-rlm-profile-"))
    try:
        for i in range(args.runs):
            load = os.getloadavg()[0]
            ct, ct_wall = ctags_cpu(root, work / "tags")
            P = profile(root, work)
            shutil.rmtree(work / "facts", ignore_errors=True)
            for s in ("", "-wal", "-shm"):
                Path(f"{work / 'p.db'}{s}").unlink(missing_ok=True)
            print(f"### run {i + 1}: {root.name}, {P['code files']} code files, {P['calls']} calls; "
                  f"load average {load:.1f} -> {os.getloadavg()[0]:.1f}\n")
            print("| stage | CPU s | vs ctags CPU |\n| --- | ---: | ---: |")
            print(f"| ctags -R (baseline; wall {ct_wall:.2f} s) | {ct:.2f} | 1.0x |")
            for k, v in P.items():
                if isinstance(v, float):
                    print(f"| {k} | {v:.2f} | {v / ct:.1f}x |")
            for k, v in P["writes"].items():
                if v >= 0.05:
                    print(f"| &nbsp;&nbsp;{k} | {v:.2f} | {v / ct:.1f}x |")
            print(f"\nphases of that build (wall): {P['phases (wall)']}\n", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
