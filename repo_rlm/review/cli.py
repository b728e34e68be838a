"""`repo-rlm review`: its flags and the command (registered in repo_rlm/cli/main.py)."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ..agent.flags import add_model_flags

EXIT_FINDINGS = 4


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base", help="base revision (default: merge-base of head with origin/HEAD, main or master)")
    p.add_argument("--head", default="HEAD", help="head revision (default HEAD)")
    p.add_argument("--format", choices=["md", "json", "sarif", "github"], default="md")
    p.add_argument("--json", action="store_true", help="same as --format json")
    p.add_argument("--out", type=Path, help="write the output to this file instead of stdout")
    p.add_argument("--sarif-out", type=Path, help="also write the SARIF log to this file (one run, several outputs)")
    p.add_argument("--summary-out", type=Path, help="also write the Markdown summary to this file (e.g. $GITHUB_STEP_SUMMARY)")
    p.add_argument("--no-model", action="store_true", help="static checks only")
    p.add_argument("--fail-on", choices=["error", "warning", "note"], help="exit 4 when a finding at or above this exists")
    p.add_argument("--post", action="store_true", help="post the review to the pull request (GITHUB_TOKEN, GITHUB_REPOSITORY)")
    p.add_argument("--pr", type=int, help="pull request number for --post (default: from the GitHub Actions event)")
    p.add_argument("--max-findings", type=int, help="cap on findings (default 10, or [review] max_findings)")
    add_model_flags(p, "review", "the per-symbol sub-calls")
    p.add_argument("--max-iterations", type=int, help="accepted for compatibility with ask; a review makes no root turns")
    p.add_argument("--max-depth", type=int, help="accepted for compatibility with ask; sub-calls are plain calls")
    p.add_argument("--trace", type=Path, dest="trace_path", help="accepted for compatibility with ask (no trace is written)")


def _fail(msg: str, code: int) -> int:
    print(f"repo-rlm review: {' '.join(msg.split())}", file=sys.stderr)
    return code


def _progress(text: str) -> None:
    if sys.stderr.isatty():
        print(f"repo-rlm review: {text}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """0, or 4 with --fail-on and a finding at/above it; 2 bad input; 1 other failures."""
    from ..query.repo import RepoError
    from . import output, pipeline
    from .revisions import RevisionError
    from .settings import SEVERITY_RANK

    for flag in ("max_sub_calls", "max_findings", "max_tokens"):
        v = getattr(args, flag, None)
        if v is not None and v < 0:
            return _fail(f"--{flag.replace('_', '-')} must not be negative", 2)
    fmt = "json" if args.json else args.format
    model = args.sub_model or args.model or os.environ.get("REPO_RLM_SUB_MODEL") or os.environ.get("REPO_RLM_MODEL")
    opts = pipeline.Options(
        base=args.base, head=args.head, index_path=getattr(args, "index", None), use_model=not args.no_model,
        model=model, model_from_flag=bool(args.sub_model or args.model),
        api_base=args.api_base or os.environ.get("REPO_RLM_API_BASE"), api_key=os.environ.get("REPO_RLM_API_KEY"),
        max_tokens=args.max_tokens, use_cache=not args.no_cache, max_findings=args.max_findings, progress=_progress)
    if args.budget_usd is not None:
        opts.budget_usd = args.budget_usd
    if args.max_sub_calls is not None:
        opts.max_sub_calls = args.max_sub_calls
    if args.timeout_s is not None:
        opts.timeout_s = args.timeout_s
    try:
        pr = output.pr_number(args.pr) if args.post else None
        result = pipeline.review(getattr(args, "repo", None), opts)
    except (RevisionError, RepoError) as exc:
        return _fail(str(exc), 2)
    except output.PostError as exc:
        return _fail(str(exc), 2 if exc.bad_input else 1)
    d = result.data
    if fmt == "json":
        text = json.dumps(d, indent=2, ensure_ascii=False) + "\n"
    elif fmt == "sarif":
        text = json.dumps(output.sarif(d), indent=2, ensure_ascii=False) + "\n"
    elif fmt == "github":
        text = json.dumps(output.github(d, result.added_lines), indent=2, ensure_ascii=False) + "\n"
    else:
        text = output.markdown(d)
    extra = [(args.sarif_out, lambda: json.dumps(output.sarif(d), indent=2, ensure_ascii=False) + "\n"),
             (args.summary_out, lambda: output.markdown(d))]
    target = args.out
    try:
        if args.out:
            args.out.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
        for target, make in extra:
            if target:
                with open(target, "a" if target == args.summary_out else "w", encoding="utf-8") as fh:
                    fh.write(make())
    except OSError as exc:
        return _fail(f"cannot write {target}: {exc.strerror}", 2)
    if args.post:
        try:
            url = output.post(output.github(d, result.added_lines), pr or 0)
        except output.PostError as exc:
            return _fail(str(exc), 2 if exc.bad_input else 1)
        print(f"repo-rlm review: posted {url}".rstrip(), file=sys.stderr)
    if d["stopped"] == "error":
        print(f"repo-rlm review: model review failed: {d['notes'][-1] if d['notes'] else 'error'}", file=sys.stderr)
    if args.fail_on and any(SEVERITY_RANK[f["severity"]] <= SEVERITY_RANK[args.fail_on] for f in d["findings"]):
        return EXIT_FINDINGS
    return 0
