"""The static facts of a report, assembled from the query layer: no model, seconds on large repositories.

`build_facts` returns the JSON object of SPEC.md ("repo-rlm report") plus a few extensions
(`file_cycles`, `hubs`, `history`, `ownership`, `rollup`), and the in-memory graph that the
HTML page draws (files per module, the import statements behind each edge). Every list is
sorted, so two reports of the same commit are byte-identical and reports diff cleanly.
"""
from __future__ import annotations

import os
import stat
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..query import deps
from ..query.entrypoints import find_entry_points
from ..query.history import NoHistory, head_commit, read_history

REPORT_VERSION = 1
TOP_MODULES = 25      # modules drawn in a diagram; the rest are rolled up and the page says so
TOP_HUBS = 10
TOP_HOTSPOTS = 20
MAX_SITES = 30        # import statements listed per module edge in the page


@dataclass
class Facts:
    data: dict[str, Any]          # the JSON report
    graph: deps.DepGraph


def _reader(root: Path):
    """read(path) -> text, or None for a path that is missing, not a regular file, or (through a
    symlink) outside the repository. Directories are resolved once each: resolving every file is
    most of the cost of scanning a large repository."""
    root_real = os.path.realpath(root)
    dir_ok: dict[str, bool] = {}

    def inside(p: str) -> bool:
        return p == root_real or p.startswith(root_real + os.sep)

    def read(path: str) -> str | None:
        full = os.path.join(root_real, path)
        d = os.path.dirname(full)
        ok = dir_ok.get(d)
        if ok is None:
            ok = dir_ok[d] = inside(os.path.realpath(d))
        try:
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode) and ok and inside(os.path.realpath(full)):
                st = os.stat(full)
            if not ok or not stat.S_ISREG(st.st_mode):  # outside, a FIFO, a device: never opened
                return None
            with open(full, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return None
    return read


def build_facts(repo, top_n: int = TOP_MODULES, history: bool = True) -> Facts:
    """Everything the report knows without a model. `repo` is an up-to-date query.repo.Repo."""
    root = Path(repo.root)
    read = _reader(root)
    conn = repo.conn
    graph = deps.build_graph(conn, read)
    stats = repo.stats

    mod_files: dict[str, list[str]] = defaultdict(list)
    for path, mod in graph.module_of.items():
        mod_files[mod].append(path)
    medges = graph.module_edges()
    adj = deps.adjacency(medges)
    names = sorted(mod_files)
    rank = deps.pagerank(names, medges)
    fan_in: dict[str, int] = defaultdict(int)
    fan_out: dict[str, int] = defaultdict(int)
    for a, b in medges:
        fan_out[a] += 1
        fan_in[b] += 1

    tests_of: dict[str, set[str]] = defaultdict(set)
    is_test = {p for p in graph.files if deps.is_test_path(p)}
    for (a, b) in graph.edges:
        if a in is_test and b not in is_test:
            tests_of[graph.module_of[b]].add(a)

    modules = []
    for m in names:
        fs = mod_files[m]
        langs: dict[str, int] = defaultdict(int)
        for p in fs:
            langs[graph.files[p].lang] += 1
        modules.append({"name": m, "path": graph.module_dir[m], "files": len(fs),
                        "lines": sum(graph.files[p].lines for p in fs), "fan_in": fan_in[m], "fan_out": fan_out[m],
                        "rank": round(rank.get(m, 0.0), 6), "languages": dict(sorted(langs.items())),
                        "tested_by": len(tests_of.get(m, ()))})
    by_rank = sorted(names, key=lambda m: (-rank.get(m, 0.0), m))
    hubs = [m for m in by_rank if fan_in[m] > 0][:TOP_HUBS]

    file_adj = deps.adjacency(graph.edges)
    data: dict[str, Any] = {
        "report_version": REPORT_VERSION,
        "commit": head_commit(root),
        "languages": {k: v for k, v in stats["languages"].items()},
        "files": stats["files"],
        "lines": stats["lines"],
        "code_files": len(graph.files),
        "modules": modules,
        "dependencies": [{"from": a, "to": b, "count": len(sites)} for (a, b), sites in sorted(graph.edges.items())],
        "module_dependencies": [{"from": a, "to": b, "count": n} for (a, b), n in sorted(medges.items())],
        "cycles": deps.cycles(names, adj),
        "import_time_cycles": deps.cycles(names, deps.adjacency(graph.module_edges(import_time=True))),
        "file_cycles": deps.cycles(graph.files, file_adj),
        "layers": deps.layers(names, adj),
        "hubs": [{"module": m, "fan_in": fan_in[m], "rank": round(rank[m], 6)} for m in hubs],
        "entry_points": [e.to_dict() for e in find_entry_points(conn, read)],
        "tests": {m: sorted(t) for m, t in sorted(tests_of.items())},
        "summaries": {},
    }
    if history:
        try:
            h = read_history(root)
            data["history"] = {"available": True, "commits": h.commits, "since": h.since, "window": "last %d commits" % h.commits}
            data["hotspots"] = h.hotspots(TOP_HOTSPOTS, only=set(graph.files) or None)
            data["ownership"] = h.ownership(mod_files)
        except NoHistory as exc:
            data["history"] = {"available": False, "reason": str(exc)}
            data["hotspots"] = []
            data["ownership"] = {}
    else:
        data["history"] = {"available": False, "reason": "history not requested"}
        data["hotspots"], data["ownership"] = [], {}
    shown = by_rank[:top_n]
    data["rollup"] = {"modules": len(names), "shown": len(shown), "top": shown,
                      "note": (f"Diagrams show the top {len(shown)} of {len(names)} modules by PageRank."
                               if len(shown) < len(names) else "")}
    return Facts(data, graph)


def module_sites(graph: deps.DepGraph, limit: int = MAX_SITES) -> dict[tuple[str, str], tuple[list[dict], int]]:
    """The import statements behind each module edge (at most `limit`), and how many there are."""
    out: dict[tuple[str, str], list] = defaultdict(list)
    total: dict[tuple[str, str], int] = defaultdict(int)
    for (a, b), sites in sorted(graph.edges.items()):
        key = (graph.module_of[a], graph.module_of[b])
        if key[0] == key[1]:
            continue
        for s in sites:
            total[key] += 1
            if len(out[key]) < limit:
                out[key].append(s.to_dict() | {"to": b})
    return {k: (v, total[k]) for k, v in out.items()}
