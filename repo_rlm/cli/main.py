"""`repo-rlm`: index, navigate, search and ask. Navigation never imports litellm, so it starts fast.

Exit codes: 0 success (also for empty results), 2 bad input (one line on stderr), 1 other failures.
Only results go to stdout; progress and errors go to stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse prints the whole usage by default)
        raise UsageError(message)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole CLI. `ask`'s flags come from repo_rlm.agent.ask, imported only when `ask` is on the
    command line, so that navigation commands start fast."""
    p = _Parser(prog="repo-rlm", description="Understand large repositories: a code index, navigation, and a recursive LM agent.")
    p.add_argument("--repo", help="repository root (default: the git top level of the current directory)")
    p.add_argument("--index", help="index database path (default: the user cache directory; env REPO_RLM_INDEX)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def cmd(name: str, help: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help)
        sp.add_argument("--json", action="store_true", help="print JSON")
        return sp

    cmd("index", "build or update the index")
    sp = cmd("defs", "find definitions by name, qualified name or glob")
    sp.add_argument("name")
    sp.add_argument("--kind", help="function, method, class, interface, struct, enum, variable, constant, module ...")
    sp.add_argument("--path", help="only files matching this glob")
    sp = cmd("callers", "call sites that reach SYMBOL")
    sp.add_argument("symbol")
    sp = cmd("callees", "what SYMBOL calls")
    sp.add_argument("symbol")
    sp.add_argument("--external", action="store_true", help="also list calls to builtins and other packages")
    sp = cmd("refs", "every occurrence of the identifier NAME")
    sp.add_argument("name")
    sp = cmd("outline", "the definitions of FILE, nested")
    sp.add_argument("file")
    sp = cmd("show", "print PATH[:START[-END]]")
    sp.add_argument("location")
    sp = cmd("search", "rank definitions and code for a natural-language QUERY")
    sp.add_argument("query")
    sp.add_argument("-k", type=int, default=20, help="how many results (default 20)")
    sp = cmd("callgraph", "the whole call graph")
    sp.add_argument("--format", choices=["json", "pycg", "dot"], default=None)
    sp = sub.add_parser("ask", help="answer a question about the repository with a recursive LM")
    if "ask" in (sys.argv[1:] if argv is None else argv):
        from ..agent import ask

        ask.add_arguments(sp)
    from ..viewer import trace_page

    trace_page.add_arguments(sub.add_parser("trace", help="view an ask trace as a page (trace view FILE)"))
    sp = sub.add_parser("eval", help="compare the ask strategies on question files (accuracy, cost, tokens, latency)")
    if "eval" in (sys.argv[1:] if argv is None else argv):
        from ..eval import harness

        harness.add_arguments(sp)
    sp = sub.add_parser("lsp", help="start the language server on stdio")
    sp.add_argument("--stdio", action="store_true", help="accepted and ignored (editors append it)")
    return p


# -- output helpers ---------------------------------------------------------------------------

def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def _progress():
    """A rich progress bar on stderr for long builds; nothing for quick updates or pipes."""
    state: dict[str, Any] = {}

    def callback(done: int, total: int, phase: str) -> None:
        if "bar" not in state:
            if total < 200 or not sys.stderr.isatty():
                return
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            from rich.console import Console

            bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                           console=Console(stderr=True), transient=True)
            bar.start()
            state["bar"], state["task"] = bar, bar.add_task("indexing", total=total)
        bar = state["bar"]
        bar.update(state["task"], completed=done, total=total, description="indexing" if phase == "parse" else "resolving calls")
        if phase == "resolve" and done == total:
            bar.stop()

    def close() -> None:
        if "bar" in state:
            state["bar"].stop()

    callback.close = close  # type: ignore[attr-defined]
    return callback


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
    from ..query.repo import Repo, RepoError

    if args.command == "ask":
        from ..agent import ask

        return ask.run(args)
    if args.command == "eval":
        from ..eval import harness

        return harness.run(args)
    if args.command == "trace":
        from ..viewer import trace_page

        return trace_page.run(args)
    if args.command == "lsp":
        from ..lsp.server import main as lsp_main

        return lsp_main([], repo_root=args.repo, index_path=args.index)

    progress = _progress()
    try:
        repo = Repo.open(args.repo, index_path=args.index, update=args.command != "index", progress=progress)
        if args.command == "index":
            report = repo.update(progress=progress) | repo.stats | {"index_path": str(repo.index_path)}
    finally:
        progress.close()
    j = getattr(args, "json", False)
    out = sys.stdout.write
    c = args.command

    if c == "index":
        if j:
            _print_json({k: report[k] for k in ("files", "symbols", "calls", "languages", "updated_files", "seconds", "index_path")}
                        | {k: report[k] for k in ("deleted_files", "skipped", "imports", "lines", "bytes", "phases")})
        else:
            langs = ", ".join(f"{k} {v}" for k, v in report["languages"].items())
            out(f"{report['files']} files ({langs}), {report['symbols']} symbols, {report['calls']} calls\n"
                f"updated {report['updated_files']} files, removed {report['deleted_files']} in {report['seconds']:.2f}s\n")
            if report["skipped"]:
                out("skipped: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(report["skipped"].items())) + "\n")
            out(f"index: {report['index_path']}\n")
    elif c == "defs":
        defs = repo.find_defs(args.name, kind=args.kind, path=args.path)
        if j:
            _print_json(defs.to_dicts())
        for d in defs if not j else ():
            out(f"{_loc(d.path, d.start_line, d.end_line)}  {d.kind}  {d.qualname}\n    {d.signature}\n")
    elif c in ("callers", "callees"):
        calls = repo.callers_of(args.symbol) if c == "callers" else repo.callees_of(args.symbol, include_external=args.external)
        if j:
            _print_json(calls.to_dicts())
        for x in calls if not j else ():
            tag = "" if x.resolution == "resolved" else f"  [{x.resolution}]"
            out(f"{x.path}:{x.line}:{x.column}  {x.caller} -> {x.callee}{tag}\n    {x.text}\n")
    elif c == "refs":
        refs = repo.references(args.name)
        if j:
            _print_json(refs.to_dicts())
        for r in refs if not j else ():
            out(f"{r.path}:{r.line}:{r.column}  {r.kind:<10}  {r.text}\n")
    elif c == "outline":
        items = repo.outline(_repo_file(repo, args.file))
        if j:
            _print_json(items.to_dicts())
        else:
            def walk(xs, depth):
                for x in xs:
                    out(f"{'  ' * depth}{x.kind} {x.name}  {x.start_line}-{x.end_line}\n")
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
                out(f"{i:>{width}}  {line}\n")
    elif c == "search":
        if args.k < 1:
            raise UsageError("-k must be at least 1")
        hits = repo.search(args.query, k=args.k)
        if j:
            _print_json(hits.to_dicts())
        for h in hits if not j else ():
            what = f"{h.kind} {h.symbol}" if h.symbol else "code"
            out(f"{h.score:7.2f}  {_loc(h.path, h.start_line, h.end_line)}  {what}\n")
    elif c == "callgraph":
        graph = repo.callgraph()
        fmt = args.format or ("json" if j else "pycg")
        if fmt == "json":
            _print_json(graph)
        elif fmt == "pycg":
            cg: dict[str, list[str]] = {n["qualname"]: [] for n in graph["nodes"] if n["kind"] != "class"}
            for e in graph["edges"]:
                lst = cg.setdefault(e["caller"], [])
                if e["callee"] not in lst:
                    lst.append(e["callee"])
            _print_json(cg)
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


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from ..query.repo import RepoError

    try:
        args = build_parser(argv).parse_args(argv)
        if not args.command:
            build_parser().print_help(sys.stderr)
            return 2
        return _run(args)
    except UsageError as exc:
        print(f"repo-rlm: error: {exc}", file=sys.stderr)
        return 2
    except RepoError as exc:
        print(f"repo-rlm: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("repo-rlm: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - the contract is one line, never a traceback
        if os.environ.get("REPO_RLM_DEBUG"):
            raise
        print(f"repo-rlm: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
