"""`--diff OLD.json`: how the architecture moved between two JSON reports.

Dependencies compare as (from, to) pairs, cycles as member sets, hubs and entry points by
identity; every list is sorted, so CI can diff the diffs too.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class BadReport(Exception):
    """OLD.json is missing, not JSON, or not a report."""


def load_report(path: str | Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadReport(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadReport(f"{path} is not a JSON report: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("dependencies"), list) or not isinstance(data.get("modules"), list):
        raise BadReport(f"{path} is not a `repo-rlm report --format json` report")
    return data


def _pairs(items: list) -> set[tuple[str, str]]:
    return {(str(d.get("from")), str(d.get("to"))) for d in items if isinstance(d, dict)}


def _as_deps(pairs) -> list[dict[str, str]]:
    return [{"from": a, "to": b} for a, b in sorted(pairs)]


def _cycles(data: dict) -> set[tuple[str, ...]]:
    return {tuple(sorted(map(str, c))) for c in data.get("cycles", []) if isinstance(c, list)}


def _eps(data: dict) -> set[tuple[str, str, str]]:
    return {(str(e.get("kind")), str(e.get("name")), str(e.get("path"))) for e in data.get("entry_points", []) if isinstance(e, dict)}


def diff_reports(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    od, nd = _pairs(old.get("dependencies", [])), _pairs(new.get("dependencies", []))
    om, nm = _pairs(old.get("module_dependencies", [])), _pairs(new.get("module_dependencies", []))
    oc, nc = _cycles(old), _cycles(new)
    oh = {str(h.get("module")) for h in old.get("hubs", []) if isinstance(h, dict)}
    nh = {h["module"] for h in new.get("hubs", [])}
    omods = {str(m.get("name")) for m in old.get("modules", []) if isinstance(m, dict)}
    nmods = {m["name"] for m in new["modules"]}
    oe, ne = _eps(old), _eps(new)

    def ep(items):
        return [{"kind": k, "name": n, "path": p} for k, n, p in sorted(items)]

    return {
        "old_commit": old.get("commit"),
        "new_commit": new.get("commit"),
        "added_dependencies": _as_deps(nd - od),
        "removed_dependencies": _as_deps(od - nd),
        "added_module_dependencies": _as_deps(nm - om),
        "removed_module_dependencies": _as_deps(om - nm),
        "new_cycles": [list(c) for c in sorted(nc - oc)],
        "resolved_cycles": [list(c) for c in sorted(oc - nc)],
        "new_hubs": sorted(nh - oh),
        "former_hubs": sorted(oh - nh),
        "added_modules": sorted(nmods - omods),
        "removed_modules": sorted(omods - nmods),
        "added_entry_points": ep(ne - oe),
        "removed_entry_points": ep(oe - ne),
        "files": {"old": old.get("files"), "new": new.get("files")},
        "lines": {"old": old.get("lines"), "new": new.get("lines")},
    }
