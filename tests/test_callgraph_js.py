"""JavaScript/TypeScript call-graph precision and recall on our own micro cases
(fixtures/callgraph_js/<case>/): one small program per feature (functions assigned to `const`,
object literals of functions, callbacks, class fields, typed receivers), the expected graph next to
it in PyCG's format, scored like the Python cases. `python tests/test_callgraph_js.py` prints the table.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_callgraph import edges

from repo_rlm.query.repo import Repo

ROOT = Path(__file__).resolve().parent.parent
CASES = sorted(p.parent for p in (ROOT / "fixtures" / "callgraph_js").glob("*/callgraph.json"))
PRECISION, RECALL = 0.98, 0.95


def run_case(case: Path, work: Path) -> tuple[dict, dict, dict]:
    """(our PyCG-format graph, the expected one, call site -> resolution) for one case. Only calls the
    resolver gave a target count: the graph's fallback to a unique name is left out, so every edge
    scored here is in the calls table, as `callers`/`callees` see it."""
    dst = work / case.name
    shutil.copytree(case, dst, ignore=shutil.ignore_patterns("callgraph.json"))
    repo = Repo.open(dst, index_path=work / f"{case.name}.db")
    try:
        graph = repo.callgraph_pycg()
        classes = {q for (q,) in repo.conn.execute("SELECT qualname FROM symbols WHERE kind = 'class'")}
        ours: dict[str, list[str]] = {k: [] for k in graph}
        labels: dict[tuple, str] = {}
        for caller, target, resolution in repo.conn.execute(
                "SELECT caller, target, resolution FROM calls WHERE target IS NOT NULL ORDER BY id"):
            if target not in classes and target not in ours.setdefault(caller, []):
                ours[caller].append(target)
                labels[(caller, target)] = resolution
    finally:
        repo.close()
    return ours, json.loads((case / "callgraph.json").read_text()), labels


def score(work: Path) -> tuple[float, float, list[tuple]]:
    tp = fp = fn = 0
    rows = []
    for case in CASES:
        ours, expected, _labels = run_case(case, work)
        got, want = edges(ours), edges(expected)
        tp += len(got & want)
        fp += len(got - want)
        fn += len(want - got)
        rows.append((case.name, len(got & want), sorted(got - want), sorted(want - got), ours, expected))
    return tp / max(1, tp + fp), tp / max(1, tp + fn), rows


def table(precision: float, recall: float, rows: list[tuple]) -> str:
    lines = [f"{'case':24} {'ok':>3} {'extra':>5} {'miss':>4}"]
    for name, ok, extra, missing, _o, _e in rows:
        lines.append(f"{name:24} {ok:3} {len(extra):5} {len(missing):4}"
                     + (f"  extra={extra}" if extra else "") + (f"  missing={missing}" if missing else ""))
    lines.append(f"cases={len(rows)} precision={precision:.3f} recall={recall:.3f}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> tuple[float, float, list[tuple]]:
    return score(tmp_path_factory.mktemp("callgraph_js"))


def test_there_is_a_case_per_feature() -> None:
    names = {c.name for c in CASES}
    assert {"const_function", "alias", "import_const", "object_literal", "export_default_object", "module_exports",
            "callback_param", "callback_union", "higher_order", "class_fields", "class_fields_ts",
            "constructor_attr", "ts_typed"} <= names
    assert any((c / "main.ts").exists() for c in CASES) and any((c / "main.js").exists() for c in CASES)


def test_precision_and_recall_reach_the_targets(scored) -> None:
    precision, recall, rows = scored
    print("\n" + table(precision, recall, rows))
    assert precision >= PRECISION and recall >= RECALL, table(precision, recall, rows)


def test_every_expected_key_is_a_key(scored) -> None:
    """Functions, methods, object-literal properties (`api.get`) and class fields are keys; classes are not."""
    _p, _r, rows = scored
    for name, _ok, _x, _m, ours, expected in rows:
        assert set(expected) <= set(ours), (name, sorted(set(expected) - set(ours)))
        assert not any(k.rsplit(".", 1)[-1][:1].isupper() for k in ours if k not in expected), (name, sorted(ours))


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print(table(*score(Path(tmp))))


# -- the calls table behind the graph: labels, rows the resolver makes, updates -------------------------


def _open(case: str, tmp_path: Path) -> Repo:
    dst = tmp_path / case
    shutil.copytree(ROOT / "fixtures" / "callgraph_js" / case, dst, ignore=shutil.ignore_patterns("callgraph.json"))
    return Repo.open(dst, index_path=tmp_path / f"{case}.db")


def _rows(repo: Repo) -> list[tuple]:
    return sorted(repo.conn.execute("SELECT caller, callee_text, line, target, resolution, is_new FROM calls"))


def test_a_parameter_reaches_what_its_call_sites_pass_labelled_by_certainty(tmp_path: Path) -> None:
    """One function passed: `resolved`; two (over two call sites): both, `name`; never the global `cb`."""
    repo = _open("callback_param", tmp_path)
    assert [(c.callee, c.resolution) for c in repo.callees_of("main.run")] == [("main.handler", "resolved")]
    repo = _open("callback_union", tmp_path)
    assert sorted((c.callee, c.resolution) for c in repo.callees_of("main.run")) == [("main.a", "name"), ("main.b", "name")]
    assert repo.callers_of("main.cb") == []


def test_functions_handed_to_library_calls_are_called_by_the_caller(tmp_path: Path) -> None:
    repo = _open("higher_order", tmp_path)
    made = {(caller, text, target, how) for caller, text, _l, target, how, is_new in _rows(repo) if is_new == 2}
    assert made == {("main.run", f, f"main.{f}", "resolved") for f in ("double", "log", "later", "done", "fail", "onClick")}
    assert [c.caller for c in repo.callers_of("main.onClick")] == ["main.run"]


def test_resolving_again_gives_the_same_rows(tmp_path: Path) -> None:
    """Rows the resolver made (a second callback, `arr.map(fn)`) are made again, not added."""
    for case in ("callback_union", "higher_order"):
        repo = _open(case, tmp_path)
        first = _rows(repo)
        assert any(r[5] == 2 for r in first)
        main = repo.root / "main.js"
        main.write_text(main.read_text() + "\n")
        repo.update()
        assert _rows(repo) == first
        with repo.conn:
            repo.conn.execute("UPDATE files SET resolved=0")
        repo.update()
        assert _rows(repo) == first


def test_a_small_update_still_binds_parameters_from_other_files(tmp_path: Path) -> None:
    """Resolving only lib.ts (an editor's save) reads main.ts's stored call `each(['a'], show)`."""
    repo = _open("callback_import", tmp_path)
    assert [c.caller for c in repo.callers_of("main.show")] == ["lib.each"]
    lib = repo.root / "lib.ts"
    lib.write_text(lib.read_text() + "\nexport function later(): void {}\n")
    assert repo.update()["updated_files"] == 1
    assert [c.caller for c in repo.callers_of("main.show")] == ["lib.each"]


def test_package_imports_are_external_never_a_same_named_definition(tmp_path: Path) -> None:
    """`import {setTimeout as delay} from 'node:timers/promises'`: `delay()` is not the local `delay` property."""
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "main.js").write_text(
        "import { setTimeout as delay } from 'node:timers/promises';\n"
        "const retry = { delay: () => 0 };\n"
        "async function run() {\n  await delay(10);\n  retry.delay();\n}\n")
    repo = Repo.open(tmp_path / "p", index_path=tmp_path / "p.db")
    rows = repo.conn.execute("SELECT callee_text, target, resolution FROM calls WHERE caller = 'main.run' ORDER BY line")
    assert list(rows) == [("delay", "<external>.delay", "external"), ("retry.delay", "main.retry.delay", "resolved")]


def test_a_parameter_passed_down_a_chain_is_followed_one_call_deep(tmp_path: Path) -> None:
    """`f0(handler)` -> f1(cb) x3 -> ... -> f14(cb) { cb() }: following `cb` through every call site of
    every level was exponential (3^14 paths: over a minute); one call deep, it takes well under a second."""
    import subprocess
    import sys

    tree = tmp_path / "chain"
    tree.mkdir()
    n = 14
    lines = ["function handler() { return 1 }", "function f0(cb) { f1(cb); f1(cb); f1(cb) }"]
    lines += [f"function f{i}(cb) {{ f{i + 1}(cb); f{i + 1}(cb); f{i + 1}(cb) }}" for i in range(1, n)]
    lines += [f"function f{n}(cb) {{ cb() }}", "f0(handler)"]
    (tree / "main.js").write_text("\n".join(lines) + "\n")
    subprocess.run([sys.executable, "-m", "repo_rlm.cli.main", "--repo", str(tree), "--index", str(tmp_path / "i.db"),
                    "index"], check=True, capture_output=True, timeout=30)
    repo = Repo.open(tree, index_path=tmp_path / "i.db", update=False)
    try:
        assert [c.caller for c in repo.callers_of("main.f1")] == ["main.f0"] * 3
        assert repo.callers_of("main.handler") == []  # `cb()` in f14 is three calls and more away from `handler`
    finally:
        repo.close()
