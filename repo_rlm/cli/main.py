"""`repo-rlm`: index, navigate, search and ask. Navigation never imports litellm, so it starts fast.

Exit codes: 0 success (also for empty results), 2 bad input (one line on stderr), 1 other failures.
Only results go to stdout; progress and errors go to stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any, Sequence

from ..index.names import DEF_KINDS


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse prints the whole usage by default)
        raise UsageError(message)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole CLI. `ask`'s flags come from repo_rlm.cli.ask, imported only when `ask` is on the
    command line, so that navigation commands start fast."""
    p = _Parser(prog="repo-rlm", description="Understand large repositories: a code index, navigation, and a recursive LM agent.")
    _add_global_options(p, after_command=False)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def cmd(name: str, help: str, json_flag: bool = True, listing: bool = False) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help)
        _add_global_options(sp, after_command=True)
        if json_flag:
            sp.add_argument("--json", action="store_true", help="print JSON")
        if listing:  # every list takes a limit; a cut is reported on stderr
            sp.add_argument("--limit", type=int, metavar="N", help="print at most N results")
        return sp

    sp = cmd("index", "build or update the index")
    sp.add_argument("--rebuild", action="store_true", help="start the index over")
    sp.add_argument("--embed", action="store_true",
                    help="also embed definitions for semantic search (the vectors extra)")
    sp.add_argument("--executor", choices=["auto", "process", "inprocess", "ray"], default="auto",
                    help="where extraction runs: a local process pool (auto), this process, or Ray "
                         "(pip install 'repo-rlm[ray]'; RAY_ADDRESS names the cluster)")
    sp = cmd("defs", "find definitions by name, qualified name or glob", listing=True)
    sp.add_argument("name")
    sp.add_argument("--kind", help=", ".join(DEF_KINDS))
    sp.add_argument("--path", help="only files matching this glob")
    sp = cmd("callers", "call sites that reach SYMBOL", listing=True)
    sp.add_argument("symbol")
    sp = cmd("callees", "what SYMBOL calls", listing=True)
    sp.add_argument("symbol")
    sp.add_argument("--external", action="store_true", help="also list calls to builtins and other packages")
    sp = cmd("refs", "every occurrence of the identifier NAME", listing=True)
    sp.add_argument("name")
    sp = cmd("outline", "the definitions of FILE, nested", listing=True)
    sp.add_argument("file")
    sp = cmd("show", "print PATH[:START[-END]]")
    sp.add_argument("location")
    sp = cmd("search", "rank definitions and code for a natural-language QUERY", listing=True)
    sp.add_argument("query")
    sp.add_argument("-k", type=int, default=20, help="how many results (default 20)")
    sp.add_argument("--files", action="store_true", help="rank files instead of definitions and chunks")
    sp.add_argument("--mode", choices=["lexical", "semantic", "hybrid"], default=None,
                    help="lexical (full text and structure), semantic (embeddings; the vectors extra) or hybrid "
                         "(both, fused); default: hybrid where the index has vectors, else lexical")
    sp = cmd("callgraph", "the whole call graph")
    sp.add_argument("--format", choices=["json", "pycg", "dot"], default=None)
    sp = cmd("ask", "answer a question about the repository with a recursive LM", json_flag=False)
    if "ask" in (sys.argv[1:] if argv is None else argv):
        from . import ask

        ask.add_arguments(sp)
    sp = cmd("review", "review a change: every caller of what changed, static checks, a model", json_flag=False)
    if "review" in (sys.argv[1:] if argv is None else argv):
        from ..review import cli as review_cli

        review_cli.add_arguments(sp)
    sp = cmd("report", "an architecture report: dependencies, cycles, entry points, churn, summaries", json_flag=False)
    from ..report.command import add_arguments as report_arguments

    report_arguments(sp)
    from ..viewer import trace_page

    trace_page.add_arguments(sub.add_parser("trace", help="view an ask trace as a page (trace view FILE)"))
    sp = sub.add_parser("eval", help="compare the ask strategies on question files (accuracy, cost, tokens, latency)")
    if "eval" in (sys.argv[1:] if argv is None else argv):
        from ..eval import harness

        harness.add_arguments(sp)
    sp = cmd("lsp", "start the language server on stdio", json_flag=False)
    sp.add_argument("--stdio", action="store_true", help="accepted and ignored (editors append it)")
    cmd("mcp", "serve the helpers and ask over the Model Context Protocol on stdio", json_flag=False)
    return p


def _add_global_options(p: argparse.ArgumentParser, after_command: bool) -> None:
    """--repo and --index go before the subcommand (like `git -C`) or after it; written after it
    they must not reset what was written before, hence SUPPRESS as the default there."""
    default = argparse.SUPPRESS if after_command else None
    p.add_argument("--repo", default=default,
                   help="repository root (default: the git top level of the current directory)")
    p.add_argument("--index", default=default,
                   help="index database path (default: the user cache directory; env REPO_RLM_INDEX)")


# -- output helpers ---------------------------------------------------------------------------

def _print_json(data: Any) -> None:
    """Readable JSON (non-ASCII as is) whose control characters are escaped: the same value, safe on a terminal."""
    from ..query.escape import escape_controls

    sys.stdout.write(escape_controls(json.dumps(data, indent=2, ensure_ascii=False), newlines=True) + "\n")


class _Progress:
    """Index progress on stderr for builds of 200 files or more: a rich bar on a terminal, plain
    lines every few seconds otherwise (CI logs). Resolution reports no counts, so it shows as a
    phase with its elapsed time rather than a bar stuck at 0/1."""

    PLAIN_EVERY_S = 5.0

    def __init__(self) -> None:
        self.bar: Any = None
        self.task: Any = None
        self.phase = ""
        self.started = self.last_line = 0.0
        self.active = False

    def __call__(self, done: int, total: int, phase: str) -> None:
        import time

        now = time.monotonic()
        if not self.active:
            if phase != "parse" or total < 200:
                return
            self.active, self.started = True, now
        if sys.stderr.isatty():
            self._bar(done, total, phase)
        elif phase != self.phase or now - self.last_line >= self.PLAIN_EVERY_S or (phase == "parse" and done == total):
            what = f"indexing {done}/{total} files" if phase == "parse" else (
                "resolving calls" if done < total else "resolved calls")
            print(f"repo-rlm: {what} ({now - self.started:.0f}s)", file=sys.stderr, flush=True)
            self.last_line = now
        self.phase = phase

    def _bar(self, done: int, total: int, phase: str) -> None:
        if self.bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("indexing", total=total)
        if phase == "parse":
            self.bar.update(self.task, completed=done, total=total, description="indexing")
        else:  # no counts: an indeterminate bar with the elapsed time
            self.bar.update(self.task, completed=0, total=None, description="resolving calls")
            if done == total:
                self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def _notice(message: str) -> None:
    from ..query.escape import escape_controls

    print(f"repo-rlm: {escape_controls(message)}", file=sys.stderr, flush=True)


def _repo_file(repo, arg: str) -> str:
    """A FILE argument: relative to the current directory if it exists there, else to the repository."""
    p = Path(arg)
    if not p.is_absolute() and p.exists():
        p = p.resolve()
    return repo.relpath(p)


def _loc(path: str, s: int, e: int | None = None) -> str:
    return f"{path}:{s}" + (f"-{e}" if e is not None and e != s else "")


# -- commands ---------------------------------------------------------------------------------

def _run(args: argparse.Namespace) -> int:
    from ..query.escape import escape_controls as esc
    from ..query.repo import Repo

    if args.command == "ask":
        from . import ask

        return ask.run(args)
    if args.command == "review":
        from ..review.cli import run as review_run

        return review_run(args)
    if args.command == "report":
        from ..report.command import run as report_run

        return report_run(args, lambda: Repo.open(args.repo, index_path=args.index, notify=_notice))
    if args.command == "eval":
        from ..eval import harness

        return harness.run(args)
    if args.command == "trace":
        from ..viewer import trace_page

        return trace_page.run(args)
    if args.command == "lsp":
        from ..lsp.server import main as lsp_main

        return lsp_main([], repo_root=args.repo, index_path=args.index)
    if args.command == "mcp":
        from ..mcp.server import main as mcp_main

        return mcp_main([], repo_root=args.repo, index_path=args.index)

    progress = _Progress()
    try:
        repo = Repo.open(args.repo, index_path=args.index, update=args.command != "index", progress=progress,
                         rebuild=getattr(args, "rebuild", False), notify=_notice)
        if args.command == "index":
            report = repo.update(progress=progress, executor=args.executor) | repo.stats | {"index_path": str(repo.index_path)}
            if args.embed:
                report["embeddings"] = repo.embed()
    finally:
        progress.close()
    j = getattr(args, "json", False)

    def out(text: str) -> None:
        """Text output: repository text is hostile, so fields go through esc() (newlines too), and
        whole lines once more (a safety net that keeps the line breaks)."""
        sys.stdout.write(esc(text, newlines=True))
    c = args.command

    if c == "index":
        if j:
            _print_json({k: report[k] for k in ("files", "symbols", "calls", "languages", "updated_files", "seconds", "index_path")}
                        | {k: report[k] for k in ("deleted_files", "skipped", "imports", "lines", "bytes", "phases", "resolved",
                                                 "fact_cache", "embeddings") if k in report})
        else:
            langs = ", ".join(f"{k} {v}" for k, v in report["languages"].items())
            out(f"{report['files']} files ({langs}), {report['symbols']} symbols, {report['calls']} calls\n"
                f"updated {report['updated_files']} files, removed {report['deleted_files']} in {report['seconds']:.2f}s\n")
            if report["skipped"]:
                out("skipped: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(report["skipped"].items())) + "\n")
            out(f"index: {report['index_path']}\n")
            if "embeddings" in report:
                e = report["embeddings"]
                out(f"embeddings: {e['chunks']} definitions, {e['embedded']} embedded now, {e['from_cache']} from the cache\n")
    elif c == "defs":
        if args.kind is not None and args.kind not in DEF_KINDS:
            raise UsageError(f"unknown kind {args.kind!r}; valid kinds: {', '.join(DEF_KINDS)}")
        defs = _helper(repo, "find_defs", args, name=args.name, kind=args.kind, path=args.path)
        if not defs:
            _notice(f"no definitions match {args.name!r}")
        if j:
            _print_json(defs.to_dicts())
        for d in defs if not j else ():
            out(f"{_loc(esc(d.path), d.start_line, d.end_line)}  {esc(d.kind)}  {esc(d.qualname)}\n    {esc(d.signature)}\n")
    elif c in ("callers", "callees"):
        calls = (_helper(repo, "callers_of", args, symbol=args.symbol) if c == "callers"
                 else _helper(repo, "callees_of", args, symbol=args.symbol, include_external=args.external))
        if not calls:
            _notice(f"no {'call sites reach' if c == 'callers' else 'calls found in'} {args.symbol!r}")
        if j:
            _print_json(calls.to_dicts())
        for x in calls if not j else ():
            tag = "" if x.resolution == "resolved" else f"  [{x.resolution}]"
            out(f"{esc(x.path)}:{x.line}:{x.column}  {esc(x.caller)} -> {esc(x.callee)}{tag}\n    {esc(x.text)}\n")
    elif c == "refs":
        refs = _helper(repo, "references", args, name=args.name)
        if not refs:
            _notice(f"no references to {args.name!r}")
        if j:
            _print_json(refs.to_dicts())
        for r in refs if not j else ():
            out(f"{esc(r.path)}:{r.line}:{r.column}  {r.kind:<10}  {esc(r.text)}\n")
    elif c == "outline":
        items = _helper(repo, "outline", args, path=_repo_file(repo, args.file))
        if j:
            _print_json(items.to_dicts())
        else:
            def walk(xs, depth):
                for x in xs:
                    out(f"{'  ' * depth}{esc(x.kind)} {esc(x.name)}  {x.start_line}-{x.end_line}\n")
                    walk(x.children, depth + 1)
            walk(items, 0)
    elif c == "show":
        path, s, e = _parse_location(args.location)
        span = repo.show(_repo_file(repo, path), s, e)
        if j:
            _print_json(span.to_dict())
        else:
            width = len(str(span.end_line))
            for i, line in enumerate(span.text.split("\n"), span.start_line):
                out(f"{i:>{width}}  {esc(line)}\n")
    elif c == "search":
        if args.k < 1:
            raise UsageError("-k must be at least 1")
        if args.mode in ("semantic", "hybrid"):
            state = {"shown": False}

            def embedding(done: int, total: int) -> None:
                if not state["shown"]:
                    print(f"repo-rlm: embedding {total} definitions for semantic search (once; cached)", file=sys.stderr)
                    state["shown"] = True

            repo.embed(progress=embedding)
        if args.files:
            hits = repo.search_files(args.query, k=min(args.k, args.limit or args.k), mode=args.mode)
        else:
            hits = _helper(repo, "search", args, query=args.query, k=args.k, mode=args.mode)
        if not hits:
            _notice("no matches")
        if j:
            _print_json(hits.to_dicts())
        for h in hits if not j else ():
            if args.files:
                out(f"{h.score:7.2f}  {esc(h.path)}\n")
                continue
            what = f"{esc(h.kind)} {esc(h.symbol)}" if h.symbol else "code"
            out(f"{h.score:7.2f}  {_loc(esc(h.path), h.start_line, h.end_line)}  {what}\n")
    elif c == "callgraph":
        fmt = args.format or ("json" if j else "pycg")
        graph = repo.callgraph() if fmt != "pycg" else {}
        if fmt == "json":
            _print_json(graph)
        elif fmt == "pycg":
            _print_json(repo.callgraph_pycg())
        else:
            out("digraph callgraph {\n  node [shape=box, fontsize=10];\n")
            seen = set()
            for e in graph["edges"]:
                if e["callee"].startswith("<"):
                    continue
                key = (e["caller"], e["callee"])
                if key not in seen:
                    seen.add(key)
                    style = "" if e["resolution"] == "resolved" else " [style=dashed]"
                    out(f"  {json.dumps(e['caller'])} -> {json.dumps(e['callee'])}{style};\n")
            out("}\n")
    return 0


def _helper(repo, helper: str, args: argparse.Namespace, /, **kwargs: Any):
    """Run a registry helper with the command's --limit; a cut list is reported on stderr only,
    so that `--json` keeps its shape."""
    from ..query.helpers import HELPERS, HelperError

    limit = getattr(args, "limit", None)
    if limit is not None and limit < 1:
        raise UsageError("--limit must be at least 1")
    try:
        out = HELPERS[helper].call(repo, {**kwargs, "limit": limit})
    except HelperError as exc:
        raise UsageError(str(exc)) from None
    if out.truncated:
        print(f"repo-rlm: {out.note().replace('pass a larger limit', 'raise --limit')}", file=sys.stderr)
    return out


def _parse_location(loc: str) -> tuple[str, int | None, int | None]:
    path, _, rng = loc.partition(":")
    if not rng:
        return path, None, None
    try:
        if "-" in rng:
            a, b = rng.split("-", 1)
            return path, int(a), int(b)
        return path, int(rng), None
    except ValueError:
        raise UsageError(f"bad location {loc!r}: use PATH, PATH:LINE or PATH:START-END") from None


def _error(message: str) -> None:
    from ..query.escape import escape_controls

    print(f"repo-rlm: error: {escape_controls(message)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from ..query.repo import RepoError

    try:
        args = build_parser(argv).parse_args(argv)
        if not args.command:
            build_parser().print_help(sys.stderr)
            return 2
        try:
            return _run(args)
        except sqlite3.DatabaseError as exc:  # corruption found by a query, past Repo.open's checks
            from ..query.repo import default_index_path, find_root, is_corrupt, set_aside

            if not is_corrupt(exc) or args.command in ("lsp", "ask"):
                raise
            ipath = Path(args.index).expanduser() if args.index else default_index_path(find_root(args.repo))
            _notice(f"the index at {ipath} was corrupt ({exc}); moved it to {set_aside(ipath).name} and rebuilding")
            return _run(args)
    except (UsageError, RepoError) as exc:
        _error(str(exc))
        return 2
    except KeyboardInterrupt:
        print("repo-rlm: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - the contract is one line, never a traceback
        if os.environ.get("REPO_RLM_DEBUG"):
            raise
        _error(f"{type(exc).__name__}: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
