"""The language server end to end over stdio (pytest-lsp), on copies of the fixture repositories.

Expected positions are worked out by hand from the fixture sources (LSP: 0-based lines,
UTF-16 characters). The server runs as `python -m lsp_server`, with its index and every cache
in tmp_path.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types as T
from pygls.exceptions import JsonRpcException
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig

from fakellm import MODEL, FakeLLM, Script, repl
from repo_rlm.lsp.positions import column_to_units, units_to_column

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
pytestmark = pytest.mark.asyncio(loop_scope="module")


def server_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPO_RLM_")}
    env.update(XDG_CACHE_HOME=str(tmp / "cache"), REPO_RLM_API_KEY="sk-fake", PYTHONUNBUFFERED="1")
    return env


@asynccontextmanager
async def session(root: Path, tmp: Path, options: dict | None = None):
    """A server on `root`, initialized, with its first index build finished."""
    config = ClientServerConfig(
        server_command=[sys.executable, "-m", "lsp_server", "--stdio", "--index", str(tmp / "index.db")],
        server_env=server_env(tmp),
    )
    client = await config.start()
    caps = T.ClientCapabilities(
        window=T.WindowClientCapabilities(work_done_progress=True),
        text_document=T.TextDocumentClientCapabilities(
            document_symbol=T.DocumentSymbolClientCapabilities(hierarchical_document_symbol_support=True)
        ),
    )
    try:
        client.init_result = await client.initialize_session(
            T.InitializeParams(capabilities=caps, root_uri=from_fs_path(str(root)), initialization_options=options)
        )
        client.root = root
        deadline = time.monotonic() + 30
        while not _index_progress_ended(client):
            assert time.monotonic() < deadline, "the index build never ended its progress"
            await asyncio.sleep(0.02)
        yield client
    finally:
        await client.shutdown_session()
        await client.stop()


def _index_progress_ended(client) -> bool:
    return any(
        str(tok).startswith("repo-rlm/index/") and vals and isinstance(vals[-1], T.WorkDoneProgressEnd)
        for tok, vals in client.progress_reports.items()
    )


def copy_fixture(name: str, tmp: Path) -> Path:
    dst = tmp / name
    shutil.copytree(FIXTURES / name, dst)
    return dst


def uri(client, rel: str) -> str:
    return from_fs_path(str(client.root / rel))


def rng(l1: int, c1: int, l2: int, c2: int) -> T.Range:
    return T.Range(start=T.Position(line=l1, character=c1), end=T.Position(line=l2, character=c2))


def loc(client, rel: str, l1: int, c1: int, l2: int, c2: int) -> T.Location:
    return T.Location(uri=uri(client, rel), range=rng(l1, c1, l2, c2))


def doc_pos(client, rel: str, line: int, character: int) -> dict:
    return dict(text_document=T.TextDocumentIdentifier(uri=uri(client, rel)), position=T.Position(line=line, character=character))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pyapp(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pyapp")
    async with session(copy_fixture("pyapp", tmp), tmp) as client:
        yield client


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def polyglot(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("polyglot")
    root = copy_fixture("polyglot", tmp)
    # non-ASCII: an astral character (two UTF-16 units) before a definition and a call
    (root / "src" / "emoji.ts").write_text(
        'export const banner = "😀"; export function salute(name: string): string { return name; }\n'
        'salute("x"); /* 😀 é */ salute("y");\n',
        encoding="utf-8",
    )
    async with session(root, tmp) as client:
        yield client


# ----------------------------------------------------------------------------- positions


async def test_position_conversion_counts_utf16_units():
    line = 'a😀é = f(x)'
    assert column_to_units(line, 3) == 3  # after 'a' and the surrogate pair
    assert column_to_units(line, 3, "utf-8") == 5
    assert column_to_units(line, 3, "utf-32") == 2
    assert units_to_column(line, 3) == 3
    assert units_to_column(line, 2) == 2  # inside the pair: the character holding it
    assert units_to_column(line, 6, "utf-8") == 3  # bytes: 'a' 0, emoji 1-4, 'é' 5-6
    assert units_to_column(line, 7, "utf-8") == 4
    assert units_to_column(line, 99) == len(line) + 1


# ----------------------------------------------------------------------------- initialize


async def test_initialize_advertises_the_spec_methods_and_reports_index_progress(pyapp):
    caps = pyapp.init_result.capabilities
    assert pyapp.init_result.server_info.name == "repo-rlm"
    assert caps.definition_provider and caps.references_provider and caps.hover_provider
    assert caps.document_symbol_provider and caps.workspace_symbol_provider and caps.call_hierarchy_provider
    assert caps.code_lens_provider.resolve_provider is True
    assert set(caps.execute_command_provider.commands) == {"repoRlm.ask", "repoRlm.showCallers"}
    (events,) = [v for t, v in pyapp.progress_reports.items() if str(t).startswith("repo-rlm/index/")]
    assert isinstance(events[0], T.WorkDoneProgressBegin) and isinstance(events[-1], T.WorkDoneProgressEnd)
    assert all(isinstance(e, T.WorkDoneProgressReport) for e in events[1:-1])
    files = sum(len(names) for _, _, names in os.walk(pyapp.root))
    assert events[-1].message.startswith(f"{files} files, ")


# ----------------------------------------------------------------------------- pyapp


@pytest.mark.parametrize(
    "rel,line,char,target,expected",
    [
        # views.py:12 `    notify(user)`, through `from .services import *`
        ("src/shop/views.py", 11, 6, "src/shop/services.py", (5, 4, 5, 10)),
        # views.py:27 `h.slugify(`: util.helpers.slugify, not services.slugify
        ("src/shop/views.py", 26, 18, "src/shop/util/helpers.py", (4, 4, 4, 11)),
        # views.py:20 `slugify(admin.display())`: the star-imported services.slugify
        ("src/shop/views.py", 19, 12, "src/shop/services.py", (10, 4, 10, 11)),
        # cli.py:8 `helpers2.slugify(`: an `import ... as` alias
        ("src/shop/cli.py", 7, 14, "src/shop/util/helpers.py", (4, 4, 4, 11)),
        # models.py:35 `User.save(self)`: User.save, not Admin.save or Base.save
        ("src/shop/models.py", 34, 21, "src/shop/models.py", (21, 8, 21, 12)),
        # on the name of a definition: itself
        ("src/shop/audit.py", 3, 5, "src/shop/audit.py", (3, 4, 3, 10)),
    ],
)
async def test_definition(pyapp, rel, line, char, target, expected):
    result = await pyapp.text_document_definition_async(T.DefinitionParams(**doc_pos(pyapp, rel, line, char)))
    assert list(result) == [loc(pyapp, target, *expected)]


async def test_references_across_files_with_and_without_the_declaration(pyapp):
    params = doc_pos(pyapp, "src/shop/auth/session.py", 3, 8)  # def load_session
    everything = await pyapp.text_document_references_async(
        T.ReferenceParams(context=T.ReferenceContext(include_declaration=True), **params)
    )
    imported = loc(pyapp, "src/shop/auth/decorators.py", 3, 21, 3, 33)  # from .session import load_session
    called = loc(pyapp, "src/shop/auth/decorators.py", 16, 14, 16, 26)  # session = load_session(...)
    declared = loc(pyapp, "src/shop/auth/session.py", 3, 4, 3, 16)
    assert list(everything) == [imported, called, declared]
    without = await pyapp.text_document_references_async(
        T.ReferenceParams(context=T.ReferenceContext(include_declaration=False), **params)
    )
    assert list(without) == [imported, called]


async def test_hover_shows_signature_qualname_and_place(pyapp):
    hover = await pyapp.text_document_hover_async(T.HoverParams(**doc_pos(pyapp, "src/shop/auth/decorators.py", 16, 20)))
    assert hover.range == rng(16, 14, 16, 26)
    assert hover.contents.kind == T.MarkupKind.Markdown
    text = hover.contents.value
    assert text.startswith("```python\ndef load_session(token)")
    assert "function `shop.auth.session.load_session` — src/shop/auth/session.py:4" in text
    nothing = await pyapp.text_document_hover_async(T.HoverParams(**doc_pos(pyapp, "src/shop/auth/decorators.py", 4, 0)))
    assert nothing is None  # an empty line


async def test_document_symbols_nest_methods_in_classes(pyapp):
    symbols = await pyapp.text_document_document_symbol_async(
        T.DocumentSymbolParams(text_document=T.TextDocumentIdentifier(uri=uri(pyapp, "src/shop/models.py")))
    )

    def shape(s):
        return (s.name, s.kind, s.range.start.line, s.range.end.line, s.selection_range,
                [shape(c) for c in s.children or []])

    K = T.SymbolKind
    assert [shape(s) for s in symbols] == [
        ("Base", K.Class, 4, 12, rng(4, 6, 4, 10), [
            ("save", K.Method, 7, 9, rng(7, 8, 7, 12), []),
            ("validate", K.Method, 11, 12, rng(11, 8, 11, 16), []),
        ]),
        ("User", K.Class, 15, 26, rng(15, 6, 15, 10), [
            ("__init__", K.Method, 18, 19, rng(18, 8, 18, 16), []),
            ("save", K.Method, 21, 23, rng(21, 8, 21, 12), []),
            ("display", K.Method, 25, 26, rng(25, 8, 25, 15), []),
        ]),
        ("Admin", K.Class, 29, 37, rng(29, 6, 29, 11), [
            ("save", K.Method, 32, 34, rng(32, 8, 32, 12), []),
            ("grant", K.Method, 36, 37, rng(36, 8, 36, 13), []),
        ]),
    ]
    assert symbols[0].range.end.character == len("        return True")


async def test_workspace_symbols_match_substrings_case_insensitively(pyapp):
    for query in ("slug", "SLUG"):
        found = await pyapp.workspace_symbol_async(T.WorkspaceSymbolParams(query=query))
        assert [(s.name, s.kind, s.location, s.container_name) for s in found] == [
            ("slugify", T.SymbolKind.Function, loc(pyapp, "src/shop/services.py", 10, 4, 10, 11), "shop.services"),
            ("slugify", T.SymbolKind.Function, loc(pyapp, "src/shop/util/helpers.py", 4, 4, 4, 11), "shop.util.helpers"),
        ]
    assert list(await pyapp.workspace_symbol_async(T.WorkspaceSymbolParams(query="no_such_symbol_xyz"))) == []


async def test_incoming_calls(pyapp):
    (item,) = await pyapp.text_document_prepare_call_hierarchy_async(
        T.CallHierarchyPrepareParams(**doc_pos(pyapp, "src/shop/audit.py", 3, 6))  # def record
    )
    assert (item.name, item.kind, item.uri, item.range, item.selection_range) == (
        "record", T.SymbolKind.Function, uri(pyapp, "src/shop/audit.py"), rng(3, 0, 4, 24), rng(3, 4, 3, 10)
    )
    incoming = await pyapp.call_hierarchy_incoming_calls_async(T.CallHierarchyIncomingCallsParams(item=item))
    got = sorted((c.from_.detail, c.from_.uri, c.from_.selection_range, list(c.from_ranges)) for c in incoming)
    assert got == [
        ("shop.cli.main", uri(pyapp, "src/shop/cli.py"), rng(5, 4, 5, 8), [rng(6, 15, 6, 21)]),
        ("shop.models.User.save", uri(pyapp, "src/shop/models.py"), rng(21, 8, 21, 12), [rng(22, 14, 22, 20)]),
        ("shop.services.notify", uri(pyapp, "src/shop/services.py"), rng(5, 4, 5, 10), [rng(6, 10, 6, 16)]),
    ]


async def test_incoming_calls_from_a_nested_function(pyapp):
    (item,) = await pyapp.text_document_prepare_call_hierarchy_async(
        T.CallHierarchyPrepareParams(**doc_pos(pyapp, "src/shop/auth/decorators.py", 15, 6))  # def check_session
    )
    (call,) = await pyapp.call_hierarchy_incoming_calls_async(T.CallHierarchyIncomingCallsParams(item=item))
    # the wrapper's range starts at its decorator, `@functools.wraps(view)` on line 8
    assert (call.from_.name, call.from_.uri, call.from_.range.start.line, list(call.from_ranges)) == (
        "wrapper", uri(pyapp, "src/shop/auth/decorators.py"), 7, [rng(9, 8, 9, 21)]
    )


async def test_outgoing_calls(pyapp):
    (item,) = await pyapp.text_document_prepare_call_hierarchy_async(
        T.CallHierarchyPrepareParams(**doc_pos(pyapp, "src/shop/models.py", 21, 9))  # User.save
    )
    assert item.detail == "shop.models.User.save"
    outgoing = await pyapp.call_hierarchy_outgoing_calls_async(T.CallHierarchyOutgoingCallsParams(item=item))
    got = sorted((c.to.detail, c.to.uri, c.to.selection_range, list(c.from_ranges)) for c in outgoing)
    assert got == [
        ("shop.audit.record", uri(pyapp, "src/shop/audit.py"), rng(3, 4, 3, 10), [rng(22, 14, 22, 20)]),
        ("shop.models.Base.save", uri(pyapp, "src/shop/models.py"), rng(7, 8, 7, 12), [rng(23, 23, 23, 27)]),
    ]


async def test_code_lens_counts_resolved_and_name_only_callers_apart(pyapp):
    lenses = await pyapp.text_document_code_lens_async(
        T.CodeLensParams(text_document=T.TextDocumentIdentifier(uri=uri(pyapp, "src/shop/audit.py")))
    )
    assert [(lens.range, lens.command.title) for lens in lenses] == [
        (rng(3, 4, 3, 10), "3 callers: 3 resolved, 0 by name"),
        (rng(7, 4, 7, 10), "1 caller: 1 resolved, 0 by name"),
    ]
    cmd = lenses[1].command
    assert cmd.command == "repoRlm.showCallers"
    assert cmd.arguments[0] == uri(pyapp, "src/shop/audit.py") and cmd.arguments[1] == {"line": 7, "character": 4}
    assert cmd.arguments[2] == [
        {"uri": uri(pyapp, "src/shop/audit.py"), "range": {"start": {"line": 4, "character": 11}, "end": {"line": 4, "character": 17}}}
    ]
    # the command works for clients without a handler of their own: it returns the locations
    assert plain(await pyapp.workspace_execute_command_async(
        T.ExecuteCommandParams(command=cmd.command, arguments=cmd.arguments)
    )) == cmd.arguments[2]

    models = await pyapp.text_document_code_lens_async(
        T.CodeLensParams(text_document=T.TextDocumentIdentifier(uri=uri(pyapp, "src/shop/models.py")))
    )
    titles = {lens.range.start.line: lens.command.title for lens in models}
    # display: admin.display() in views.py is resolved (admin = m.Admin(...)), and so is
    # user.display() in util/helpers.py (value flow: views.py:13 passes a User)
    assert titles[25] == "2 callers: 2 resolved, 0 by name"
    assert titles[36] == "1 caller: 1 resolved, 0 by name"  # grant: self.grant() in Admin.save


async def test_unsaved_edits_take_the_word_from_the_open_document(pyapp):
    rel = "src/shop/views.py"
    text = (pyapp.root / rel).read_text()
    edited = '"""Moved down by two lines, not saved: é😀 = h."""\n\n' + text.replace(
        "    notify(user)\n", "    x = '😀é'; notify(user)\n"
    )
    pyapp.text_document_did_open(T.DidOpenTextDocumentParams(
        text_document=T.TextDocumentItem(uri=uri(pyapp, rel), language_id="python", version=1, text=edited)
    ))
    try:
        # `notify` is now on line 14 (0-based 13) after `    x = '😀é'; `: 14 code points, 15 UTF-16 units
        result = await pyapp.text_document_definition_async(T.DefinitionParams(**doc_pos(pyapp, rel, 13, 15 + 2)))
        assert list(result) == [loc(pyapp, "src/shop/services.py", 5, 4, 5, 10)]
        hover = await pyapp.text_document_hover_async(T.HoverParams(**doc_pos(pyapp, rel, 13, 15 + 2)))
        assert hover.range == rng(13, 15, 13, 21)
    finally:
        pyapp.text_document_did_close(T.DidCloseTextDocumentParams(text_document=T.TextDocumentIdentifier(uri=uri(pyapp, rel))))


# ----------------------------------------------------------------------------- polyglot


async def test_typescript_definition_through_an_import(polyglot):
    # middleware.ts:7 `  const claims = verifyToken(` -> tokens.ts:9 `export function verifyToken(`
    result = await polyglot.text_document_definition_async(
        T.DefinitionParams(**doc_pos(polyglot, "src/auth/middleware.ts", 6, 20))
    )
    assert list(result) == [loc(polyglot, "src/auth/tokens.ts", 8, 16, 8, 27)]


async def test_typescript_incoming_calls_and_lens(polyglot):
    (item,) = await polyglot.text_document_prepare_call_hierarchy_async(
        T.CallHierarchyPrepareParams(**doc_pos(polyglot, "src/auth/tokens.ts", 8, 20))
    )
    incoming = await polyglot.call_hierarchy_incoming_calls_async(T.CallHierarchyIncomingCallsParams(item=item))
    got = sorted((c.from_.name, c.from_.uri, list(c.from_ranges)) for c in incoming)
    assert got == [
        ("check", uri(polyglot, "src/auth/middleware.ts"), [rng(16, 32, 16, 43)]),
        ("refresh", uri(polyglot, "src/services/session.ts"), [rng(6, 11, 6, 22)]),
        ("requireAuth", uri(polyglot, "src/auth/middleware.ts"), [rng(6, 17, 6, 28)]),
    ]


async def test_non_ascii_lines_map_to_utf16_positions(polyglot):
    rel = "src/emoji.ts"
    # line 2: `salute("x"); /* 😀 é */ salute("y");` the second call starts at code point 23,
    # UTF-16 unit 24; the definition's name is at code point 43, UTF-16 unit 44 (after 😀)
    result = await polyglot.text_document_definition_async(T.DefinitionParams(**doc_pos(polyglot, rel, 1, 25)))
    assert list(result) == [loc(polyglot, rel, 0, 44, 0, 50)]
    refs = await polyglot.text_document_references_async(
        T.ReferenceParams(context=T.ReferenceContext(include_declaration=True), **doc_pos(polyglot, rel, 0, 46))
    )
    assert list(refs) == [loc(polyglot, rel, 0, 44, 0, 50), loc(polyglot, rel, 1, 0, 1, 6), loc(polyglot, rel, 1, 24, 1, 30)]


# ----------------------------------------------------------------------------- edits


async def test_save_and_watched_files_update_references(tmp_path):
    root = copy_fixture("pyapp", tmp_path)
    async with session(root, tmp_path) as client:
        params = T.ReferenceParams(
            context=T.ReferenceContext(include_declaration=False), **doc_pos(client, "src/shop/auth/session.py", 3, 8)
        )
        before = await client.text_document_references_async(params)
        before = list(before)
        assert len(before) == 2

        # edit + save a file that calls load_session once more
        rel = "src/shop/audit.py"
        new = (root / rel).read_text() + "\n\ndef replay(token):\n    from .auth.session import load_session\n    return load_session(token)\n"
        client.text_document_did_open(T.DidOpenTextDocumentParams(
            text_document=T.TextDocumentItem(uri=uri(client, rel), language_id="python", version=1, text=new)))
        (root / rel).write_text(new)
        client.text_document_did_save(T.DidSaveTextDocumentParams(text_document=T.TextDocumentIdentifier(uri=uri(client, rel))))
        after = await client.text_document_references_async(params)
        assert list(after) == [
            loc(client, rel, 12, 30, 12, 42),
            loc(client, rel, 13, 11, 13, 23),
            *before,
        ]
        (lens,) = [
            lens for lens in await client.text_document_code_lens_async(
                T.CodeLensParams(text_document=T.TextDocumentIdentifier(uri=uri(client, "src/shop/auth/session.py"))))
            if lens.range.start.line == 3
        ]
        assert lens.command.title == "2 callers: 2 resolved, 0 by name"

        # a file created outside the editor, announced by workspace/didChangeWatchedFiles
        (root / "src/shop/extra.py").write_text("from shop.auth.session import load_session\n\nload_session('t')\n")
        client.workspace_did_change_watched_files(T.DidChangeWatchedFilesParams(changes=[
            T.FileEvent(uri=uri(client, "src/shop/extra.py"), type=T.FileChangeType.Created)]))
        latest = await client.text_document_references_async(params)
        assert list(latest) == [
            loc(client, rel, 12, 30, 12, 42),
            loc(client, rel, 13, 11, 13, 23),
            *before,
            loc(client, "src/shop/extra.py", 0, 30, 0, 42),
            loc(client, "src/shop/extra.py", 2, 0, 2, 12),
        ]


# ----------------------------------------------------------------------------- ask


def plain(x):
    """pygls' client returns custom results as namedtuples; make them dicts and lists."""
    if hasattr(x, "_asdict"):
        return {k: plain(v) for k, v in x._asdict().items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    return x


def descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    out, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        out += kids
        frontier += kids
    return out


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fake_model():
    server = FakeLLM().start()
    try:
        yield server
    finally:
        server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def asker(tmp_path_factory, fake_model):
    """One server for the ask tests (litellm's import, seconds long, is paid once)."""
    tmp = tmp_path_factory.mktemp("asker")
    options = {"repoRlm": {"model": MODEL, "apiBase": fake_model.api_base, "budgetUsd": 0.5}}
    async with session(copy_fixture("pyapp", tmp), tmp, options) as client:
        yield client


async def test_ask_streams_progress_in_order_and_returns_citations_as_locations(asker, fake_model):
    fake_model.handler = Script([
        repl('print(find_defs("login_required"))'),
        repl('FINAL("Authentication is enforced by login_required in src/shop/auth/decorators.py:7-13.")'),
    ])
    fake_model.requests.clear()
    client = asker
    client.progress_reports["ask-1"] = []
    result = plain(await client.protocol.send_request_async(
        "repoRlm/ask", {"question": "where is auth enforced?", "workDoneToken": "ask-1"}
    ))
    assert result["stopped"] == "final"
    assert "login_required" in result["answer"]
    assert result["citations"] == [{
        "uri": uri(client, "src/shop/auth/decorators.py"),
        "range": {"start": {"line": 6, "character": 0}, "end": {"line": 12, "character": len("    return wrapper")}},
    }]
    events = client.progress_reports["ask-1"]
    assert isinstance(events[0], T.WorkDoneProgressBegin) and events[0].cancellable is True
    assert isinstance(events[-1], T.WorkDoneProgressEnd) and events[-1].message == "stopped: final"
    reports = [e.message for e in events[1:-1]]
    assert reports and all(isinstance(e, T.WorkDoneProgressReport) for e in events[1:-1])
    iterations = [int(m.split()[1].split("/")[0]) for m in reports]
    assert iterations == sorted(iterations) and iterations[0] == 1 and iterations[-1] == 2
    assert all(m.endswith(tuple("0123456789")) and "$" in m for m in reports)  # cost so far
    assert len(fake_model.requests) == 2

    # the same through workspace/executeCommand, for clients without a custom request
    fake_model.handler = Script([repl('FINAL("See src/shop/audit.py:4-5")')])
    via_command = plain(await client.workspace_execute_command_async(
        T.ExecuteCommandParams(command="repoRlm.ask", arguments=["what does record do?"])))
    assert via_command["citations"] == [{
        "uri": uri(client, "src/shop/audit.py"),
        "range": {"start": {"line": 3, "character": 0}, "end": {"line": 4, "character": len("    return _write(event)")}},
    }]


async def test_cancelling_ask_returns_promptly_and_kills_the_repl_worker(asker, fake_model):
    fake_model.handler = Script([repl("import time\nprint('started', flush=True)\ntime.sleep(120)"), repl('FINAL("late")')])
    fake_model.requests.clear()
    client = asker
    server_pid = client._server.pid
    baseline = set(descendants(server_pid))
    client.progress_reports["ask-2"] = []
    request = asyncio.ensure_future(client.protocol.send_request_async(
        "repoRlm/ask", {"question": "hang please", "workDoneToken": "ask-2"}, msg_id="ask-request-2"
    ))
    deadline = time.monotonic() + 20
    while not (fake_model.requests and set(descendants(server_pid)) - baseline):
        assert time.monotonic() < deadline, "the REPL worker never started"
        await asyncio.sleep(0.05)
    deadline = time.monotonic() + 20
    while not any("running cell" in str(getattr(e, "message", "")) for e in client.progress_reports["ask-2"]):
        assert time.monotonic() < deadline, "the cell never started"
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # the cell is sleeping now
    assert not request.done()
    started = time.monotonic()
    client.protocol.notify("$/cancelRequest", T.CancelParams(id="ask-request-2"))
    with pytest.raises(JsonRpcException):
        await asyncio.wait_for(request, 5)
    assert time.monotonic() - started < 3
    deadline = time.monotonic() + 5
    while set(descendants(server_pid)) - baseline:
        assert time.monotonic() < deadline, f"worker processes left behind: {set(descendants(server_pid)) - baseline}"
        await asyncio.sleep(0.05)
    assert len(fake_model.requests) == 1  # no model call after the cancel
    events = client.progress_reports["ask-2"]
    assert isinstance(events[-1], T.WorkDoneProgressEnd) and events[-1].message == "cancelled"
    # the server still answers
    result = await client.text_document_definition_async(T.DefinitionParams(**doc_pos(client, "src/shop/cli.py", 7, 14)))
    assert list(result) == [loc(client, "src/shop/util/helpers.py", 4, 4, 4, 11)]
