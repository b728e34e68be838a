"""One review from two revisions: sides, changed symbols, impact, static findings, model findings,
then ranking and the cap. Returns the SPEC's JSON object (plus a few extra fields)."""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..query import impact as impact_q
from ..query.diff import Diff, compare
from ..query.repo import Repo, default_index_path, find_root
from . import revisions, settings as settings_mod, static

CHANGE_RANK = {"signature": 0, "removed": 1, "body": 2, "added": 3}
MAX_IMPACT_SYMBOLS = 2000  # changed symbols whose callers, overrides and tests are looked up


@dataclass
class Options:
    base: str | None = None
    head: str = "HEAD"
    index_path: str | None = None
    use_model: bool = True
    model: str | None = None
    model_from_flag: bool = False
    api_base: str | None = None
    api_key: str | None = None
    budget_usd: float | None = 1.0
    max_tokens: int | None = None
    max_sub_calls: int = 100
    max_concurrency: int = 16
    timeout_s: float = 900.0
    use_cache: bool = True
    max_findings: int | None = None
    progress: Callable[[str], None] | None = None


@dataclass
class Review:
    data: dict[str, Any]
    added_lines: dict[str, set[int]] = field(default_factory=dict)
    root: Path | None = None


def _say(opts: Options, text: str) -> None:
    if opts.progress:
        opts.progress(text)


def _ignored(path: str, globs: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, g) or fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], g)
               or (g.endswith("/**") and path.startswith(g[:-3] + "/")) for g in globs)


def empty(base: str, head: str, stopped: str) -> dict[str, Any]:
    return {"base": base, "head": head, "changed": [], "impact": [], "findings": [],
            "coverage": {"changed_symbols": 0, "affected_callers": 0, "callers_checked": 0},
            "stopped": stopped, "usage": {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0},
            "moved": [], "files": [], "skipped": {}, "dropped": {}, "notes": []}


def review(repo_path: str | None, opts: Options) -> Review:
    root = find_root(repo_path)
    top = revisions.git(root, "rev-parse", "--show-toplevel", check=False).strip()
    if not top:
        raise revisions.RevisionError(f"not a git repository: {root}")
    root = Path(top)  # git's paths are relative to the top level
    head = revisions.resolve(root, opts.head)
    base = revisions.resolve(root, opts.base) if opts.base else revisions.default_base(root, head)
    model_on = opts.use_model and bool(opts.model)
    if base == head:
        return Review(empty(base, head, "final" if model_on else "no_model"), {}, root)
    files = revisions.changed_files(root, base, head)
    added = revisions.added_lines(root, base, head)
    with revisions.locked(root) as cache:
        work_index = Path(opts.index_path) if opts.index_path else default_index_path(root)
        if revisions.head_is_worktree(root, head):
            _say(opts, "indexing the head (the work tree)")
            head_repo = Repo.open(root, work_index)
        else:
            _say(opts, f"checking out and indexing the head {head[:12]}")
            head_dir = revisions.checkout(root, cache, "head", head)
            revisions.seed_index(work_index, cache / "head.db")
            head_repo = Repo.open(head_dir, cache / "head.db")
        _say(opts, f"checking out and indexing the base {base[:12]}")
        base_dir = revisions.checkout(root, cache, "base", base)
        revisions.seed_index(head_repo.index_path, cache / "base.db")
        try:
            base_repo = Repo.open(base_dir, cache / "base.db")
        except BaseException:
            head_repo.close()
            raise
        try:
            data = _review(base_repo, head_repo, base, head, files, opts, model_on)
        finally:
            base_repo.close()
            head_repo.close()
    return Review(data, added, root)


def _review(base_repo: Repo, head_repo: Repo, base: str, head: str, files, opts: Options,
            model_on: bool) -> dict[str, Any]:
    cfg = settings_mod.load(base_repo.root)
    notes = list(cfg.notes)
    diff: Diff = compare(base_repo, head_repo, files)
    changed = [c for c in diff.changed if not _ignored(c.path, cfg.ignore)]
    ignored_symbols = len(diff.changed) - len(changed)

    # impact: every caller in head of what changed (signature or body), its overrides and tests
    callers: dict[str, list] = {}
    impact = []
    wanted = sorted((c for c in changed if c.change in ("signature", "body")),
                    key=lambda c: (CHANGE_RANK[c.change], c.path, c.start_line))
    if len(wanted) > MAX_IMPACT_SYMBOLS:  # a diff of thousands of files: signature changes first
        notes.append(f"{len(wanted) - MAX_IMPACT_SYMBOLS} changed symbols had no impact analysis (over "
                     f"{MAX_IMPACT_SYMBOLS}; signature changes went first)")
    wanted_set = {id(c) for c in wanted[:MAX_IMPACT_SYMBOLS]}
    for ch in changed:
        if id(ch) not in wanted_set:
            continue
        cs = impact_q.callers(head_repo, ch.symbol)
        callers[ch.symbol] = cs
        entry: dict[str, Any] = {"symbol": ch.symbol, "callers": [
            {"caller": c.caller, "path": c.path, "line": c.line, "resolution": c.resolution} for c in cs]}
        if ch.kind == "method":
            entry["overrides"] = [{"symbol": d.qualname, "path": d.path, "line": d.start_line}
                                  for d in impact_q.overrides(head_repo, ch.symbol)]
        entry["tests"] = impact_q.tests_reaching(head_repo, ch.symbol)
        impact.append(entry)
    removed = [c.symbol for c in diff.changed if c.change == "removed"]
    renamed = [m.old_symbol for m in diff.moved] + [c.old_symbol for c in diff.changed if c.old_symbol]
    missing = impact_q.uses_of_missing(head_repo, removed + renamed, diff.removed_modules)
    findings, checked = static.check(Diff(changed, diff.moved, diff.removed_modules), base_repo, head_repo, callers, missing)

    stopped, usage = "no_model", {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0}
    dropped_evidence = not_reviewed = 0
    model_info: dict[str, Any] = {}
    model = opts.model
    if model_on:
        model, note = settings_mod.choose_model(opts.model, opts.model_from_flag, cfg.model)
        if note:
            notes.append(note)
    if model_on and model:
        from . import model as model_mod

        budget = opts.budget_usd
        if cfg.budget_usd is not None:
            budget = cfg.budget_usd if budget is None else min(budget, cfg.budget_usd)
        todo = [c for c in changed if c.change in ("signature", "body") or
                (c.change == "added" and c.kind in ("function", "method"))]
        todo.sort(key=lambda c: (CHANGE_RANK[c.change], -len(callers.get(c.symbol, [])), c.path, c.start_line))
        not_reviewed = max(0, len(todo) - cfg.max_symbols)
        todo = todo[: cfg.max_symbols]
        prompts = [model_mod.build_prompt(c, callers.get(c.symbol, []), base_repo, head_repo, cfg.rules) for c in todo]
        _say(opts, f"model review: {len(prompts)} sub-calls with {model}")
        out = model_mod.run(prompts, head_repo, model, api_base=opts.api_base, api_key=opts.api_key,
                            budget_usd=budget, max_tokens=opts.max_tokens, max_sub_calls=opts.max_sub_calls,
                            max_concurrency=opts.max_concurrency, timeout_s=opts.timeout_s, use_cache=opts.use_cache)
        findings += out.findings
        checked |= out.checked
        stopped, usage = out.stopped, out.usage
        dropped_evidence = out.dropped_no_evidence
        not_reviewed += out.not_sent
        notes += out.notes
        model_info = {"model": model, "symbols_reviewed": out.reviewed, "sub_calls_failed": out.failed,
                      "verdicts_reused": out.cached}
        if not_reviewed:
            notes.append(f"{not_reviewed} changed symbols were not model-reviewed (limits: max_symbols "
                         f"{cfg.max_symbols}, --max-sub-calls, budget); the most impactful went first")

    # rank, filter, cap
    rank = settings_mod.SEVERITY_RANK
    floor = rank[cfg.min_severity]
    kept, dropped = [], {"ignored": 0, "below_min_severity": 0, "over_cap": 0, "no_evidence": dropped_evidence,
                         "duplicate": 0}
    seen = set()
    findings.sort(key=lambda f: (rank[f.severity], -f.confidence, f.source != "static", f.path, f.line, f.rule))
    for f in findings:
        key = (f.path, f.line, f.symbol, f.rule)
        if key in seen:
            dropped["duplicate"] += 1
        elif _ignored(f.path, cfg.ignore):
            dropped["ignored"] += 1
        elif rank[f.severity] > floor:
            dropped["below_min_severity"] += 1
        else:
            seen.add(key)
            kept.append(f)
    cap = opts.max_findings if opts.max_findings is not None else cfg.max_findings
    dropped["over_cap"] = max(0, len(kept) - cap)
    kept = kept[:cap]

    sites = {(sym, c.path, c.line, c.column) for sym, cs in callers.items() for c in cs}
    files_out = [{"status": f.status, "path": f.path, "old_path": f.old_path, "binary": f.binary} for f in files]
    skipped = dict(diff.skipped)
    if ignored_symbols:
        skipped["ignored_symbols"] = ignored_symbols
    if not_reviewed:
        skipped["symbols_not_model_reviewed"] = not_reviewed
    if len(wanted) > MAX_IMPACT_SYMBOLS:
        skipped["symbols_without_impact"] = len(wanted) - MAX_IMPACT_SYMBOLS
    data = {
        "base": base, "head": head,
        "changed": [{"symbol": c.symbol, "kind": c.kind, "path": c.path, "start_line": c.start_line,
                     "end_line": c.end_line, "change": c.change} for c in changed],
        "impact": impact,
        "findings": [f.to_dict() for f in kept],
        "coverage": {"changed_symbols": len(changed), "affected_callers": len(sites),
                     "callers_checked": len(checked & sites)},
        "stopped": stopped,
        "usage": usage,
        "moved": [{"symbol": m.symbol, "old_symbol": m.old_symbol, "kind": m.kind, "path": m.path, "line": m.line}
                  for m in diff.moved],
        "files": files_out,
        "skipped": skipped,
        "dropped": {k: v for k, v in dropped.items() if v},
        "notes": notes,
    }
    if model_info:
        data["model"] = model_info
    return data
