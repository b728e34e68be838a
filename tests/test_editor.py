"""The editor logic of the query layer (repo_rlm/query/editor.py) on the Python fixture, with no
language server: call hierarchies, caller counts, workspace symbols. The language server's tests
check the same answers through LSP; other front ends (MCP, review, report) use these directly."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from repo_rlm.query import editor
from repo_rlm.query.repo import Repo

PYAPP = Path(__file__).resolve().parents[1] / "fixtures" / "pyapp"


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Repo:
    tmp = tmp_path_factory.mktemp("editor")
    root = tmp / "pyapp"
    shutil.copytree(PYAPP, root)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    r = Repo.open(root, index_path=tmp / "index.db")
    yield r
    r.close()


def test_incoming_calls_group_by_caller(repo: Repo) -> None:
    groups = editor.incoming_calls(repo, "shop.audit.record", "src/shop/audit.py", 4, 5)
    got = sorted((g.qualname, g.path, g.start_line, [c.line for c in g.calls], g.by_name_only) for g in groups)
    assert got == [("shop.cli.main", "src/shop/cli.py", 6, [7], False),
                   ("shop.models.User.save", "src/shop/models.py", 22, [23], False),
                   ("shop.services.notify", "src/shop/services.py", 6, [7], False)]


def test_outgoing_calls_keep_only_this_definitions_calls(repo: Repo) -> None:
    groups = editor.outgoing_calls(repo, "shop.models.User.save", "src/shop/models.py", 22)
    assert sorted((g.qualname, g.start_line, [c.line for c in g.calls]) for g in groups) == [
        ("shop.audit.record", 4, [23]), ("shop.models.Base.save", 8, [24])]
    # `save` has same-named definitions in Base and Admin; their calls are not User.save's
    assert editor.calls_out_of(repo.callees_of("save"), "src/shop/models.py", 22) == \
        [c for c in repo.callees_of("shop.models.User.save")]


def test_caller_counts_tell_resolved_from_name_matches(repo: Repo) -> None:
    display = editor.caller_count(repo, "shop.models.User.display", "src/shop/models.py", 26, 27)
    # helpers.py:2 `user.display()` is resolved by value flow (fixtures/pyapp/EXPECTED.md)
    assert (display.resolved, display.by_name, display.title()) == (2, 0, "2 callers: 2 resolved, 0 by name")
    assert editor.caller_count(repo, "shop.audit._write", "src/shop/audit.py", 8, 9).title() == \
        "1 caller: 1 resolved, 0 by name"
    assert [i.qualname for i in editor.lens_items(repo, "src/shop/audit.py")] == ["shop.audit.record", "shop.audit._write"]


def test_module_guess_and_definition_lookup(repo: Repo) -> None:
    assert editor.looks_like_module("shop.cli", "src/shop/cli.py", 1)
    assert not editor.looks_like_module("shop.cli.main", "src/shop/cli.py", 6)
    d = editor.definition_at(repo, "shop.cli.main", "src/shop/cli.py", 6)
    assert d is not None and d.kind == "function"
    assert editor.definition_at(repo, "shop.cli.main", "src/shop/cli.py", 7) is None


def test_workspace_symbols_rank_exact_then_prefix_case_insensitively(repo: Repo) -> None:
    names = [d.qualname for d in editor.workspace_symbols(repo, "SAVE")]
    assert names[:3] == ["shop.models.Base.save", "shop.models.User.save", "shop.models.Admin.save"]  # by place
    assert {d.qualname for d in editor.workspace_symbols(repo, "Sess")} == \
        {d.qualname for d in repo.find_defs("*") if "sess" in d.name.lower()} != set()
    assert editor.workspace_symbols(repo, "   ") == []


def test_line_map_between_saved_and_unsaved_lines():
    from repo_rlm.query.editor import LineMap

    saved = ["a", "b", "c", "d", "e"]
    edited = ["x", "y", "a", "b", "c", "NEW", "d", "e"]  # two lines on top, one inserted after c
    m = LineMap(saved, edited)
    assert [m.to_edited(i) for i in range(1, 6)] == [3, 4, 5, 7, 8]
    assert [m.to_saved(i) for i in (3, 4, 5, 7, 8)] == [1, 2, 3, 4, 5]
    assert m.to_saved(1) == 1 and m.to_saved(6) == 4  # new lines: the nearest saved line
    deleted = LineMap(saved, ["a", "c", "d", "e"])
    assert [deleted.to_edited(i) for i in range(1, 6)] == [1, 2, 2, 3, 4]
    same = LineMap(saved, list(saved))
    assert same.identity and same.to_edited(4) == 4 and same.to_saved(9) == 9
