"""The language server while a user edits: unsaved text shifts every position in the edited
file (both ways), open documents are indexed ahead of a fresh build, and shutting down during
an Ask. Over stdio with pytest-lsp, like tests/test_lsp.py."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types as T
from pytest_lsp import ClientServerConfig

from fakellm import MODEL, Delay, FakeLLM, Script, repl
from test_lsp import _index_progress_ended, copy_fixture, doc_pos, loc, rng, server_env, session, uri

pytestmark = pytest.mark.asyncio(loop_scope="module")

# audit.py with three lines added on top and one between its two functions, not saved:
# `record` moves from line 3 to 6 (0-based), its call of `_write` from 4 to 7, `_write` from 7 to 11.
EDITED_AUDIT = '''# added 1
# added 2
# added 3
"""Audit trail."""


def record(event):
    return _write(event)
# added between


def _write(event):
    print(event)
'''
AUDIT = "src/shop/audit.py"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def edited(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("edited")
    async with session(copy_fixture("pyapp", tmp), tmp) as client:
        client.text_document_did_open(T.DidOpenTextDocumentParams(
            text_document=T.TextDocumentItem(uri=uri(client, AUDIT), language_id="python", version=1, text=EDITED_AUDIT)))
        yield client


async def test_definition_and_hover_in_the_edited_file(edited):
    result = await edited.text_document_definition_async(T.DefinitionParams(**doc_pos(edited, AUDIT, 7, 12)))
    assert list(result) == [loc(edited, AUDIT, 11, 4, 11, 10)]
    hover = await edited.text_document_hover_async(T.HoverParams(**doc_pos(edited, AUDIT, 7, 12)))
    assert hover.range == rng(7, 11, 7, 17) and "audit.py:8" in hover.contents.value  # the saved place, said as such


async def test_references_in_the_edited_file_and_elsewhere(edited):
    refs = await edited.text_document_references_async(T.ReferenceParams(
        context=T.ReferenceContext(include_declaration=True), **doc_pos(edited, AUDIT, 11, 5)))
    assert list(refs) == [loc(edited, AUDIT, 7, 11, 7, 17), loc(edited, AUDIT, 11, 4, 11, 10)]
    # asked from another (unedited) file, the hits inside the edited one are shifted too
    refs = await edited.text_document_references_async(T.ReferenceParams(
        context=T.ReferenceContext(include_declaration=True), **doc_pos(edited, "src/shop/cli.py", 6, 16)))
    assert loc(edited, AUDIT, 6, 4, 6, 10) in list(refs) and loc(edited, "src/shop/cli.py", 6, 15, 6, 21) in list(refs)


async def test_document_symbols_and_code_lens_in_the_edited_file(edited):
    ident = T.TextDocumentIdentifier(uri=uri(edited, AUDIT))
    symbols = await edited.text_document_document_symbol_async(T.DocumentSymbolParams(text_document=ident))
    assert [(s.name, s.range, s.selection_range) for s in symbols] == [
        ("record", rng(6, 0, 7, len("    return _write(event)")), rng(6, 4, 6, 10)),
        ("_write", rng(11, 0, 12, len("    print(event)")), rng(11, 4, 11, 10)),
    ]
    lenses = await edited.text_document_code_lens_async(T.CodeLensParams(text_document=ident))
    assert [(lens.range, lens.command.title) for lens in lenses] == [
        (rng(6, 4, 6, 10), "3 callers: 3 resolved, 0 by name"),
        (rng(11, 4, 11, 10), "1 caller: 1 resolved, 0 by name"),
    ]
    assert lenses[1].command.arguments[1] == {"line": 11, "character": 4}
    assert lenses[1].command.arguments[2] == [
        {"uri": uri(edited, AUDIT), "range": {"start": {"line": 7, "character": 11}, "end": {"line": 7, "character": 17}}}]


async def test_call_hierarchy_in_the_edited_file(edited):
    (item,) = await edited.text_document_prepare_call_hierarchy_async(
        T.CallHierarchyPrepareParams(**doc_pos(edited, AUDIT, 6, 6)))
    assert (item.name, item.range, item.selection_range) == ("record", rng(6, 0, 7, 24), rng(6, 4, 6, 10))
    out = await edited.call_hierarchy_outgoing_calls_async(T.CallHierarchyOutgoingCallsParams(item=item))
    assert [(c.to.name, c.to.selection_range, list(c.from_ranges)) for c in out] == [
        ("_write", rng(11, 4, 11, 10), [rng(7, 11, 7, 17)])]


async def test_closing_the_document_goes_back_to_the_saved_lines(edited):
    edited.text_document_did_close(T.DidCloseTextDocumentParams(text_document=T.TextDocumentIdentifier(uri=uri(edited, AUDIT))))
    result = await edited.text_document_definition_async(T.DefinitionParams(**doc_pos(edited, AUDIT, 4, 12)))
    assert list(result) == [loc(edited, AUDIT, 7, 4, 7, 10)]


# ----------------------------------------------------------------------------- a fresh index


def make_big_repo(root: Path, files: int = 3000) -> Path:
    body = "".join(f"def helper_{i}(x):\n    return x + {i}\n\n\n" for i in range(40))
    for i in range(files):
        d = root / "pkg" / f"d{i // 100:03d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"m{i:05d}.py").write_text(body)
    (root / "zzz").mkdir()
    (root / "zzz" / "target.py").write_text("def wanted_here(x):\n    return x\n\n\ndef caller():\n    return wanted_here(1)\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


async def test_open_documents_are_indexed_ahead_of_a_fresh_build(tmp_path):
    root = make_big_repo(tmp_path / "big")
    config = ClientServerConfig(
        server_command=[sys.executable, "-m", "lsp_server", "--stdio", "--index", str(tmp_path / "index.db")],
        server_env=server_env(tmp_path))
    client = await config.start()
    client.root = root
    try:
        await client.initialize_session(T.InitializeParams(
            capabilities=T.ClientCapabilities(window=T.WindowClientCapabilities(work_done_progress=True)),
            root_uri=uri(client, "")))
        target = "zzz/target.py"  # parsed last in the build's own order
        client.text_document_did_open(T.DidOpenTextDocumentParams(text_document=T.TextDocumentItem(
            uri=uri(client, target), language_id="python", version=1, text=(root / target).read_text())))
        deadline = time.monotonic() + 120
        while True:
            result = await client.text_document_definition_async(T.DefinitionParams(**doc_pos(client, target, 5, 12)))
            if result:
                break
            assert not _index_progress_ended(client) and time.monotonic() < deadline, "no answer before the build ended"
            await asyncio.sleep(0.05)
        assert list(result) == [loc(client, target, 0, 4, 0, 15)]
        reports = [r for tok, vals in client.progress_reports.items() if str(tok).startswith("repo-rlm/index/")
                   for r in vals if isinstance(r, T.WorkDoneProgressReport)]
        assert not _index_progress_ended(client)
        assert reports and reports[-1].message.startswith("parse ")  # still parsing the rest
        done, total = map(int, reports[-1].message.split()[1].split("/"))
        assert done < total * 0.9, reports[-1].message
    finally:
        await client.shutdown_session()
        await client.stop()


# ----------------------------------------------------------------------------- shutdown during an ask


async def test_shutdown_during_an_ask(tmp_path, capfd):
    model = FakeLLM().start()
    try:
        model.handler = Script([Delay(repl('FINAL("late")'), 30)])
        options = {"repoRlm": {"model": MODEL, "apiBase": model.api_base}}
        config = ClientServerConfig(
            server_command=[sys.executable, "-m", "lsp_server", "--stdio", "--index", str(tmp_path / "index.db")],
            server_env=server_env(tmp_path))
        client = await config.start()
        client.root = copy_fixture("pyapp", tmp_path)
        await client.initialize_session(T.InitializeParams(
            capabilities=T.ClientCapabilities(window=T.WindowClientCapabilities(work_done_progress=True)),
            root_uri=uri(client, ""), initialization_options=options))
        # as VS Code asks: through workspace/executeCommand, which pygls runs as a generator
        request = asyncio.ensure_future(client.workspace_execute_command_async(
            T.ExecuteCommandParams(command="repoRlm.ask", arguments=["slow one"])))
        deadline = time.monotonic() + 60
        while not model.requests:
            assert time.monotonic() < deadline, "the model was never asked"
            await asyncio.sleep(0.05)
        started = time.monotonic()
        await asyncio.wait_for(client.shutdown_async(None), 10)  # answers, no "dictionary changed size"
        assert time.monotonic() - started < 5
        client.exit(None)
        await asyncio.wait_for(client._server.wait(), 10)
        await asyncio.sleep(0.3)  # the last stderr lines reach the forwarder
        stderr = capfd.readouterr().err
        assert "changed size" not in stderr and "Traceback" not in stderr, stderr
        assert request.done()
        await client.stop()
    finally:
        model.stop()
