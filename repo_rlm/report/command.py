"""`repo-rlm report`: flags, the run, and the output (SPEC.md, "repo-rlm report").

Exit codes: 0 on success; 2 for bad input (unreadable or foreign OLD.json, bad repository path,
bad flag); 1 for other failures (Graphviz missing for `--format html`, an unwritable --out).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..agent.flags import add_model_flags


def add_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--format", choices=["md", "html", "json"], default="md", help="output format (default md)")
    sp.add_argument("--out", type=Path, help="write the report to this file (default: stdout)")
    sp.add_argument("--diff", type=Path, metavar="OLD.json", help="compare with an earlier JSON report")
    sp.add_argument("--no-model", action="store_true", help="static facts only: no module summaries")
    sp.add_argument("--top", type=int, default=None, help="modules drawn in the diagrams (default 25)")
    sp.add_argument("--no-history", action="store_true", help="skip churn and ownership from git")
    add_model_flags(sp, "report", "module summaries")


def _fail(msg: str, code: int) -> int:
    print(f"repo-rlm report: error: {' '.join(str(msg).split())}", file=sys.stderr)
    return code


def _settings(args: argparse.Namespace):
    from ..agent.ask import AskConfig
    from .summaries import ModelSettings

    overrides = {k: getattr(args, k, None) for k in ("model", "sub_model", "api_base", "max_sub_calls", "budget_usd",
                                                     "max_tokens", "timeout_s")}
    cfg = AskConfig.from_env(**overrides)
    if args.no_model or not cfg.model:
        return None
    return ModelSettings(cfg.model, cfg.sub_model, cfg.api_base, cfg.api_key, cfg.max_sub_calls, cfg.budget_usd,
                         cfg.max_tokens, cfg.timeout_s, not args.no_cache)


def _say(text: str) -> None:
    if sys.stderr.isatty():
        print(f"repo-rlm report: {text}", file=sys.stderr)


def run(args: argparse.Namespace, repo_opener) -> int:
    """The command. `repo_opener()` opens and updates the index (the CLI owns that)."""
    from ..query.repo import RepoError
    from .diff import BadReport, diff_reports, load_report
    from .facts import TOP_MODULES, build_facts

    if args.top is not None and args.top < 1:
        return _fail("--top must be at least 1", 2)
    if args.out is not None and (args.out.is_dir() or not args.out.parent.is_dir()):
        return _fail(f"--out {args.out}: " + ("is a directory" if args.out.is_dir() else "its directory does not exist"), 2)
    old = None
    if args.diff is not None:
        try:
            old = load_report(args.diff)
        except BadReport as exc:
            return _fail(exc, 2)
    try:
        repo = repo_opener()
    except RepoError as exc:
        return _fail(exc, 2)
    title = Path(repo.root).name
    facts = build_facts(repo, top_n=args.top or TOP_MODULES, history=not args.no_history)
    data: dict[str, Any] = facts.data
    settings = _settings(args)
    if settings is None:
        data["model"] = {"used": False, "reason": "--no-model" if args.no_model else "no model configured (set REPO_RLM_MODEL or --model)"}
    else:
        import asyncio  # only with a model: it costs a CLI's every start 20 ms

        from .summaries import summarise

        res = asyncio.run(summarise(repo, data, facts.graph, settings, title, _say))
        data["summaries"] = res.summaries
        data["overview"] = res.overview
        data["summary_status"] = dict(sorted(res.status.items()))
        data["model"] = {"used": True, "model": settings.model, "sub_model": settings.sub_model or settings.model,
                         "modules": len(data["modules"]), "sub_calls": res.sub_calls, "cached_modules": res.cached_modules,
                         "overview_cached": res.overview_cached, "usage": res.usage, "citations": res.citations}
    if old is not None:
        data["diff"] = diff_reports(old, data)

    if args.format == "json":
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    elif args.format == "md":
        from .markdown import render_markdown

        text = render_markdown(data, title)
    else:
        from .html import LayoutError, render_html

        try:
            text = render_html(facts, title)
        except LayoutError as exc:
            return _fail(exc, 1)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    try:
        args.out.write_text(text, encoding="utf-8")
    except OSError as exc:
        return _fail(f"cannot write {args.out}: {exc.strerror or exc}", 1)
    _say(f"wrote {args.out} ({len(text.encode()) // 1024} KB)")
    return 0
