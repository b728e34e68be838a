"""repo-rlm over the Model Context Protocol (official MCP Python SDK, stdio transport).

The tools are the helper registry's helpers (repo_rlm/query/helpers.py) under the same names and
arguments, each list bounded by `limit` (default DEFAULT_LIMIT) with a "truncated, N more" note,
plus `ask`, which reports progress and stops (model calls and REPL worker) when cancelled.

Threads: the event loop speaks the protocol and runs `ask`. One "index" thread owns a writable
`Repo` and brings the index up to date in the background (on start, then again after tool calls
when it is older than REFRESH_S); one "query" thread owns a reading `Repo` on the same SQLite file
(WAL), so tools answer from what is indexed so far while a build runs.
"""
from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import logging
import os
import queue
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import mcp_types as types
from mcp.server import Server

from ..query.helpers import HELPERS, Helper, HelperError
from ..query.repo import Repo, RepoError, find_root

log = logging.getLogger("repo_rlm.mcp")

DEFAULT_LIMIT = 50  # results per list when the client gives no `limit`
MAX_SPAN_LINES = 2000  # lines one read_span returns at most
REFRESH_S = 10.0  # after a tool call, re-check the index when the last check is older than this
ASK_OPTIONS: dict[str, tuple[type, str]] = {  # ask's optional limits -> AskConfig fields
    "model": (str, "root model, a litellm name (default: REPO_RLM_MODEL)"),
    "max_iterations": (int, "root turns (default 30)"),
    "max_depth": (int, "recursion depth (default 1)"),
    "max_sub_calls": (int, "sub-calls in the whole run (default 100)"),
    "budget_usd": (float, "USD for the whole run (default 1.0)"),
    "timeout_s": (float, "wall-time seconds (default 900)"),
}
_JSON = {str: "string", int: "integer", float: "number"}

try:
    from importlib.metadata import version as _version

    __version__ = _version("repo-rlm")
except Exception:  # pragma: no cover - a plain checkout
    __version__ = "0.0.0"


class _Worker:
    """A daemon thread that runs jobs in order, so each SQLite handle stays on its own thread.
    Daemon: an unfinished index build must not keep the process alive once the client is gone
    (a build killed at any moment leaves the index consistent)."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def submit(self, fn: Callable[[], Any]) -> concurrent.futures.Future:
        fut: concurrent.futures.Future = concurrent.futures.Future()
        self._jobs.put((fut, fn))
        return fut

    def _run(self) -> None:
        while True:
            fut, fn = self._jobs.get()
            if fut.set_running_or_notify_cancel():
                try:
                    fut.set_result(fn())
                except BaseException as exc:  # noqa: BLE001 - handed to the awaiting call
                    fut.set_exception(exc)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if isinstance(exc, (RepoError, HelperError)) else f"{type(exc).__name__}: {text}".rstrip(": ")


class Index:
    """The index as the server sees it: built in the background, read on one query thread."""

    def __init__(self, root: Path, index_path: str | os.PathLike | None) -> None:
        self.root, self.index_path = root, Path(index_path) if index_path else None
        self.error: str | None = None
        self.building = False
        self.progress = (0, 0)
        self.last_check = 0.0
        self._opened = threading.Event()
        self._writer: Repo | None = None  # index thread only
        self._reader: Repo | None = None  # query thread only
        self._index = _Worker("repo-rlm-mcp-index")
        self._query = _Worker("repo-rlm-mcp-query")

    def start(self) -> None:
        self.building = True
        self._index.submit(self._open_and_build)
        self._query.submit(self._open_reader)

    def _open_and_build(self) -> None:  # index thread
        try:
            self._writer = Repo.open(self.root, index_path=self.index_path, update=False)
            self.index_path = self._writer.index_path
        except Exception as exc:  # noqa: BLE001
            self.error = f"cannot open the index for {self.root}: {_one_line(exc)}"
            log.error("%s", self.error)
            self.building = False
            return
        finally:
            self._opened.set()
        self._update()

    def _update(self) -> None:  # index thread
        try:
            if self._writer is not None:
                self._writer.update(progress=self._on_progress)
        except Exception as exc:  # noqa: BLE001 - the server keeps answering from what is indexed
            log.error("indexing failed: %s", _one_line(exc))
        finally:
            self.building = False
            self.last_check = time.monotonic()

    def _on_progress(self, done: int, total: int, phase: str) -> None:
        self.progress = (done, total)

    def _open_reader(self) -> None:  # query thread
        self._opened.wait()
        if self.error is None:
            try:
                self._reader = Repo.open(self.root, index_path=self.index_path, update=False)
            except Exception as exc:  # noqa: BLE001
                self.error = f"cannot open the index for queries: {_one_line(exc)}"

    def refresh(self) -> None:
        """Re-check the index in the background when the last check is old (cheap when nothing changed)."""
        if not self.building and self.error is None and time.monotonic() - self.last_check > REFRESH_S:
            self.building = True
            self._index.submit(self._update)

    async def run(self, fn: Callable[[Repo], Any]) -> Any:
        """fn(repo) on the query thread."""
        def job() -> Any:
            if self._reader is None:
                raise RepoError(self.error or "the index is not open")
            return fn(self._reader)

        return await asyncio.wrap_future(self._query.submit(job))

    def status_note(self) -> str:
        if not self.building:
            return ""
        done, total = self.progress
        where = f" ({done} of {total} files)" if total else ""
        return f"note: the index is still being built{where}; results may be incomplete"


# -- tools --------------------------------------------------------------------------------------

def tools() -> list[types.Tool]:
    out = [types.Tool(name=h.name, description=h.doc + (" Lists are cut to `limit` (default "
                                                        f"{DEFAULT_LIMIT}) with a note saying how many more there are."
                                                        if h.many else ""),
                      input_schema=h.input_schema(DEFAULT_LIMIT if h.many else None), output_schema=h.output_schema(),
                      annotations=types.ToolAnnotations(read_only_hint=True, open_world_hint=False))
           for h in HELPERS.values()]
    props: dict[str, Any] = {"question": {"type": "string", "description": "the question about the repository"}}
    props.update({k: {"type": _JSON[t], "description": d} for k, (t, d) in ASK_OPTIONS.items()})
    out.append(types.Tool(
        name="ask",
        description=("Answer a question about the repository with a Recursive Language Model that reads the code "
                     "through these same helpers in a sandbox; returns the answer with checked path:line "
                     "citations. Reports progress; cancel it to stop its model calls. Without a model configured "
                     "it returns the best search hits, labelled as retrieval only."),
        input_schema={"type": "object", "properties": props, "required": ["question"], "additionalProperties": False},
        annotations=types.ToolAnnotations(read_only_hint=True, open_world_hint=True)))
    return out


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=message)], is_error=True)


def _render(helper: Helper, result: Any, notes: list[str]) -> types.CallToolResult:
    if not helper.many:
        data = result.to_dict()
        text = f"{result.path}:{result.start_line}-{result.end_line}\n{result.text}"
    else:
        data = {"results": result.to_dicts(), "truncated": result.truncated, "more": result.more}
        if helper.name == "outline":
            lines = [f"{'  ' * depth}{repr(item)}" for item, depth in _walk(result, 0)]
        else:
            lines = [repr(x) for x in result]
        text = "\n".join(lines) if lines else "no results"
        if result.truncated:
            notes = [result.note(), *notes]
    if notes:
        text += "\n\n" + "\n".join(notes)
    return types.CallToolResult(content=[types.TextContent(text=text)], structured_content=data)


def _walk(items, depth):
    for item in items:
        yield item, depth
        yield from _walk(item.children, depth + 1)


async def call_helper(index: Index, helper: Helper, args: dict[str, Any]) -> types.CallToolResult:
    args = dict(args)
    notes = []
    if helper.many and args.get("limit") is None:
        args["limit"] = DEFAULT_LIMIT
    try:
        helper.check(args)
        if helper.name == "read_span" and args["end_line"] - args["start_line"] + 1 > MAX_SPAN_LINES:
            notes.append(f"truncated, {args['end_line'] - args['start_line'] + 1 - MAX_SPAN_LINES} more lines: "
                         f"one call reads at most {MAX_SPAN_LINES} lines")
            args["end_line"] = args["start_line"] + MAX_SPAN_LINES - 1
        result = await index.run(lambda repo: helper.call(repo, args))
    except (HelperError, RepoError) as exc:
        return _error(f"{helper.name}: {_one_line(exc)}" if not str(exc).startswith(helper.name) else str(exc))
    except Exception as exc:  # noqa: BLE001 - one line to the client, and keep serving
        log.error("%s failed: %s", helper.name, _one_line(exc))
        return _error(f"{helper.name} failed: {_one_line(exc)}")
    finally:
        index.refresh()
    note = index.status_note()
    return _render(helper, result, notes + ([note] if note else []))


async def call_ask(ctx: Any, index: Index, args: dict[str, Any]) -> types.CallToolResult:
    from ..agent.ask import AskConfig, ask_async

    question = args.get("question")
    if not isinstance(question, str) or not question.strip():
        return _error("ask: `question` must be a non-empty string")
    unknown = sorted(set(args) - {"question", *ASK_OPTIONS})
    if unknown:
        return _error(f"ask: unknown argument{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
    overrides: dict[str, Any] = {}
    for key, (kind, _doc) in ASK_OPTIONS.items():
        value = args.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else kind):
            return _error(f"ask: {key} must be {_JSON[kind]}")
        if kind is not str and value <= 0:
            return _error(f"ask: {key} must be positive")
        overrides[key] = value
    try:
        await index.run(lambda repo: None)  # the index is open by now
        repo = Repo.open(index.root, index_path=index.index_path, update=False)  # ask_async uses it on this thread
    except Exception as exc:  # noqa: BLE001
        return _error(f"ask: {_one_line(exc)}")
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Future] = set()

    def report(event: dict[str, Any]) -> None:  # loop thread
        it, total = event.get("iteration") or 0, event.get("max_iterations") or 0
        message = f"iteration {it}/{total}" if total else f"iteration {it}"
        if event.get("step"):
            message += f" · {event['step']}"
        if event.get("sub_calls"):
            message += f" · {event['sub_calls']} sub-calls"
        message += f" · ${event.get('cost_usd') or 0.0:.4f}"
        fut = asyncio.ensure_future(ctx.session.report_progress(float(it), float(total) if total else None, message))
        pending.add(fut)
        fut.add_done_callback(pending.discard)

    def on_progress(event: dict[str, Any]) -> None:
        if threading.current_thread() is threading.main_thread():
            report(event)
        else:
            loop.call_soon_threadsafe(report, event)

    try:
        result = await ask_async(repo, question, AskConfig.from_env(**overrides), on_progress=on_progress)
    except asyncio.CancelledError:  # ask_async has stopped its model calls and killed its REPL worker
        for fut in pending:
            fut.cancel()
        raise
    except Exception as exc:  # noqa: BLE001
        return _error(f"ask failed: {_one_line(exc)}")
    finally:
        repo.close()
        if pending:
            await asyncio.wait(set(pending), timeout=1)
    data = result.to_dict()
    text = result.answer
    if result.citations:
        text += "\n\nSources: " + ", ".join(f"{c['path']}:{c['start_line']}-{c['end_line']}" for c in result.citations)
    text += f"\n\nstopped: {result.stopped} · {result.iterations} iterations · ${result.usage['cost_usd']:.4f}"
    for note in result.notes:
        text += f"\nnote: {note}"
    return types.CallToolResult(content=[types.TextContent(text=text)], structured_content=data,
                                is_error=result.stopped == "error")


def create_server(index: Index) -> Server:
    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools())

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        args = params.arguments or {}
        if params.name == "ask":
            return await call_ask(ctx, index, args)
        helper = HELPERS.get(params.name)
        if helper is None:
            return _error(f"unknown tool {params.name!r}; the tools are {', '.join([*HELPERS, 'ask'])}")
        return await call_helper(index, helper, args)

    return Server("repo-rlm", version=__version__, instructions=(
        "Code navigation over an index of one repository (definitions, callers and callees with how each call was "
        "resolved, references, outlines, search, grep, imports, git history), and `ask` for questions that need "
        "reading and reasoning. Lines are 1-based and inclusive; paths are relative to the repository root."),
        on_list_tools=list_tools, on_call_tool=call_tool)


async def serve(root: Path, index_path: str | os.PathLike | None) -> None:
    from mcp.server.stdio import stdio_server

    index = Index(root, index_path)
    index.start()
    server = create_server(index)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def main(argv: list[str] | None = None, repo_root: str | None = None, index_path: str | None = None) -> int:
    parser = argparse.ArgumentParser(prog="repo-rlm mcp", description="Serve repo-rlm over MCP on stdio.")
    parser.add_argument("--log-level", default=os.environ.get("REPO_RLM_MCP_LOG", "warning"))
    args = parser.parse_args(argv or [])
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("repo-rlm mcp: %(levelname)s %(message)s"))
    logging.getLogger().handlers[:] = [handler]
    logging.getLogger().setLevel(getattr(logging, str(args.log_level).upper(), logging.WARNING))
    try:
        root = find_root(repo_root)
    except RepoError as exc:
        print(f"repo-rlm mcp: error: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(root, index_path or os.environ.get("REPO_RLM_INDEX") or None))
    except KeyboardInterrupt:
        pass
    return 0

