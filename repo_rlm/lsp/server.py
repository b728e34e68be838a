"""repo-rlm language server: the index and the RLM agent over LSP (pygls 2).

Every handler is a thin adapter: it turns LSP positions into repo_rlm positions, calls one
`Repo` method, and turns the results back into LSP types. The logic lives in repo_rlm.

Threads: the event loop only speaks the protocol. One "index" thread owns a writable `Repo`
(initial build, then incremental updates after didSave / didChangeWatchedFiles); one "query"
thread owns a second `Repo` on the same SQLite file (WAL), so queries answer from what is
indexed so far while the build runs, and a slow query never blocks the protocol.
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
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote

from lsprotocol import types as T
from pygls.exceptions import JsonRpcException, JsonRpcInternalError
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.uris import from_fs_path, to_fs_path

from repo_rlm import __version__
from repo_rlm.index.discovery import inside
from repo_rlm.query import editor

from .framing import FrameReader
from .positions import UTF16, column_to_units, line_length, split_lines, units_to_column, word_end, word_start

log = logging.getLogger("repo_rlm.lsp")


ASK_METHOD = "repoRlm/ask"
ASK_COMMAND = "repoRlm.ask"
SHOW_CALLERS_COMMAND = "repoRlm.showCallers"
UPDATE_WAIT_S = 2.0  # a query waits at most this long for a pending didSave update
INLINE_LENS_LIMIT = 150  # files with more lensed definitions resolve their lenses lazily

SYMBOL_KINDS = {
    "function": T.SymbolKind.Function,
    "method": T.SymbolKind.Method,
    "class": T.SymbolKind.Class,
    "interface": T.SymbolKind.Interface,
    "struct": T.SymbolKind.Struct,
    "enum": T.SymbolKind.Enum,
    "variable": T.SymbolKind.Variable,
    "constant": T.SymbolKind.Constant,
    "module": T.SymbolKind.Module,
    "field": T.SymbolKind.Field,
    "property": T.SymbolKind.Property,
    "constructor": T.SymbolKind.Constructor,
    "trait": T.SymbolKind.Interface,
    "type": T.SymbolKind.TypeParameter,
    "namespace": T.SymbolKind.Namespace,
    "package": T.SymbolKind.Package,
}

# The settings a client may send (camelCase, as the VS Code extension names them) -> AskConfig
# fields. Nothing else is taken from a client: not the sandbox, the trace path, an API key or a
# context, which a workspace's settings could otherwise choose.
SETTING_FIELDS = {
    "model": "model",
    "subModel": "sub_model",
    "apiBase": "api_base",
    "budgetUsd": "budget_usd",
    "budget": "budget_usd",
    "maxIterations": "max_iterations",
    "maxDepth": "max_depth",
    "maxSubCalls": "max_sub_calls",
    "timeout": "timeout_s",
}
CLIENT_SETTINGS = {"path", "indexPath"}  # the VS Code extension's own (it sends its whole section)
TEXT_SETTINGS = {"model", "sub_model", "api_base"}
INT_SETTINGS = {"max_iterations", "max_depth", "max_sub_calls"}


def setting_value(field: str, value: Any) -> Any:
    """A client's value for an AskConfig field, or None when it has the wrong type or is unset."""
    if field in TEXT_SETTINGS:
        return value.strip() or None if isinstance(value, str) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        return None
    return int(value) if field in INT_SETTINGS else float(value)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


class QueryError(JsonRpcInternalError):
    """A request failed; the message is one line."""


class _Answered(Exception):
    """A request that could not be read was already answered with an error."""


class _Protocol(LanguageServerProtocol):
    """pygls only logs a request whose params do not fit its method, and the client waits
    forever: answer it with the JSON-RPC error (InvalidParams)."""

    def structure_message(self, data: dict[str, Any]):
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            msg_id = data.get("id") if isinstance(data, dict) else None
            if isinstance(msg_id, (int, str)) and not isinstance(msg_id, bool) and isinstance(data.get("method"), str):
                self._send_response(msg_id, error=type(exc)(message=f"{exc.message}: {_one_line(exc.__cause__ or exc)}"
                                                            ).to_response_error())
                raise _Answered() from exc
            raise


class _Worker:
    """A daemon thread that runs jobs in order, so a SQLite handle stays on its own thread.

    Daemon: an unfinished index build must not keep the process alive after `exit`."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future:
        fut: concurrent.futures.Future = concurrent.futures.Future()
        self._jobs.put((fut, fn, args))
        return fut

    def _run(self) -> None:
        while True:
            fut, fn, args = self._jobs.get()
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting request
                fut.set_exception(exc)


class RepoRlmServer(LanguageServer):
    def __init__(self, repo_root: str | os.PathLike | None = None, index_path: str | os.PathLike | None = None):
        super().__init__("repo-rlm", __version__, text_document_sync_kind=T.TextDocumentSyncKind.Incremental,
                         protocol_cls=_Protocol)
        self.repo_root = Path(repo_root) if repo_root else None
        self.index_path = Path(index_path) if index_path else None
        self.settings: dict[str, Any] = {}
        self.encoding = UTF16
        self.root: Path | None = None  # the repository root, known once the index is open
        self.index_stats: dict | None = None
        self.index_error: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._indexer = _Worker("repo-rlm-index")
        self._reader = _Worker("repo-rlm-query")
        self._write_repo = None  # used on the index thread only
        self._read_repo = None  # used on the query thread only
        self._opened = threading.Event()
        self._index_done = False
        self._index_token: str | None = None
        self._index_last_report = 0.0
        self._pending_updates: set[asyncio.Future] = set()
        self._lines: OrderedDict[str, tuple[tuple[int, int], list[str]]] = OrderedDict()
        self._ascii: dict[str, tuple[tuple[int, int], bool]] = {}
        self._uris: dict[str, str] = {}
        self._open_docs: dict[str, str] = {}  # path -> unsaved text of each open document (query thread)
        self._doc_paths: dict[str, str | None] = {}  # open document uri -> path (query thread)
        self._maps: dict[str, tuple[str, list[str], editor.LineMap, list[str]]] = {}
        self._open_uris: frozenset[str] = frozenset()  # replaced, never mutated: the index thread reads it
        self._asks: set[asyncio.Task] = set()
        self.stopping = False  # after `shutdown`: nothing more goes to the client

    # ----------------------------------------------------------------- index lifecycle

    def start_index(self, workspace_root: Path | None) -> None:
        self._loop = asyncio.get_running_loop()
        root = self.repo_root or workspace_root or Path.cwd()
        self._indexer.submit(self._open_and_build, root)
        self._reader.submit(self._open_reader)

    def _open_and_build(self, root: Path) -> None:
        from repo_rlm.query.repo import Repo, find_root

        try:
            if self.repo_root is None:  # the editor's folder: the git top level, or a reasonable plain directory
                root = find_root(root, explicit=False)
            self._write_repo = Repo.open(root=root, index_path=self.index_path, update=False,
                                         notify=lambda msg: log.warning("%s", msg))
            self.root = Path(self._write_repo.root).resolve()
            self.index_path = Path(self._write_repo.index_path)
        except Exception as exc:  # noqa: BLE001
            self.index_error = f"cannot open the index for {root}: {_one_line(exc)}"
            log.error("%s", self.index_error)
            self._opened.set()
            self._post(self._finish_index)
            return
        self._opened.set()
        try:
            self._write_repo.update(progress=self._on_index_progress, first=self.open_paths)
            self.index_stats = self._write_repo.stats
        except Exception as exc:  # noqa: BLE001
            self.index_error = f"indexing failed: {_one_line(exc)}"
            log.error("%s", self.index_error)
        self._post(self._finish_index)

    def _open_reader(self) -> None:
        self._opened.wait()
        if self.root is None:
            return
        from repo_rlm.query.repo import Repo

        # Not readonly: a read-only handle may fall back to `immutable=1` and never see updates.
        # This handle only reads; the index thread's handle writes.
        try:
            self._read_repo = Repo.open(root=self.root, index_path=self.index_path, update=False)
        except Exception as exc:  # noqa: BLE001
            log.error("cannot open the index for queries: %s", _one_line(exc))

    def _post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run fn on the event loop (the only thread that writes to the client)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn, *args)

    def _on_index_progress(self, done: int, total: int, phase: str) -> None:  # index thread
        now = time.monotonic()
        if now - self._index_last_report >= 0.1 or done >= total:
            self._index_last_report = now
            self._post(self._report_index, done, total, phase)

    async def begin_index_progress(self) -> None:
        """After `initialized`: show the build as work-done progress, if the client can."""
        if self._index_done or not self._client_supports_progress():
            return
        token = f"repo-rlm/index/{uuid.uuid4()}"
        try:
            await asyncio.wait_for(self.work_done_progress.create_async(token), 5)
        except Exception as exc:  # noqa: BLE001
            log.warning("no index progress: %s", _one_line(exc))
            return
        if self._index_done:
            return
        self._index_token = token
        self.work_done_progress.begin(
            token, T.WorkDoneProgressBegin(title="repo-rlm: indexing", message="scanning files", percentage=0)
        )

    def _report_index(self, done: int, total: int, phase: str) -> None:
        if self._index_token and not self._index_done and not self.stopping:
            pct = int(100 * done / total) if total else 0
            self.work_done_progress.report(
                self._index_token,
                T.WorkDoneProgressReport(message=f"{phase} {done}/{total}", percentage=min(pct, 100)),
            )

    def _finish_index(self) -> None:
        self._index_done = True
        if self.stopping:
            return
        if self._index_token:
            if self.index_error:
                message = self.index_error
            else:
                stats = self.index_stats or {}
                message = f"{stats.get('files', '?')} files, {stats.get('symbols', '?')} symbols"
            self.work_done_progress.end(self._index_token, T.WorkDoneProgressEnd(message=message))
            self.work_done_progress.tokens.pop(self._index_token, None)
            self._index_token = None
        if self.index_error:
            self.window_show_message(T.ShowMessageParams(type=T.MessageType.Error, message=f"repo-rlm: {self.index_error}"))

    def _client_supports_progress(self) -> bool:
        window = self.client_capabilities.window
        return bool(window and window.work_done_progress)

    def schedule_update(self, uris: list[str]) -> None:
        """didSave / didChangeWatchedFiles: update those files in the index, off the loop."""
        fut = asyncio.wrap_future(self._indexer.submit(self._update_files, uris))
        self._pending_updates.add(fut)
        fut.add_done_callback(self._pending_updates.discard)

    def _update_files(self, uris: list[str]) -> None:  # index thread
        if self._write_repo is None:
            return
        paths = sorted({p for p in map(self.rel_path, uris) if p})
        if paths:
            try:
                self._write_repo.update(paths=paths)
            except Exception as exc:  # noqa: BLE001
                log.error("index update failed for %s: %s", ", ".join(paths[:3]), _one_line(exc))

    # ----------------------------------------------------------------- queries

    async def query(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run fn(repo, *args) on the query thread; None when there is no index."""
        if self._pending_updates and self._index_done:  # after a save: answer from the new index (bounded)
            await asyncio.wait(set(self._pending_updates), timeout=UPDATE_WAIT_S)
        docs = {uri: doc.source for uri, doc in self.workspace.text_documents.items()}
        return await asyncio.wrap_future(self._reader.submit(self._run_query, fn, args, docs))

    def _run_query(self, fn: Callable[..., Any], args: tuple, docs: dict[str, str]) -> Any:  # query thread
        if self._read_repo is None:
            return None
        self._set_open_docs(docs)
        from repo_rlm.query.repo import RepoError

        try:
            return fn(self._read_repo, *args)
        except QueryError:
            raise
        except RepoError as exc:  # e.g. a file the index does not cover: nothing to say about it
            log.debug("%s", _one_line(exc))
            return None
        except Exception as exc:  # noqa: BLE001
            message = _one_line(exc)
            log.error("%s failed: %s", getattr(fn, "__name__", "query"), message)
            raise QueryError(message=f"repo-rlm: {message}") from None

    async def at_position(self, params: T.TextDocumentPositionParams, fn: Callable[..., Any]) -> Any:
        """fn(repo, path, line, column, line_text) with repo_rlm positions, on the query thread.

        line_text is the line from the open (maybe unsaved) document, None if not open."""
        uri = params.text_document.uri
        doc = self.workspace.text_documents.get(unquote(uri))
        line_text = None
        if doc is not None:
            lines = doc.lines
            line_text = lines[params.position.line].rstrip("\r\n") if params.position.line < len(lines) else ""
        return await self.query(self._at_position, uri, params.position, line_text, fn)

    def _at_position(self, repo, uri: str, pos: T.Position, line_text: str | None, fn):
        path = self.rel_path(uri)
        if path is None:
            return None
        text = line_text if line_text is not None else self.line(path, pos.line + 1)
        column = units_to_column(text, pos.character, self.encoding)
        edits = self.edit_map(path)
        line = edits[0].to_saved(pos.line + 1) if edits else pos.line + 1  # the index knows the saved file
        return fn(repo, path, line, column, line_text)

    # ----------------------------------------------------------------- unsaved edits

    def open_documents_changed(self, uris: frozenset[str]) -> None:
        self._open_uris = uris

    def open_paths(self) -> list[str]:
        """The open documents' paths (index thread: the build parses them first)."""
        return [p for p in map(self.rel_path, self._open_uris) if p]

    def _set_open_docs(self, docs: dict[str, str]) -> None:  # query thread
        out = {}
        for uri, text in docs.items():
            if uri not in self._doc_paths:
                if len(self._doc_paths) > 1024:
                    self._doc_paths.clear()
                self._doc_paths[uri] = self.rel_path(uri)
            path = self._doc_paths[uri]
            if path:
                out[path] = text
        self._open_docs = out

    def edit_map(self, path: str) -> tuple[editor.LineMap, list[str]] | None:
        """For an open document whose text differs from the saved file: how their lines map,
        and the unsaved lines. Every range in such a file is given in the unsaved text's lines."""
        text = self._open_docs.get(path)
        if text is None:
            return None
        saved = self.lines(path)
        hit = self._maps.get(path)
        if hit is None or hit[0] is not text or hit[1] is not saved:
            edited = split_lines(text)
            if len(self._maps) > 64:
                self._maps.clear()
            hit = self._maps[path] = (text, saved, editor.LineMap(saved, edited), edited)
        return None if hit[2].identity else (hit[2], hit[3])

    # ----------------------------------------------------------------- paths, lines, ranges

    def rel_path(self, uri: str) -> str | None:
        if self.root is None:
            return None
        fs = to_fs_path(uri)
        if not fs:
            return None
        p = Path(fs)
        try:
            return p.resolve().relative_to(self.root).as_posix()
        except ValueError:
            try:
                return p.absolute().relative_to(self.root).as_posix()
            except ValueError:
                return None

    def uri(self, path: str) -> str:
        hit = self._uris.get(path)
        if hit is None:
            hit = self._uris[path] = from_fs_path(str(self.root / path)) or ""
        return hit

    def lines(self, path: str) -> list[str]:
        """The file's lines as indexed (from disk), cached by mtime and size."""
        full = inside(self.root, path)
        if full is None:
            return []
        try:
            st = full.stat()
            key = (st.st_mtime_ns, st.st_size)
        except OSError:
            return []
        hit = self._lines.get(path)
        if hit and hit[0] == key:
            self._lines.move_to_end(path)
            return hit[1]
        try:
            lines = split_lines(full.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            lines = []
        self._lines[path] = (key, lines)
        if len(self._lines) > 256:
            self._lines.popitem(last=False)
        return lines

    def is_ascii(self, path: str) -> bool:
        """Whether the file is pure ASCII (then columns need no conversion), cached by mtime and size."""
        full = inside(self.root, path)
        if full is None:
            return True
        try:
            st = full.stat()
            key = (st.st_mtime_ns, st.st_size)
        except OSError:
            return True
        hit = self._ascii.get(path)
        if hit and hit[0] == key:
            return hit[1]
        try:
            flag = full.read_bytes().isascii()
        except OSError:
            flag = True
        self._ascii[path] = (key, flag)
        return flag

    def line(self, path: str, line: int) -> str:
        """The text of a saved-file line: from the unsaved document when it is open and edited."""
        edits = self.edit_map(path)
        lines = self.lines(path) if edits is None else edits[1]
        if edits is not None:
            line = edits[0].to_edited(line)
        return lines[line - 1] if 1 <= line <= len(lines) else ""

    def span(self, path: str, line: int, start_col: int, end_col: int) -> T.Range:
        """A range on one saved-file line, in the editor's lines and units."""
        edits = self.edit_map(path)
        if edits is not None:
            text = self.line(path, line)
            line = edits[0].to_edited(line)
        elif self.encoding != UTF16 or not self.is_ascii(path):
            text = self.line(path, line)
        else:  # ASCII: code points are UTF-16 units, no need to read the line
            return T.Range(
                start=T.Position(line=max(line - 1, 0), character=max(start_col - 1, 0)),
                end=T.Position(line=max(line - 1, 0), character=max(end_col - 1, 0)),
            )
        return T.Range(
            start=T.Position(line=max(line - 1, 0), character=column_to_units(text, start_col, self.encoding)),
            end=T.Position(line=max(line - 1, 0), character=column_to_units(text, end_col, self.encoding)),
        )

    def word_range(self, path: str, line: int, column: int, name: str | None = None) -> T.Range:
        """The identifier at (line, column); with `name`, its first occurrence from there on."""
        text = self.line(path, line)
        if name:
            i = text.find(name, max(column - 1, 0))
            if i >= 0:
                return self.span(path, line, i + 1, i + 1 + len(name))
        return self.span(path, line, column, word_end(text, column))

    def lines_range(self, path: str, start_line: int, end_line: int) -> T.Range:
        n = len(self.lines(path))
        start_line = min(max(start_line, 1), max(n, 1))
        end_line = min(max(end_line, start_line), max(n, 1))
        end_text = self.line(path, end_line)
        edits = self.edit_map(path)
        if edits is not None:
            start_line, end_line = edits[0].to_edited(start_line), edits[0].to_edited(end_line)
        return T.Range(
            start=T.Position(line=start_line - 1, character=0),
            end=T.Position(line=end_line - 1, character=line_length(end_text, self.encoding)),
        )

    def name_range(self, d) -> T.Range:
        if d.name_line:
            return self.span(d.path, d.name_line, d.name_column, d.name_column + len(d.name))
        return self.word_range(d.path, d.start_line, 1, d.name)

    def def_location(self, d) -> T.Location:
        return T.Location(uri=self.uri(d.path), range=self.name_range(d))

    @staticmethod
    def symbol_kind(kind: str) -> T.SymbolKind:
        return SYMBOL_KINDS.get(kind, T.SymbolKind.Variable)

    # ----------------------------------------------------------------- call hierarchy

    def call_item(self, d, detail_suffix: str = "") -> T.CallHierarchyItem:
        return T.CallHierarchyItem(
            name=d.name,
            kind=self.symbol_kind(d.kind),
            uri=self.uri(d.path),
            range=self.lines_range(d.path, d.start_line, d.end_line),
            selection_range=self.name_range(d),
            detail=d.qualname + detail_suffix,
            data={"qualname": d.qualname, "path": d.path, "start_line": d.start_line, "end_line": d.end_line},
        )

    def group_item(self, repo, group: editor.CallGroup) -> T.CallHierarchyItem:
        """The item for the other end of a call group: its definition, or its span when the index has none."""
        qualname, path, start_line, end_line = group.qualname, group.path, group.start_line, group.end_line
        suffix = " (name match)" if group.by_name_only else ""
        d = editor.definition_at(repo, qualname, path, start_line)
        if d is not None:
            return self.call_item(d, suffix)
        name = qualname.rsplit(".", 1)[-1] or qualname
        rng = self.lines_range(path, start_line, end_line)
        return T.CallHierarchyItem(
            name=name,
            kind=T.SymbolKind.Module if editor.looks_like_module(qualname, path, start_line) else T.SymbolKind.Function,
            uri=self.uri(path),
            range=rng,
            selection_range=T.Range(start=rng.start, end=rng.start),
            detail=qualname + suffix,
            data={"qualname": qualname, "path": path, "start_line": start_line, "end_line": end_line},
        )

    def call_site(self, c) -> T.Range:
        return self.word_range(c.path, c.line, c.column, c.callee.rsplit(".", 1)[-1])

    # ----------------------------------------------------------------- code lens

    def lens_command(self, repo, data: dict) -> T.Command:
        count = editor.caller_count(repo, data["qualname"], data["path"], data["start_line"], data.get("end_line"))
        locations = [{"uri": self.uri(c.path), "range": _range_dict(self.call_site(c))} for c in count.calls]
        position = {"line": data["line"], "character": data["character"]}
        return T.Command(title=count.title(), command=SHOW_CALLERS_COMMAND, arguments=[data["uri"], position, locations])

    # ----------------------------------------------------------------- settings and ask

    def report_server_error(self, error: Exception, source) -> None:
        if isinstance(error, _Answered):  # the client has its error response; no pop-up as well
            return
        super().report_server_error(error, source)

    def apply_settings(self, options: Any) -> None:
        """Keep the documented settings (SETTING_FIELDS) with values of the right type; drop the rest."""
        if isinstance(options, dict):
            section = options.get("repoRlm", options)
            if isinstance(section, dict):
                for key, value in section.items():
                    if key in SETTING_FIELDS:
                        self.settings[key] = value
                    elif key not in CLIENT_SETTINGS:
                        log.warning("ignored the setting %r (not one repo-rlm takes from a client)", str(key)[:80])

    def ask_overrides(self, model: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.settings.items():
            field = SETTING_FIELDS.get(key)
            if field is not None and (value := setting_value(field, value)) is not None:
                out[field] = value
        model = setting_value("model", model)
        if model:
            out["model"] = model
        return out

    async def ask(self, question: str, token: T.ProgressToken | None, model: str | None, outer=None) -> dict:
        from repo_rlm.agent.ask import AskConfig, ask_async

        if not isinstance(question, str) or not question.strip():
            raise QueryError(message="repo-rlm: the question is empty")
        task = asyncio.current_task()
        assert task is not None
        self._asks.add(task)
        if outer is not None:  # executeCommand: cancelling the request must reach this task
            outer.add_done_callback(lambda f: f.cancelled() and self._post(task.cancel))
        if token is None and self._client_supports_progress():
            token = f"repo-rlm/ask/{uuid.uuid4()}"
            try:
                await asyncio.wait_for(self.work_done_progress.create_async(token), 5)
            except Exception:  # noqa: BLE001
                token = None
        loop = asyncio.get_running_loop()
        if token is not None:
            self.work_done_progress.begin(
                token, T.WorkDoneProgressBegin(title="repo-rlm: ask", message=question[:100], cancellable=True, percentage=0)
            )
            cancel = self.work_done_progress.tokens.get(token)
            if cancel is not None:  # window/workDoneProgress/cancel
                cancel.add_done_callback(lambda f: f.cancelled() and self._post(task.cancel))

        def on_progress(event: dict) -> None:
            if token is None:
                return
            if threading.current_thread() is threading.main_thread() and _running_loop() is loop:
                self._report_ask(token, event)
            else:
                loop.call_soon_threadsafe(self._report_ask, token, event)

        end_message = "cancelled"
        try:
            repo = await self.ask_repo()
            config = AskConfig.from_env(**self.ask_overrides(model))
            result = await ask_async(repo, question, config, on_progress=on_progress)
            end_message = f"stopped: {result.stopped}"
            return await asyncio.wrap_future(self._reader.submit(self.ask_result, result))
        except (asyncio.CancelledError, QueryError):
            raise
        except Exception as exc:  # noqa: BLE001
            end_message = f"failed: {_one_line(exc)}"
            raise QueryError(message=f"repo-rlm ask: {_one_line(exc)}") from None
        finally:
            self._asks.discard(task)
            if token is not None and not self.stopping:
                await asyncio.sleep(0)  # let queued reports go out before the end
                self.work_done_progress.end(token, T.WorkDoneProgressEnd(message=end_message))
                self.work_done_progress.tokens.pop(token, None)

    async def ask_repo(self):
        """A Repo of its own for one ask run: ask_async uses it on the event loop thread."""
        from repo_rlm.query.repo import Repo

        await asyncio.wrap_future(self._reader.submit(lambda: None))  # the index is open by now
        if self.root is None:
            raise QueryError(message=f"repo-rlm: {self.index_error or 'the index is not open'}")
        return Repo.open(root=self.root, index_path=self.index_path, update=False)

    def warm_up_ask(self) -> None:
        """With a model configured, import the model client in the background: litellm takes
        seconds to import, which the first question would otherwise wait for."""
        if not (self.settings.get("model") or os.environ.get("REPO_RLM_MODEL")):
            return

        def run() -> None:
            try:
                import repo_rlm.agent.models  # noqa: F401 - sets litellm's offline defaults first
                import litellm  # noqa: F401
            except Exception as exc:  # noqa: BLE001
                log.warning("model client warm-up failed: %s", _one_line(exc))

        threading.Thread(target=run, name="repo-rlm-warm-up", daemon=True).start()

    def _report_ask(self, token: T.ProgressToken, event: dict) -> None:
        if self.stopping:
            return
        it = event.get("iteration") or 0
        total = event.get("max_iterations") or 0
        step = event.get("step") or ""
        cost = event.get("cost_usd") or 0.0
        subs = event.get("sub_calls") or 0
        message = f"iteration {it}/{total}" if total else f"iteration {it}"
        if step:
            message += f" · {step}"
        if subs:
            message += f" · {subs} sub-calls"
        message += f" · ${cost:.4f}"
        pct = min(int(100 * it / total), 99) if total else None
        self.work_done_progress.report(token, T.WorkDoneProgressReport(message=message, percentage=pct))

    def ask_result(self, result) -> dict:
        """AskResult -> {"answer", "citations": [{"uri", "range"}], "stopped", ...} (query thread)."""
        citations = []
        for c in result.citations or []:
            c = c if isinstance(c, dict) else c.to_dict()
            path = c.get("path")
            full = inside(self.root, path) if path and self.root is not None else None
            if full is None or not full.is_file():
                continue
            rng = self.lines_range(path, int(c.get("start_line") or 1), int(c.get("end_line") or c.get("start_line") or 1))
            citations.append({"uri": self.uri(path), "range": _range_dict(rng)})
        out = {"answer": result.answer, "citations": citations, "stopped": result.stopped}
        full = result.to_dict() if hasattr(result, "to_dict") else {}
        for key in ("iterations", "sub_calls", "usage"):
            if key in full:
                out[key] = full[key]
        return out

    def cancel_asks(self) -> None:
        """On `shutdown`: stop every Ask, and cancel the other requests in flight here, over a
        copy: pygls cancels them next while iterating its own table, and cancelling an
        executeCommand (a concurrent future) removes it from that table at once."""
        self.stopping = True
        for task in list(self._asks):
            task.cancel()
        current = self.protocol.msg_id
        for msg_id, fut in list(self.protocol._request_futures.items()):
            if msg_id != current and not fut.done():
                fut.cancel()


def _running_loop():
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _range_dict(r: T.Range) -> dict:
    return {
        "start": {"line": r.start.line, "character": r.start.character},
        "end": {"line": r.end.line, "character": r.end.character},
    }


# ===================================================================== features


def create_server(repo_root=None, index_path=None) -> RepoRlmServer:
    server = RepoRlmServer(repo_root=repo_root, index_path=index_path)

    @server.feature(T.INITIALIZE)
    def initialize(ls: RepoRlmServer, params: T.InitializeParams) -> None:
        ls.encoding = str(getattr(ls.workspace.position_encoding, "value", ls.workspace.position_encoding) or UTF16)
        ls.apply_settings(params.initialization_options)
        root = None
        if params.root_uri:
            root = to_fs_path(params.root_uri)
        elif params.workspace_folders:
            root = to_fs_path(params.workspace_folders[0].uri)
        elif params.root_path:
            root = params.root_path
        # after the response is written: the index thread's imports would hold the GIL first
        loop = asyncio.get_running_loop()
        loop.call_soon(ls.start_index, Path(root) if root else None)
        loop.call_soon(ls.warm_up_ask)

    @server.feature(T.INITIALIZED)
    async def initialized(ls: RepoRlmServer, params: T.InitializedParams) -> None:
        await ls.begin_index_progress()
        ws = ls.client_capabilities.workspace
        watched = ws and ws.did_change_watched_files
        if watched and watched.dynamic_registration:
            options = T.DidChangeWatchedFilesRegistrationOptions(watchers=[T.FileSystemWatcher(glob_pattern="**/*")])
            try:
                await ls.client_register_capability_async(
                    T.RegistrationParams(
                        registrations=[
                            T.Registration(id=str(uuid.uuid4()), method=T.WORKSPACE_DID_CHANGE_WATCHED_FILES, register_options=options)
                        ]
                    )
                )
            except Exception as exc:  # noqa: BLE001
                log.warning("file watching not registered: %s", _one_line(exc))

    @server.feature(T.SHUTDOWN)
    def shutdown(ls: RepoRlmServer, params: None) -> None:
        ls.cancel_asks()

    @server.feature(T.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(ls: RepoRlmServer, params: T.DidChangeConfigurationParams) -> None:
        ls.apply_settings(params.settings)

    @server.feature(T.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: RepoRlmServer, params: T.DidOpenTextDocumentParams) -> None:
        ls.open_documents_changed(frozenset(ls.workspace.text_documents))

    @server.feature(T.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: RepoRlmServer, params: T.DidCloseTextDocumentParams) -> None:
        ls.open_documents_changed(frozenset(ls.workspace.text_documents))

    @server.feature(T.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: RepoRlmServer, params: T.DidSaveTextDocumentParams) -> None:
        ls.schedule_update([params.text_document.uri])

    @server.feature(T.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(ls: RepoRlmServer, params: T.DidChangeWatchedFilesParams) -> None:
        ls.schedule_update([c.uri for c in params.changes])

    @server.feature(T.TEXT_DOCUMENT_DEFINITION)
    async def definition(ls: RepoRlmServer, params: T.DefinitionParams):
        def run(repo, path, line, column, line_text):
            return [ls.def_location(d) for d in repo.definition_at(path, line, column, line_text=line_text)]

        return await ls.at_position(params, run) or None

    @server.feature(T.TEXT_DOCUMENT_REFERENCES)
    async def references(ls: RepoRlmServer, params: T.ReferenceParams):
        include_decl = params.context.include_declaration if params.context else True

        def run(repo, path, line, column, line_text):
            out, seen, lines = [], set(), {}
            word, _ = repo.word_at(path, line, column, line_text)
            for r in repo.references_at(path, line, column, line_text=line_text):
                if r.kind == "definition" and not include_decl:
                    continue
                if (r.path, r.line, r.column) in seen:
                    continue
                seen.add((r.path, r.line, r.column))
                width = len(word)
                if r.kind == "call":  # a call under another local name (an import alias) has its own width
                    if r.path not in lines:
                        try:
                            lines[r.path] = repo.read(r.path).split("\n")
                        except Exception:
                            lines[r.path] = []
                    text = lines[r.path][r.line - 1] if r.line <= len(lines[r.path]) else ""
                    width = len(repo.word_at(r.path, r.line, r.column, text)[0] or word)
                # plain dicts: tens of thousands of Locations serialize several times faster
                out.append({"uri": ls.uri(r.path), "range": _range_dict(ls.span(r.path, r.line, r.column, r.column + width))})
            return out

        return await ls.at_position(params, run) or None

    @server.feature(T.TEXT_DOCUMENT_HOVER)
    async def hover(ls: RepoRlmServer, params: T.HoverParams):
        def run(repo, path, line, column, line_text):
            defs = repo.definition_at(path, line, column, line_text=line_text)
            if not defs:
                return None
            d = defs[0]
            parts = []
            if d.signature:
                parts.append(f"```{d.lang}\n{d.signature.strip()}\n```")
            parts.append(f"{d.kind} `{d.qualname}` — {d.path}:{d.start_line}")
            if d.doc:
                parts.append(d.doc.strip())
            if len(defs) > 1:
                parts.append(f"(+{len(defs) - 1} more definition{'s' if len(defs) > 2 else ''} with this name)")
            text = line_text if line_text is not None else ls.line(path, line)
            at = params.position.line  # the editor's line (`line` is the saved file's)
            rng = T.Range(
                start=T.Position(line=at, character=column_to_units(text, word_start(text, column), ls.encoding)),
                end=T.Position(line=at, character=column_to_units(text, word_end(text, column), ls.encoding)),
            )
            return T.Hover(contents=T.MarkupContent(kind=T.MarkupKind.Markdown, value="\n\n".join(parts)), range=rng)

        return await ls.at_position(params, run)

    @server.feature(T.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    async def document_symbol(ls: RepoRlmServer, params: T.DocumentSymbolParams):
        uri = params.text_document.uri

        def run(repo):
            path = ls.rel_path(uri)
            if path is None:
                return None
            outline = repo.outline(path)
            names = editor.name_positions(outline)

            def convert(item) -> T.DocumentSymbol:
                rng = ls.lines_range(path, item.start_line, item.end_line)
                pos = names.get((item.qualname, item.start_line))
                if pos:
                    sel = ls.span(path, pos[0], pos[1], pos[1] + len(item.name))
                else:
                    sel = ls.word_range(path, item.start_line, 1, item.name)
                if not (_le(rng.start, sel.start) and _le(sel.end, rng.end)):
                    sel = T.Range(start=rng.start, end=rng.start)
                return T.DocumentSymbol(
                    name=item.name,
                    kind=ls.symbol_kind(item.kind),
                    range=rng,
                    selection_range=sel,
                    detail=item.qualname,
                    children=[convert(c) for c in item.children] or None,
                )

            return [convert(i) for i in outline]

        return await ls.query(run)

    @server.feature(T.WORKSPACE_SYMBOL)
    async def workspace_symbol(ls: RepoRlmServer, params: T.WorkspaceSymbolParams):
        query = params.query.strip()
        if not query:
            return []

        def run(repo):
            return [
                T.SymbolInformation(
                    name=d.name,
                    kind=ls.symbol_kind(d.kind),
                    location=ls.def_location(d),
                    container_name=d.qualname.rsplit(".", 1)[0] if "." in d.qualname else None,
                )
                for d in editor.workspace_symbols(repo, query)
            ]

        return await ls.query(run) or []

    @server.feature(T.TEXT_DOCUMENT_PREPARE_CALL_HIERARCHY)
    async def prepare_call_hierarchy(ls: RepoRlmServer, params: T.CallHierarchyPrepareParams):
        def run(repo, path, line, column, line_text):
            d = repo.symbol_at(path, line, column, line_text=line_text)
            return [ls.call_item(d)] if d is not None else None

        return await ls.at_position(params, run)

    @server.feature(T.CALL_HIERARCHY_INCOMING_CALLS)
    async def incoming_calls(ls: RepoRlmServer, params: T.CallHierarchyIncomingCallsParams):
        data = params.item.data or {}
        if not data.get("qualname"):
            return None

        def run(repo):
            groups = editor.incoming_calls(repo, data["qualname"], data["path"], data["start_line"], data.get("end_line"))
            return [T.CallHierarchyIncomingCall(from_=ls.group_item(repo, g), from_ranges=[ls.call_site(c) for c in g.calls])
                    for g in groups]

        return await ls.query(run)

    @server.feature(T.CALL_HIERARCHY_OUTGOING_CALLS)
    async def outgoing_calls(ls: RepoRlmServer, params: T.CallHierarchyOutgoingCallsParams):
        data = params.item.data or {}
        if not data.get("qualname"):
            return None

        def run(repo):
            groups = editor.outgoing_calls(repo, data["qualname"], data["path"], data["start_line"])
            return [T.CallHierarchyOutgoingCall(to=ls.group_item(repo, g), from_ranges=[ls.call_site(c) for c in g.calls])
                    for g in groups]

        return await ls.query(run)

    @server.feature(T.TEXT_DOCUMENT_CODE_LENS, T.CodeLensOptions(resolve_provider=True))
    async def code_lens(ls: RepoRlmServer, params: T.CodeLensParams):
        uri = params.text_document.uri

        def run(repo):
            path = ls.rel_path(uri)
            if path is None:
                return None
            items = editor.lens_items(repo, path)
            names = editor.name_positions(items)
            lenses = []
            for item in items:
                pos = names.get((item.qualname, item.start_line))
                rng = ls.span(path, pos[0], pos[1], pos[1] + len(item.name)) if pos else ls.word_range(path, item.start_line, 1, item.name)
                data = {
                    "qualname": item.qualname,
                    "path": path,
                    "start_line": item.start_line,
                    "end_line": item.end_line,
                    "uri": uri,
                    "line": rng.start.line,
                    "character": rng.start.character,
                }
                command = ls.lens_command(repo, data) if len(items) <= INLINE_LENS_LIMIT else None
                lenses.append(T.CodeLens(range=rng, command=command, data=None if command else data))
            return lenses

        return await ls.query(run)

    @server.feature(T.CODE_LENS_RESOLVE)
    async def code_lens_resolve(ls: RepoRlmServer, lens: T.CodeLens):
        if lens.command is not None or not isinstance(lens.data, dict):
            return lens
        data = lens.data
        command = await ls.query(lambda repo: ls.lens_command(repo, data))
        return T.CodeLens(range=lens.range, command=command)

    @server.command(SHOW_CALLERS_COMMAND)
    def show_callers(ls: RepoRlmServer, *args: Any):
        """For clients without a handler of their own: return the caller locations."""
        return args[2] if len(args) >= 3 else []

    @server.feature(ASK_METHOD)
    async def ask_request(ls: RepoRlmServer, params: Any):
        params = params if isinstance(params, dict) else _to_dict(params)
        return await ls.ask(params.get("question", ""), params.get("workDoneToken"), params.get("model"))

    @server.command(ASK_COMMAND)
    async def ask_command(ls: RepoRlmServer, *args: Any):
        question = args[0] if args else ""
        options = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
        outer = ls.protocol._request_futures.get(ls.protocol.msg_id)  # pygls runs commands in a sub-task
        return await ls.ask(question, None, options.get("model"), outer=outer)

    return server


def _to_dict(obj: Any) -> dict:
    if obj is None:
        return {}
    if hasattr(obj, "_asdict"):
        return obj._asdict()
    return dict(getattr(obj, "__dict__", {}))


def _le(a: T.Position, b: T.Position) -> bool:
    return (a.line, a.character) <= (b.line, b.character)


class _OneLineErrors(logging.Filter):
    """pygls logs request failures with a traceback; keep them to one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.getMessage()}: {_one_line(record.exc_info[1])}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        elif "\n" in str(record.msg) or any("\n" in str(a) for a in (record.args or ())
                                              if isinstance(record.args, tuple)):
            record.msg = record.getMessage().split("\n", 1)[0]  # pygls appends a formatted traceback
            record.args = ()
        return True


def main(argv: list[str] | None = None, repo_root=None, index_path=None) -> int:
    parser = argparse.ArgumentParser(prog="repo-rlm lsp", description="Start the repo-rlm language server on stdio.")
    parser.add_argument("--stdio", action="store_true", help="accepted and ignored (stdio is the only transport)")
    parser.add_argument("--repo", help="repository root (default: the workspace root from initialize)")
    parser.add_argument("--index", help="index database path")
    parser.add_argument("--log-level", default=os.environ.get("REPO_RLM_LSP_LOG", "warning"))
    args = parser.parse_args(argv)

    level = getattr(logging, str(args.log_level).upper(), logging.WARNING)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("repo-rlm lsp: %(levelname)s %(message)s"))
    handler.addFilter(_OneLineErrors())
    root_logger = logging.getLogger()
    root_logger.handlers[:] = [handler]
    root_logger.setLevel(level)
    logging.getLogger("pygls").setLevel(max(level, logging.WARNING))

    # The protocol owns the real stdout; anything else that writes to fd 1 (a stray print,
    # a child process, a C library) lands on stderr instead of corrupting the stream.
    stdout = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr

    index = args.index or index_path or os.environ.get("REPO_RLM_INDEX") or None
    server = create_server(repo_root=args.repo or repo_root, index_path=index)
    server.start_io(FrameReader(sys.stdin.buffer), stdout)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
