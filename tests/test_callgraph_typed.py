"""Call-graph precision and recall for Go, Java and C# on our own micro cases
(fixtures/callgraph_typed/<lang>_<case>/), one small program per feature with the expected graph
next to it (PyCG's format: caller -> callees). The scorer is test_callgraph's: edges to
`<builtin>`/`<external>` names are left out on both sides.

`python tests/test_callgraph_typed.py` prints the table per case.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from repo_rlm.query.repo import Repo
from test_callgraph import PRECISION, RECALL, edges, run_case, same_rows_when_resolved_again

ROOT = Path(__file__).resolve().parent.parent
CASES = sorted(p.parent for p in (ROOT / "fixtures" / "callgraph_typed").glob("*/callgraph.json"))


def score(work: Path) -> tuple[float, float, list[tuple]]:
    """Precision and recall over all cases, and per case (name, precision, recall, extra, missing)."""
    tp = fp = fn = 0
    rows = []
    for case in CASES:
        ours, expected = run_case(case, work)
        got, want = edges(ours), edges(expected)
        hit = len(got & want)
        tp, fp, fn = tp + hit, fp + len(got - want), fn + len(want - got)
        rows.append((case.name, hit / max(1, len(got)), hit / max(1, len(want)), sorted(got - want), sorted(want - got)))
    return tp / max(1, tp + fp), tp / max(1, tp + fn), rows


def table(precision: float, recall: float, rows: list[tuple]) -> str:
    out = [f"{'case':28} {'precision':>9} {'recall':>7}"]
    out += [f"{name:28} {p:9.3f} {r:7.3f}" + (f"  extra={x} missing={m}" if x or m else "")
            for name, p, r, x, m in rows]
    out.append(f"{'all (' + str(len(rows)) + ' cases)':28} {precision:9.3f} {recall:7.3f}")
    return "\n".join(out)


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> tuple[float, float, list[tuple]]:
    return score(tmp_path_factory.mktemp("callgraph_typed"))


def test_there_are_cases_for_each_language_and_feature() -> None:
    names = {c.name for c in CASES}
    assert {"go_method_value", "go_func_value", "go_interface_var", "go_interface_param", "go_embedded",
            "go_same_name_packages", "go_callback", "java_interface", "java_abstract", "java_inherit", "cs_interface",
            "cs_abstract"} <= names


def test_precision_and_recall_reach_the_targets(scored) -> None:
    precision, recall, rows = scored
    print("\n" + table(precision, recall, rows))
    assert precision >= PRECISION and recall >= RECALL, table(precision, recall, rows)


# -- labels, names and repeatability behind the graph -----------------------------------------------


def _open(case: str, tmp_path: Path) -> Repo:
    dst = tmp_path / case
    shutil.copytree(ROOT / "fixtures" / "callgraph_typed" / case, dst, ignore=shutil.ignore_patterns("callgraph.json"))
    return Repo.open(dst, index_path=tmp_path / f"{case}.db")


def test_a_call_through_an_interface_lists_the_implementations_labelled_name(tmp_path: Path) -> None:
    """The declared method stays `resolved`; each type whose method set has all the interface's
    methods is one more row, `name` (Cache has Get but not Put: not an implementation)."""
    repo = _open("go_interface_var", tmp_path)
    got = {(c.callee, c.resolution) for c in repo.callees_of("store.Lookup") if c.callee.endswith(".Get")}
    assert got == {("store.Store.Get", "resolved"), ("store.Mem.Get", "name"), ("store.Disk.Get", "name")}
    assert [c.caller for c in repo.callers_of("store.Disk.Put")] == ["store.Lookup"]
    assert repo.callers_of("store.Cache.Get") == []


def test_java_and_csharp_overrides_are_labelled_name(tmp_path: Path) -> None:
    repo = _open("java_abstract", tmp_path)
    got = {(c.callee, c.resolution) for c in repo.callees_of("zoo.Keeper.feed")}
    assert got == {("zoo.Animal.sound", "resolved"), ("zoo.Dog.sound", "name"), ("zoo.Puppy.sound", "name"),
                   ("zoo.Animal.speak", "resolved")}
    repo = _open("cs_interface", tmp_path)
    assert {(c.caller, c.resolution) for c in repo.callers_of("Shop.Data.SqlStore.Get")} == {
        ("Shop.Service.Find", "name"), ("Shop.Service.Local", "name"), ("Shop.Service.Local", "resolved")}


def test_go_packages_of_the_same_name_keep_apart_by_directory(tmp_path: Path) -> None:
    repo = _open("go_same_name_packages", tmp_path)
    quals = {d.qualname for d in repo.find_defs("Clean")}
    assert quals == {"a.util.Clean", "b.util.Clean"}
    assert [(c.caller, c.resolution) for c in repo.callers_of("b.util.Clean")] == [("main.main", "resolved")]
    assert {r[0] for r in repo.conn.execute("SELECT package FROM files WHERE path LIKE '%util.go'")} == {"util"}


def test_a_method_value_passed_as_an_argument_is_an_edge_at_its_place(tmp_path: Path) -> None:
    """`each(..., s.Handle)`: one edge to the method, at the column of `Handle` (and `fn(it)` inside
    `each` reaches it); `s.name` (a field) none."""
    repo = _open("go_method_value", tmp_path)
    calls = repo.callers_of("main.Server.Handle")
    line = next(i for i, t in enumerate((tmp_path / "go_method_value/main.go").read_text().splitlines(), 1) if "s.Handle" in t)
    assert [(c.caller, c.line, c.column, c.resolution) for c in calls] == [
        ("main.each", 15, 3, "resolved"), ("main.main", line, 24, "resolved")]  # `fn(it)` in each: the callback
    assert not [c for c in repo.callees_of("main.main") if c.callee.endswith("name")]


def test_resolving_again_gives_the_same_rows(tmp_path: Path) -> None:
    """The rows made for implementations and method values are made again, not added, on an edit."""
    repo = _open("go_interface_param", tmp_path)
    first = same_rows_when_resolved_again(repo, repo.root / "app" / "use.go")
    assert ("app.Use", "Read", 14, 11, "backend.Pipe.Read", "name") in first


def test_an_editor_save_adding_an_implementation_reaches_it(tmp_path: Path) -> None:
    """A few files resolved (no bulk load): a new Go type and a new Java subclass join the
    implementations of calls in files that did not change; deleting one takes its rows away."""
    repo = _open("go_interface_var", tmp_path)
    (repo.root / "redis.go").write_text("package store\n\ntype Redis struct{}\n\n"
                                        "func (r Redis) Get(key string) string { return key }\n\n"
                                        "func (r Redis) Put(key, value string) {}\n")
    assert repo.update()["updated_files"] == 1
    assert [(c.caller, c.resolution) for c in repo.callers_of("store.Redis.Get")] == [("store.Lookup", "name")]
    (repo.root / "redis.go").unlink()
    repo.update()
    assert repo.callers_of("store.Redis.Get") == []
    assert not repo.conn.execute("SELECT 1 FROM calls WHERE target LIKE 'store.Redis%'").fetchall()

    repo = _open("java_abstract", tmp_path / "2")
    (repo.root / "Cat.java").write_text("package zoo;\n\npublic class Cat extends Animal {\n    String sound() { return \"meow\"; }\n}\n")
    repo.update()
    assert {c.caller for c in repo.callers_of("zoo.Cat.sound")} == {"zoo.Keeper.feed", "zoo.Animal.speak"}
    assert {c.callee for c in repo.callees_of("zoo.Keeper.feed")} == {  # Dog, Puppy: files not resolved again
        "zoo.Animal.sound", "zoo.Dog.sound", "zoo.Puppy.sound", "zoo.Cat.sound", "zoo.Animal.speak"}


def test_a_callback_parameter_reaches_what_the_call_sites_pass(tmp_path: Path) -> None:
    """`task()` inside Run reaches `b.Build` and `test` (two targets: `name`; the literal is not
    followed); saving runner.go alone (no bulk load) reads main.go's stored call sites."""
    repo = _open("go_callback", tmp_path)
    want = {("main.Builder.Build", "name"), ("main.test", "name")}
    assert {(c.callee, c.resolution) for c in repo.callees_of("main.Run") if c.line == 5} == want
    runner = repo.root / "runner.go"
    runner.write_text(runner.read_text() + "\nfunc later() {}\n")
    assert repo.update()["updated_files"] == 1
    assert {(c.callee, c.resolution) for c in repo.callees_of("main.Run") if c.line == 5} == want


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print(table(*score(Path(tmp))))
    sys.exit(0)
