"""Call-graph precision and recall on our own micro cases (fixtures/callgraph/<group>/<case>/), one
small program per Python feature with the expected graph next to it in PyCG's format.

Edges to `<builtin>`/`<external>` names are left out on both sides: the cases judge what the
index ties inside the repository. `python tests/test_callgraph.py` prints the table per case.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from repo_rlm.query.repo import Repo

ROOT = Path(__file__).resolve().parent.parent
CASES = sorted(p.parent for p in (ROOT / "fixtures" / "callgraph").glob("*/*/callgraph.json"))
PRECISION, RECALL = 0.98, 0.95


def edges(cg: dict[str, list[str]]) -> set[tuple[str, str]]:
    return {(k, v) for k, vs in cg.items() for v in vs if not v.startswith("<")}


def run_case(case: Path, work: Path) -> tuple[dict, dict]:
    """(our PyCG-format graph, the expected one) for one case, indexed in a copy under `work`."""
    dst = work / case.parent.name / case.name
    shutil.copytree(case, dst, ignore=shutil.ignore_patterns("callgraph.json"))
    repo = Repo.open(dst, index_path=work / f"{case.parent.name}-{case.name}.db")
    try:
        ours = repo.callgraph_pycg()
    finally:
        repo.close()
    return ours, json.loads((case / "callgraph.json").read_text())


def score(work: Path) -> tuple[float, float, list[tuple]]:
    tp = fp = fn = 0
    rows = []
    for case in CASES:
        ours, expected = run_case(case, work)
        got, want = edges(ours), edges(expected)
        tp += len(got & want)
        fp += len(got - want)
        fn += len(want - got)
        rows.append((f"{case.parent.name}/{case.name}", sorted(got - want), sorted(want - got), ours, expected))
    return tp / max(1, tp + fp), tp / max(1, tp + fn), rows


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> tuple[float, float, list[tuple]]:
    return score(tmp_path_factory.mktemp("callgraph"))


def test_there_is_a_case_per_feature_group() -> None:
    groups = {c.parent.name for c in CASES}
    assert {"assign", "returns", "params", "lambdas", "decorators", "containers", "attrs", "protocols", "super",
            "imports", "calls"} <= groups
    assert len(CASES) >= 40


def test_precision_and_recall_reach_the_targets(scored) -> None:
    precision, recall, rows = scored
    wrong = [(name, extra, missing) for name, extra, missing, _o, _e in rows if extra or missing]
    assert precision >= PRECISION and recall >= RECALL, (precision, recall, wrong)


def test_every_expected_key_is_a_key(scored) -> None:
    """Functions, methods, lambdas (`module.<lambdaN>`) and modules are keys; classes are not."""
    _p, _r, rows = scored
    for name, _x, _m, ours, expected in rows:
        assert set(expected) <= set(ours), (name, sorted(set(expected) - set(ours)))
        assert not any(k.rsplit(".", 1)[-1][:1].isupper() for k in ours if k not in expected), (name, sorted(ours))


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        p, r, rows = score(Path(tmp))
    for name, extra, missing, _o, _e in rows:
        if extra or missing or "-v" in sys.argv:
            print(f"{name:32} extra={extra} missing={missing}")
    print(f"cases={len(rows)} precision={p:.3f} recall={r:.3f}")


# -- the index behind the graph: call sites, several targets, labels, repeatability ------------------


def _open(case: str, tmp_path: Path) -> Repo:
    dst = tmp_path / case.replace("/", "-")
    shutil.copytree(ROOT / "fixtures" / "callgraph" / case, dst, ignore=shutil.ignore_patterns("callgraph.json"))
    return Repo.open(dst, index_path=tmp_path / "index.db")


def test_a_call_of_a_call_is_one_call_of_f(tmp_path: Path) -> None:
    """`f(1)(2)` calls `f` once (at `f`) and what `f` returns once (at the second `(`)."""
    repo = _open("calls/nested_call", tmp_path)
    assert [(c.line, c.column, c.resolution) for c in repo.callers_of("main.f")] == [(6, 1, "resolved")]
    assert [(c.line, c.column, c.callee) for c in repo.callers_of("main.f.g")] == [(6, 5, "main.f.g")]


def test_a_parameter_bound_to_two_functions_reaches_both_labelled_name(tmp_path: Path) -> None:
    repo = _open("lambdas/argument", tmp_path)
    calls = repo.callees_of("main.apply")
    assert sorted((c.callee, c.resolution) for c in calls) == [("main.<lambda1>", "name"), ("main.<lambda2>", "name")]
    assert [c.caller for c in repo.callers_of("main.<lambda2>")] == ["main.apply"]


def test_every_call_reading_a_parameter_gets_its_values(tmp_path: Path) -> None:
    """`x = a; x.start(); x.stop()`: both calls read the parameter through `x`, the second from the
    value remembered for the first; both need the second pass (before, only the first had it)."""
    repo = _open("params/shared_local", tmp_path)
    got = sorted((c.callee, c.resolution) for c in repo.callees_of("main.go"))
    assert got == [("main.A.start", "resolved"), ("main.A.stop", "resolved")]


def test_a_name_assigned_from_itself_has_every_value(tmp_path: Path) -> None:
    """`x = Node(); x = x.grow()`: `x` is a Node or what `grow` returns (a fixed point), so `x.fall()`
    reaches `Leaf.fall` alone; evaluated once through the cycle, `x` was only a Node."""
    repo = _open("assign/reassigned", tmp_path)
    got = sorted((c.callee, c.resolution) for c in repo.callees_of("main.main"))
    assert got == [("main.Leaf.fall", "resolved"), ("main.Node", "resolved"), ("main.Node.grow", "resolved")]


SECOND_PASS_SITE = {
    "shapes": "class Circle:\n    def draw(self, pen):\n        return pen.stroke()\n\n\n"
              "class Pen:\n    def stroke(self):\n        return 1\n",
    "run": "def run(shape):\n    return shape.draw(Pen())\n\n\nrun(Circle())\n",
}


@pytest.mark.parametrize("order", [("shapes", "run"), ("run", "shapes")])
def test_a_call_site_the_second_pass_finds_passes_nothing(order: tuple[str, str], tmp_path: Path) -> None:
    """`shape.draw(Pen())` reaches `Circle.draw` only through run's parameter (the second pass):
    its arguments are not Circle.draw's parameter's values, whichever comes first in the file (it
    used to depend on that), so `pen.stroke()` is a name match."""
    (tmp_path / "main.py").write_text("\n\n".join(SECOND_PASS_SITE[k] for k in order))
    repo = Repo.open(tmp_path, index_path=tmp_path / "index.db")
    try:
        assert sorted((c.callee, c.resolution) for c in repo.callees_of("main.run")) == [
            ("main.Circle.draw", "resolved"), ("main.Pen", "resolved")]
        assert [(c.callee, c.resolution) for c in repo.callees_of("main.Circle.draw")] == [("main.Pen.stroke", "name")]
    finally:
        repo.close()


def test_super_never_reaches_the_method_itself(tmp_path: Path) -> None:
    repo = _open("super/external_base", tmp_path)
    assert [c.caller for c in repo.callers_of("Fab.parse_args")] == ["main"]
    repo = _open("super/method", tmp_path / "2")
    assert [c.callee for c in repo.callees_of("Fab.core_args")] == ["main.Base.core_args"]


def test_resolving_again_gives_the_same_rows(tmp_path: Path) -> None:
    """Rows the resolver makes (second targets, `for`/`with`/operator calls) are made again, not added."""
    repo = _open("protocols/operators", tmp_path)
    first = same_rows_when_resolved_again(repo, repo.root / "main.py")
    assert ("main", "__add__", "main.V.__add__", "resolved") in {(c, n, t, r) for c, n, _l, _c, t, r in first}


def same_rows_when_resolved_again(repo: Repo, edited: Path) -> list[tuple]:
    """The calls rows; asserts that an edit keeping the definitions (only `edited` is resolved again)
    and then resolving every file again leave them as they were."""
    rows = lambda: sorted(repo.conn.execute("SELECT caller, name, line, col, target, resolution FROM calls"))  # noqa: E731
    first = rows()
    edited.write_text(edited.read_text() + "\n")
    repo.update()
    assert rows() == first
    with repo.conn:
        repo.conn.execute("UPDATE files SET resolved=0")
    repo.update()
    assert rows() == first
    return first


def test_editor_references_include_calls_through_an_import_alias(tmp_path: Path) -> None:
    repo = _open("imports/alias_call", tmp_path)
    want = {("pkg/auth.py", 1, 5, "definition"), ("pkg/views.py", 1, 19, "import"), ("pkg/views.py", 6, 12, "call")}
    for path, line, col in (("pkg/auth.py", 1, 6), ("pkg/views.py", 6, 12)):  # on the definition, on the alias
        got = {(r.path, r.line, r.column, r.kind) for r in repo.references_at(path, line, col)}
        assert want <= got, (path, got)


def test_refs_label_comments_docstrings_and_strings_apart_from_code(tmp_path: Path) -> None:
    repo = _open("imports/alias_call", tmp_path)
    kinds = {(r.path, r.line, r.kind) for r in repo.references("current_user")}
    assert kinds == {("pkg/auth.py", 1, "definition"), ("pkg/auth.py", 2, "docstring"), ("pkg/views.py", 1, "import"),
                     ("pkg/views.py", 2, "comment"), ("pkg/views.py", 10, "string")}
    out = subprocess.run([sys.executable, "-m", "repo_rlm.cli", "--repo", str(repo.root), "--index",
                          str(tmp_path / "index.db"), "refs", "current_user", "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert {r["kind"] for r in json.loads(out.stdout)} == {"definition", "docstring", "import", "comment", "string"}


def test_pycg_format_from_the_cli_keys_lambdas_and_never_classes(tmp_path: Path) -> None:
    repo = _open("lambdas/call", tmp_path)
    out = subprocess.run([sys.executable, "-m", "repo_rlm.cli", "--repo", str(repo.root), "--index",
                          str(tmp_path / "index.db"), "callgraph", "--format", "pycg"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"main": ["main.<lambda1>"], "main.<lambda1>": ["main.g"], "main.g": []}
    repo = _open("protocols/constructors", tmp_path / "2")
    cg = repo.callgraph_pycg()
    assert cg["main"] == ["main.Base.__init__", "main.Own.__init__"] and "main.Child" not in cg


def test_a_small_update_still_binds_parameters_from_other_files(tmp_path: Path) -> None:
    """Resolving only runner.py (an editor's save) reads main.py's stored call of `run(job)`."""
    repo = _open("imports/cross_module_param", tmp_path)
    assert [c.caller for c in repo.callers_of("main.job")] == ["runner.run"]
    runner = repo.root / "runner.py"
    runner.write_text(runner.read_text() + "\n\ndef later():\n    pass\n")
    report = repo.update()
    assert report["updated_files"] == 1
    assert [c.caller for c in repo.callers_of("main.job")] == ["runner.run"]


def test_a_decorated_function_keeps_its_callers(tmp_path: Path) -> None:
    """`target()` reaches the wrapper `deco` returns (PyCG's graph), and callers_of(target) still lists it."""
    repo = _open("decorators/wrapper", tmp_path)
    assert {(c.caller, c.line) for c in repo.callers_of("main.target")} == {("main", 10), ("main.deco.wrapper", 3)}
    assert [c.line for c in repo.callers_of("main.deco.wrapper")] == [10]
    assert "main.target" not in repo.callgraph_pycg()["main"]


async def test_the_language_server_lists_aliased_calls_as_references(tmp_path: Path) -> None:
    """`textDocument/references` over stdio on `current_user`: the call `who(request)` is there, with
    the alias's own width."""
    import asyncio
    import os
    import time

    from lsprotocol import types as T
    from pygls.uris import from_fs_path
    from pytest_lsp import ClientServerConfig

    root = tmp_path / "alias"
    shutil.copytree(ROOT / "fixtures" / "callgraph" / "imports" / "alias_call", root,
                    ignore=shutil.ignore_patterns("callgraph.json"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPO_RLM_")}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")
    client = await ClientServerConfig(
        server_command=[sys.executable, "-m", "lsp_server", "--stdio", "--index", str(tmp_path / "index.db")],
        server_env=env).start()
    try:
        await client.initialize_session(T.InitializeParams(capabilities=T.ClientCapabilities(),
                                                           root_uri=from_fs_path(str(root))))
        views, auth = from_fs_path(str(root / "pkg/views.py")), from_fs_path(str(root / "pkg/auth.py"))
        want = T.Location(uri=views, range=T.Range(start=T.Position(line=5, character=11),
                                                    end=T.Position(line=5, character=14)))
        deadline = time.monotonic() + 30
        while True:  # the first index build runs in the background
            refs = await client.text_document_references_async(T.ReferenceParams(
                text_document=T.TextDocumentIdentifier(uri=auth), position=T.Position(line=0, character=6),
                context=T.ReferenceContext(include_declaration=False)))
            if refs and want in refs or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert want in (refs or []), refs
    finally:
        await client.shutdown_session()
        await client.stop()
