"""Choose search's ranking weights (repo_rlm/query/search.py WEIGHTS) on the development half of
the localization set, and report both halves. Features are computed once per query; coordinate
ascent then tries each weight at the values of GRID, keeping a change only when the objective on the development half improves:
Acc@5 + Acc@1 for the lexical weights, Acc@5 + 0.25 Acc@1 for the semantic weight (`--hybrid`),
whose gains show at Acc@5, the target, at some cost in Acc@1.

    python bench/localization/tune.py /tmp/loc.jsonl --clones DIR
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from repo_rlm.index import embed  # noqa: E402
from repo_rlm.query import search as S  # noqa: E402
from repo_rlm.query.repo import Repo  # noqa: E402

GRID = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0)


def objective(cases, weights) -> tuple[float, float, float]:
    a1 = a5 = a10 = 0.0
    for feats, gold in cases:
        ranked = [h.path for h in S.rank_files(feats, 10, weights)]
        a1 += any(g in ranked[:1] for g in gold)
        a5 += any(g in ranked[:5] for g in gold)
        a10 += any(g in ranked[:10] for g in gold)
    n = len(cases) or 1
    return a1 / n, a5 / n, a10 / n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--clones", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--hybrid", action="store_true",
                    help="tune the weight of the semantic feature only, on repositories whose index has vectors")
    ap.add_argument("--repos", default="", help="comma-separated repository names to keep (default: all)")
    a = ap.parse_args(argv)
    rows = [json.loads(x) for x in a.dataset.read_text().splitlines() if x.strip()]
    keep = {r for r in a.repos.split(",") if r}
    rows = [r for r in rows if not keep or r["repo"] in keep]
    repos: dict[str, Repo] = {}
    split = defaultdict(list)
    for i, r in enumerate(rows):
        repo = repos.get(r["repo"]) or repos.setdefault(
            r["repo"], Repo.open(a.clones / r["repo"], index_path=a.clones / f"{r['repo']}.search.db"))
        near = None
        if a.hybrid:
            repo.embed()
            near = S.Nearness(embed.vectors_path(repo.index_path), r["query"], repo._embedder(), S.NEAREST)
        split["dev" if i % 2 == 0 else "test"].append((S.features(repo.conn, S.parse_query(r["query"]), near), r["gold"]))
    weights = dict(S.WEIGHTS)
    share = 0.25 if a.hybrid else 1.0  # the weight of Acc@1 beside Acc@5 in the objective
    best = objective(split["dev"], weights)
    print("start", {k: round(v, 2) for k, v in zip(("acc1", "acc5", "acc10"), best)})
    for _round in range(a.rounds):
        changed = False
        keys = ["semantic"] if a.hybrid else [k for k in weights if k not in ("bm25", "ident_fan_in", "semantic")]
        for key in keys:
            for value in GRID:
                trial = dict(weights, **{key: value if key != "test_file" else -value})
                got = objective(split["dev"], trial)
                if got[1] + share * got[0] > best[1] + share * best[0] + 1e-9:
                    weights, best, changed = trial, got, True
        if not changed:
            break
    print("WEIGHTS =", json.dumps(weights, indent=4))
    for name in ("dev", "test"):
        a1, a5, a10 = objective(split[name], weights)
        print(f"{name}: Acc@1 {a1:.2f}  Acc@5 {a5:.2f}  Acc@10 {a10:.2f}  ({len(split[name])} queries)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
