"""Incremental updates re-resolve only what a change can reach, and end where a full rebuild does.

Property-style: for every fixture (pyapp, polyglot, each callgraph case) and a family of edits
generated from the fixture's own index (shift every line, edit a body, append a function, rename
or remove a definition, change a return value, drop an import, add a method that overrides a
base's, add a module defining names that are called but unresolved, delete a file), the calls
table after the incremental update equals the one a fresh build of the edited tree makes. Edits
that change no shape (a line shift, a statement added to a body) must resolve no other file
again; after a line shift or an appended function, every call of the file keeps its target
(invalidate.carry_targets) and none is resolved again.
"""
from __future__ import annotations

import os
import re
import shutil
import sqlite3
import tempfile
from collections import Counter
from pathlib import Path

import pytest

from repo_rlm.index import store
from repo_rlm.index.build import Indexer

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
CALLGRAPH = sorted(p.parent for p in (FIXTURES / "callgraph").glob("*/*/callgraph.json"))
CALLGRAPH_OTHER = sorted(p.parent for g in ("callgraph_js", "callgraph_typed") for p in (FIXTURES / g).glob("*/callgraph.json"))
COMMENT = {"python": "#", "ruby": "#"}  # others: //
BODY_ONLY = {"shift", "body"}  # edits that change no shape


def connect(db: Path) -> sqlite3.Connection:
    """An index whose commits are not synced to disk: hundreds of throw-away indexes here."""
    conn = store.connect(db)
    conn.execute("PRAGMA synchronous=OFF")
    return conn


def build(root: Path, db: Path) -> tuple[sqlite3.Connection, dict]:
    conn = connect(db)
    store.init(conn)
    return conn, Indexer(root, conn, executor="inprocess").update()


@pytest.fixture(autouse=True)
def _no_fact_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every build here extracts its files (the cache is tested in test_factcache.py)."""
    monkeypatch.setenv("REPO_RLM_FACT_CACHE", "off")


@pytest.fixture()
def scratch(tmp_path: Path):
    """Where the hundreds of throw-away trees and indexes go: a memory file system where there is
    one (each new SQLite file costs a few disk syncs), else the test's temporary directory."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        with tempfile.TemporaryDirectory(dir=shm, prefix="repo-rlm-test-") as d:
            yield Path(d)
    else:
        yield tmp_path


def calls_table(conn: sqlite3.Connection) -> Counter:
    return Counter(conn.execute(
        "SELECT f.path, c.caller, c.callee_text, c.name, c.line, c.col, c.is_new, c.target, c.resolution, "
        "c.via_params FROM calls c JOIN files f ON f.id = c.file_id"))


def imports_table(conn: sqlite3.Connection) -> Counter:
    return Counter(conn.execute("SELECT f.path, i.module, i.name, i.alias, i.line, i.target "
                                "FROM imports i JOIN files f ON f.id = i.file_id"))


def bases_table(conn: sqlite3.Connection) -> Counter:
    return Counter(conn.execute("SELECT f.path, s.qualname, b.base, b.target FROM bases b JOIN symbols s ON s.id = b.symbol_id "
                                "JOIN files f ON f.id = b.file_id"))


def _lines_without(text: str, start: int, end: int) -> str:
    lines = text.splitlines(keepends=True)
    return "".join(lines[:start - 1] + lines[end:])


def edits(conn: sqlite3.Connection, root: Path) -> list[tuple[str, str, str | None]]:
    """(label, path, new text or None to delete), derived from the fixture's index."""
    out: list[tuple[str, str, str | None]] = []
    files = list(conn.execute("SELECT id, path, lang FROM files WHERE lang NOT IN ('text', 'skipped') ORDER BY path"))
    for fid, path, lang in files:
        text = (root / path).read_text()
        syms = list(conn.execute("SELECT name, qualname, kind, start_line, end_line, name_line, name_col, parent_id "
                                 "FROM symbols WHERE file_id=? ORDER BY id", (fid,)))
        out.append(("shift", path, f"{COMMENT.get(lang, '//')} edited\n" + text if not text.startswith("<?php")
                    else text.replace("<?php\n", "<?php\n// edited\n", 1)))
        out.append(("delete", path, None))
        funcs = [s for s in syms if s[2] in ("function", "method")]
        if funcs:
            name, _q, _k, start, end, nl, nc, parent = funcs[0]
            lines = text.splitlines(keepends=True)
            line = lines[nl - 1]
            lines[nl - 1] = line[:nc] + line[nc:].replace(name, name + "_2", 1)
            out.append(("rename", path, "".join(lines)))
            top = [s for s in funcs if s[7] is None]
            if top:
                out.append(("remove", path, _lines_without(text, top[-1][3], top[-1][4])))
        if lang != "python":
            continue
        out.append(("append", path, text.rstrip("\n") + "\n\n\ndef appended_by_test(value):\n    return value\n"))
        m = re.search(r"^( *)def \w+\(.*\):[ \t]*\n( +)", text, re.M)
        if m:  # a statement added to a body, before whatever it holds
            out.append(("body", path, text[:m.end(2)] + 'print("edited")\n' + m.group(2) + text[m.end(2):]))
        m = re.search(r"^( +)return (.+)$", text, re.M)
        if m:
            out.append(("return", path, text[:m.start(2)] + "None" + text[m.end(2):]))
            others = [s[0] for s in syms if s[2] in ("function", "class") and s[7] is None]
            if others:  # return another definition of the module
                out.append(("return-other", path, text[:m.start(2)] + others[-1] + text[m.end(2):]))
        m = re.search(r"^(from .+ import .+|import .+)$", text, re.M)
        if m:
            out.append(("import", path, text[:m.start()] + "pass" + text[m.end():]))
        for cls, cline, cend, base_methods in _overridable(conn, fid):
            lines = text.splitlines(keepends=True)
            indent = re.match(r"\s*", lines[cline - 1]).group() + "    "
            method = base_methods[0]
            lines.insert(cend, f"{indent}def {method}(self, *args, **kwargs):\n{indent}    return None\n")
            out.append((f"override {cls}.{method}", path, "".join(lines)))
            break
    unresolved = sorted({r[0] for r in conn.execute(
        "SELECT name FROM calls WHERE (target IS NULL OR target LIKE '<external>.%') AND name GLOB '[A-Za-z_]*' "
        "AND name NOT GLOB '*[^A-Za-z0-9_]*'")})[:6]
    if any(f[2] == "python" for f in files) and unresolved:
        body = "".join(f"def {n}(*args, **kwargs):\n    return None\n\n\n" for n in unresolved)
        body += "class Extra:\n" + "".join(f"    def {n}(self):\n        return None\n\n" for n in unresolved)
        out.append(("new-module", "extra_defs.py", body))
    return out


def _overridable(conn: sqlite3.Connection, fid: int):
    """Classes of this file with a base in the repository, and the base's methods they do not define."""
    for sid, qual, end, line in conn.execute(
            "SELECT id, qualname, end_line, start_line FROM symbols WHERE file_id=? AND kind='class'", (fid,)):
        mine = {r[0] for r in conn.execute("SELECT name FROM symbols WHERE parent_id=?", (sid,))}
        inherited = [r[0] for r in conn.execute(
            "SELECT s.name FROM bases b JOIN symbols c ON c.qualname = b.target JOIN symbols s ON s.parent_id = c.id "
            "WHERE b.symbol_id = ? AND s.kind = 'method' ORDER BY s.id", (sid,)) if r[0] not in mine]
        if inherited:
            yield qual, line, end, inherited


def check_fixture(src: Path, tmp: Path) -> list[str]:
    base_tree, base_db = tmp / "base", tmp / "base.db"
    shutil.copytree(src, base_tree, ignore=shutil.ignore_patterns("callgraph.json", "EXPECTED.md"))
    conn, _ = build(base_tree, base_db)
    failures = []
    for i, (label, path, text) in enumerate(edits(conn, base_tree)):
        tree, db = tmp / f"e{i}", tmp / f"e{i}.db"
        shutil.copytree(base_tree, tree)  # copy2 keeps mtimes: unchanged files are not read again
        inc = connect(db)
        conn.backup(inc)
        if text is None:
            (tree / path).unlink()
        else:
            (tree / path).write_text(text)
        report = Indexer(tree, inc, executor="inprocess").update()
        fresh_tree = tmp / f"f{i}"
        shutil.copytree(tree, fresh_tree)
        fresh, _ = build(fresh_tree, tmp / f"f{i}.db")
        a, b = calls_table(inc), calls_table(fresh)
        if a != b:
            failures.append(f"{src.name} {label} {path}: incremental has {sorted((a - b).elements())[:3]}, "
                            f"a fresh build {sorted((b - a).elements())[:3]}")
        for what, table in (("imports", imports_table), ("bases", bases_table)):
            a, b = table(inc), table(fresh)
            if a != b:
                failures.append(f"{src.name} {label} {path}: incremental {what} {sorted((a - b).elements())[:3]}, "
                                f"a fresh build's {sorted((b - a).elements())[:3]}")
        if label in BODY_ONLY and report["resolved"]["other_files"]:
            failures.append(f"{src.name} {label} {path}: a body-only edit resolved "
                            f"{report['resolved']['other_files']} other files again")
        own = inc.execute("SELECT COUNT(*) FROM calls c JOIN files f ON f.id = c.file_id WHERE f.path = ? "
                          "AND c.is_new < 2", (path,)).fetchone()[0]
        if label in ("shift", "append") and path.endswith(".py") and (
                report["resolved"]["carried_calls"] != own or report["resolved"]["calls"]):
            failures.append(f"{src.name} {label} {path}: {report['resolved']['calls']} calls resolved again, "
                            f"{report['resolved']['carried_calls']} kept their targets (all should)")
        inc.close()
        fresh.close()
        shutil.rmtree(tree)
        shutil.rmtree(fresh_tree)
    conn.close()
    return failures


@pytest.mark.parametrize("name", ["pyapp", "polyglot"])
def test_incremental_equals_fresh_build_on_fixture(name: str, scratch: Path) -> None:
    assert check_fixture(FIXTURES / name, scratch) == []


def test_incremental_equals_fresh_build_on_callgraph_cases(scratch: Path) -> None:
    failures = []
    for i, case in enumerate(CALLGRAPH):
        failures += check_fixture(case, scratch / str(i))
    assert failures == []


def test_incremental_equals_fresh_build_on_js_go_java_cases(scratch: Path) -> None:
    """Callbacks (JS/TS, Go) and interface dispatch rows too: removing the file that passed a
    callback takes the callee's parameter call back to what a fresh build finds."""
    failures = []
    for i, case in enumerate(CALLGRAPH_OTHER):
        failures += check_fixture(case, scratch / str(i))
    assert failures == []


def test_body_edit_resolves_no_other_file_and_a_return_change_does(tmp_path: Path) -> None:
    """The counters `index --json` reports: a body-only edit resolves its own file alone; a changed
    return value resolves the files calling that function too."""
    tree = tmp_path / "app"
    shutil.copytree(FIXTURES / "pyapp", tree)
    conn, first = build(tree, tmp_path / "i.db")
    assert first["resolved"]["files"] == first["resolved"]["changed_files"] > 5
    helpers = tree / "src/shop/util/helpers.py"
    text = helpers.read_text()
    helpers.write_text("# a comment shifts every line\n" + text.replace("def slugify(text):\n", "def slugify(text):\n    print(text)\n"))
    report = Indexer(tree, conn).update()["resolved"]
    assert (report["changed_files"], report["other_files"]) == (1, 0)
    helpers.write_text(text.replace("return text.lower().replace(\" \", \"-\")", "return format_name"))
    report = Indexer(tree, conn).update()["resolved"]
    callers = {r[0] for r in conn.execute("SELECT DISTINCT f.path FROM calls c JOIN files f ON f.id=c.file_id "
                                          "WHERE c.target = 'shop.util.helpers.slugify'")}
    assert report["changed_files"] == 1 and report["other_files"] == len(callers - {"src/shop/util/helpers.py"}) >= 1


def build_files(tmp_path: Path, files: dict[str, str]) -> tuple[Path, sqlite3.Connection]:
    """A small tree of these files, indexed."""
    tree = tmp_path / "app"
    tree.mkdir()
    for name, text in files.items():
        (tree / name).write_text(text)
    return tree, build(tree, tmp_path / "i.db")[0]


VALUE_FLOW = {
    "shapes.py": "class Circle:\n    def area(self):\n        return 1\n\n\nclass Square:\n    def area(self):\n        return 2\n\n\n"
                 "def make():\n    return Circle()\n",
    "registry.py": "from shapes import make\n\ndefault = make()\n",
    "report.py": "from registry import default\n\n\ndef show():\n    return default.area()\n",
    "other.py": "from shapes import Square\n\n\ndef side():\n    return Square().area()\n",
}


def make_returns_a_square(tmp_path: Path, files: dict[str, str]) -> tuple[sqlite3.Connection, dict]:
    """Index `files`, then make shapes.py's `make()` return a Square, not a Circle, and update:
    report.py's `area` call follows it, and the calls table is a fresh build's. Returns the index
    and the update's `resolved` counts."""
    tree, conn = build_files(tmp_path, files)
    area = "SELECT c.target FROM calls c JOIN files f ON f.id = c.file_id WHERE f.path = 'report.py' AND c.name = 'area'"
    assert conn.execute(area).fetchone() == ("shapes.Circle.area",)
    (tree / "shapes.py").write_text(files["shapes.py"].replace("return Circle()", "return Square()"))
    report = Indexer(tree, conn).update()["resolved"]
    assert conn.execute(area).fetchone() == ("shapes.Square.area",)
    fresh, _ = build(tree, tmp_path / "fresh.db")
    assert calls_table(conn) == calls_table(fresh)
    return conn, report


def test_value_flow_through_an_unchanged_module(tmp_path: Path) -> None:
    """`make()` now returns a Square: `registry.default` (unchanged file) holds one, so the call in
    report.py reaches Square.area, as in a fresh build; other.py, which reads nothing that moved, is not resolved again."""
    _conn, report = make_returns_a_square(tmp_path, VALUE_FLOW)
    assert report["other_files"] == 2  # registry.py and report.py; not other.py


def test_value_flow_through_an_unchanged_function_of_the_changed_file(tmp_path: Path) -> None:
    """`build()` returns what `make()` does, beside it in shapes.py: the changed file's own calls
    have no targets yet when the rules run, so the flow from `make` to `build` is followed through
    the targets they had. `registry.default = build()` then holds a Square too."""
    files = dict(VALUE_FLOW, **{
        "shapes.py": VALUE_FLOW["shapes.py"] + "\n\ndef build():\n    shape = make()\n    return shape\n",
        "registry.py": "from shapes import build\n\ndefault = build()\n"})
    _conn, report = make_returns_a_square(tmp_path, files)
    assert report["other_files"] == 2  # registry.py and report.py; not other.py


def test_value_flow_through_a_module_attribute_of_the_changed_file(tmp_path: Path) -> None:
    """`default = make()` at the top of shapes.py itself: the module's attribute follows `make`
    through the target its call had, so report.py, which imports it, reaches Square.area."""
    files = dict(VALUE_FLOW, **{
        "shapes.py": VALUE_FLOW["shapes.py"] + "\n\ndefault = make()\n",
        "report.py": VALUE_FLOW["report.py"].replace("from registry import default", "from shapes import default")})
    del files["registry.py"]
    make_returns_a_square(tmp_path, files)


def test_a_changed_files_imports_and_bases_keep_their_targets_unless_what_they_name_moved(tmp_path: Path) -> None:
    """A changed file's imports and bases found again keep their stored targets (invalidate.carry_imports)
    unless what they name was bound anew: the import of `Base` now from other.py moves `Thing`'s
    base; a class inside a function whose local `Local` now names `Twin` moves `Inner`'s. An edit
    elsewhere in the file keeps them. After each edit the tables are a fresh build's."""
    files = {
        "lib.py": "class Base:\n    def run(self):\n        return 1\n",
        "other.py": "class Base:\n    def run(self):\n        return 2\n",
        "app.py": "from lib import Base\n\n\nclass Thing(Base):\n    pass\n\n\nclass Twin(Base):\n    pass\n\n\n"
                  "def factory():\n    Local = Base\n\n    class Inner(Local):\n        pass\n    return Inner\n",
    }
    tree, conn = build_files(tmp_path, files)
    base_of = "SELECT b.target FROM bases b JOIN symbols s ON s.id = b.symbol_id WHERE s.qualname = ?"
    assert conn.execute(base_of, ("app.factory.Inner",)).fetchone() == ("lib.Base",)
    # (old text, new text, expected base targets, imports and bases that keep theirs: of 1 and 3)
    steps = [("def factory():", "def helper():\n    return 1\n\n\ndef factory():", {"app.Thing": "lib.Base"}, 4),
             ("from lib import Base", "from other import Base",
              {"app.Thing": "other.Base", "app.factory.Inner": "other.Base"}, 0),
             ("Local = Base", "Local = Twin", {"app.Thing": "other.Base", "app.factory.Inner": "app.Twin"}, 3)]
    text = files["app.py"]
    for i, (old, new, expected, carried) in enumerate(steps):
        text = text.replace(old, new)
        (tree / "app.py").write_text(text)
        assert Indexer(tree, conn).update()["resolved"]["carried_imports"] == carried, old
        for cls, target in expected.items():
            assert conn.execute(base_of, (cls,)).fetchone() == (target,), (old, cls)
        fresh, _ = build(tree, tmp_path / f"fresh{i}.db")
        assert (bases_table(conn), imports_table(conn), calls_table(conn)) == \
               (bases_table(fresh), imports_table(fresh), calls_table(fresh)), old
        fresh.close()


def test_a_changed_files_calls_found_again_keep_their_rows(tmp_path: Path) -> None:
    """A changed file's calls found again keep their rows, updated in place (Indexer._write_calls):
    new rows in the calls table's name and target indexes would cost more than the edit. A kept
    row whose target moves (`helper` now imported from other.py) is resolved again; a call gone
    loses its row, a new one gets one; the tables are a fresh build's."""
    files = {"lib.py": "def helper():\n    return 1\n",
             "other.py": "def helper():\n    return 2\n",
             "app.py": "from lib import helper\n\n\ndef run():\n    helper()\n    print('x')\n    return len([])\n"}
    tree, conn = build_files(tmp_path, files)
    rows = "SELECT c.callee_text, c.id, c.line, c.target FROM calls c JOIN files f ON f.id = c.file_id WHERE f.path = 'app.py'"
    before = {r[0]: r[1:] for r in conn.execute(rows)}
    assert before["helper"][2] == "lib.helper"
    (tree / "app.py").write_text("import os\nfrom other import helper\n\n\ndef run():\n    helper()\n"
                                 "    os.getcwd()\n    return len([])\n")
    report = Indexer(tree, conn).update()
    after = {r[0]: r[1:] for r in conn.execute(rows)}
    assert set(after) == {"helper", "os.getcwd", "len"}
    assert after["helper"] == (before["helper"][0], 6, "other.helper")  # same row, moved and resolved again
    assert after["len"] == (before["len"][0], 8, before["len"][2])  # same row, target kept
    assert after["os.getcwd"][0] not in {r[0] for r in before.values()}
    assert report["resolved"]["carried_calls"] == 1  # `len`
    fresh, _ = build(tree, tmp_path / "fresh.db")
    assert calls_table(conn) == calls_table(fresh)
    fresh.close()


def test_an_update_after_a_killed_one_resolves_everything(tmp_path: Path) -> None:
    """A build killed after writing a file but before resolving: what that file changed is lost, so
    the next update resolves every file again (and ends where a fresh build does)."""
    tree = tmp_path / "app"
    shutil.copytree(FIXTURES / "pyapp", tree)
    conn, _ = build(tree, tmp_path / "i.db")
    code = conn.execute("SELECT COUNT(*) FROM files WHERE lang NOT IN ('text', 'skipped')").fetchone()[0]
    with conn:  # as a killed build leaves a written, unresolved file
        conn.execute("UPDATE files SET resolved=0 WHERE path='src/shop/util/helpers.py'")
    report = Indexer(tree, conn).update()["resolved"]
    assert report["files"] == code
    assert Indexer(tree, conn).update()["resolved"]["files"] == 0


ARGUMENTS = {
    "shapes.py": "class Circle:\n    def area(self):\n        return 1\n\n\nclass Square:\n    def area(self):\n        return 2\n",
    "use.py": ("def show(shape):\n    def later():\n        return shape.area()\n    return later()\n\n\n"
               "def measure(box):\n    return box.area()\n\n\ndef other():\n    return len('x') + sum([1])\n"),
    "main.py": "from shapes import Circle, Square\nfrom use import measure, show\n\nshow(Circle())\nmeasure(Circle())\n",
}


def test_moved_arguments_resolve_only_the_calls_that_read_parameters(tmp_path: Path) -> None:
    """main.py now passes a Square to `show`: in use.py (unchanged) only `shape.area()` in the
    function nested in `show`, whose target came from show's parameter's values (`calls.via_params`),
    is resolved again; not `len` or `sum`, nor `box.area()`, which read the parameter of `measure`,
    whose arguments did not move. The calls table is a fresh build's."""
    tree, conn = build_files(tmp_path, ARGUMENTS)
    target = ("SELECT c.caller, c.target, c.via_params FROM calls c JOIN files f ON f.id = c.file_id "
              "WHERE f.path = 'use.py' AND c.name = 'area' ORDER BY c.line")
    assert conn.execute(target).fetchall() == [("use.show.later", "shapes.Circle.area", 1),
                                               ("use.measure", "shapes.Circle.area", 1)]
    (tree / "main.py").write_text(ARGUMENTS["main.py"].replace("show(Circle())", "show(Square())"))
    report = Indexer(tree, conn).update()["resolved"]
    assert conn.execute(target).fetchall() == [("use.show.later", "shapes.Square.area", 1),
                                               ("use.measure", "shapes.Circle.area", 1)]
    assert (report["changed_files"], report["params_only_files"]) == (1, 1)
    assert report["calls"] == 3  # `show(Square())` in main.py (the other line keeps its targets), `shape.area()`
    fresh, _ = build(tree, tmp_path / "fresh.db")
    assert calls_table(conn) == calls_table(fresh)


PASSED_THROUGH = {
    "pens.py": "class Pen:\n    def stroke(self):\n        return 1\n\n\nclass Brush:\n    def stroke(self):\n        return 2\n",
    "shapes.py": "class Circle:\n    def draw(self, tool):\n        return tool.stroke()\n",
    "use.py": ("from pens import Brush, Pen\nfrom shapes import Circle\n\n\ndef run(shape):\n    return shape.draw(Pen())\n\n\n"
               "run(Circle())\n"),
}


def test_a_call_found_through_a_parameter_moves_no_parameter(tmp_path: Path) -> None:
    """`shape.draw(Pen())` reaches Circle.draw through run's parameter: its arguments are not
    Circle.draw's parameter's values (resolve_python._param_value), so passing a Brush there
    resolves no call of shapes.py again; the calls table is a fresh build's."""
    tree, conn = build_files(tmp_path, PASSED_THROUGH)
    (tree / "use.py").write_text(PASSED_THROUGH["use.py"].replace("draw(Pen())", "draw(Brush())"))
    report = Indexer(tree, conn).update()["resolved"]
    assert (report["changed_files"], report["params_only_files"], report["other_files"]) == (1, 0, 0)
    fresh, _ = build(tree, tmp_path / "fresh.db")
    assert calls_table(conn) == calls_table(fresh)


RECHECK = {
    "shapes.py": "class Circle:\n    def area(self):\n        return 1\n\n\nclass Square:\n    def area(self):\n        return 2\n\n\n"
                 "def make():\n    return Circle()\n\n\ndef label():\n    return 'x'\n",
    "report.py": "from shapes import make, label\n\n\ndef show():\n    shape = make()\n    return shape.area()\n\n\n"
                 "def title():\n    return label().upper() + str(len('x'))\n\n\ndef count():\n    return sorted([label()])\n",
}


def test_an_unchanged_file_found_by_the_rules_resolves_only_what_reads_the_change(tmp_path: Path) -> None:
    """`make()` now returns a Square: report.py (unchanged) calls `make`, so the rules find it; only
    the calls of `show`, whose local `shape` holds what `make()` returns, are resolved again; the
    calls of `title` and `count` keep their targets. The calls table is a fresh build's."""
    conn, report = make_returns_a_square(tmp_path, RECHECK)
    kept = conn.execute("SELECT COUNT(*) FROM calls c JOIN files f ON f.id = c.file_id WHERE f.path = 'report.py' "
                        "AND c.caller IN ('report.title', 'report.count') AND c.is_new < 2").fetchone()[0]
    assert report["other_files"] == 1 and report["kept_calls"] == kept >= 5


def test_files_found_by_the_rules_are_resolved_whole_when_the_changed_files_hold_more_calls(tmp_path: Path) -> None:
    """The same edit, but shapes.py now holds more calls than report.py: report.py is resolved whole
    (looking at its calls one by one would cost about as much as resolving them), with the same result."""
    busy = RECHECK | {"shapes.py": RECHECK["shapes.py"] + "\n\ndef busy():\n" + "    label()\n" * 12}
    _conn, report = make_returns_a_square(tmp_path, busy)
    assert report["other_files"] == 1 and report["kept_calls"] == 0


def package(scratch: Path, modules: dict[str, str]) -> Path:
    """scratch/app, holding a package `pkg` of these modules (name -> text)."""
    tree = scratch / "app"
    (tree / "pkg").mkdir(parents=True)
    for name, text in {"__init__": "", **modules}.items():
        (tree / "pkg" / f"{name}.py").write_text(text)
    return tree


def test_a_pool_update_reads_old_shapes_ahead_and_ends_as_a_fresh_build(scratch: Path) -> None:
    """Enough changed files for the process pool: the parent reads their stored shapes while the
    workers extract (executors' `idle`); the update then equals an in-process one and a fresh build."""
    n = 40
    tree = package(scratch, {f"m{i}": f"def f{i}():\n    return {i}\n\n\nclass C{i}:\n    def run(self):\n        return f{i}()\n"
                             for i in range(n)}
                   | {f"u{i}": f"from pkg.m{i} import C{i}, f{i}\n\n\ndef use{i}():\n    return C{i}().run() + f{i}()\n"
                      for i in range(n)})
    conn, _ = build(tree, scratch / "i.db")
    other = connect(scratch / "j.db")
    conn.backup(other)
    for i in range(n):  # every module's function now returns a class: its readers resolve again
        (tree / "pkg" / f"m{i}.py").write_text(f"class D{i}:\n    pass\n\n\ndef f{i}():\n    return D{i}()\n\n\n"
                                               f"class C{i}:\n    def run(self):\n        return f{i}()\n")
    pooled = Indexer(tree, conn, executor="process").update()
    plain = Indexer(tree, other, executor="inprocess").update()
    assert pooled["updated_files"] == plain["updated_files"] == n
    assert pooled["resolved"] == plain["resolved"] and pooled["resolved"]["other_files"] == n
    fresh, _ = build(tree, scratch / "fresh.db")
    assert calls_table(conn) == calls_table(other) == calls_table(fresh)


def test_a_large_update_reads_the_call_sites_of_unchanged_files(scratch: Path) -> None:
    """Over 200 files resolved again (the resolver loads the whole repository at once) but not all
    of them: a function in a changed file takes its parameter's value from a call site in an
    unchanged file, as in a fresh build. (Such an update once ignored those call sites: `cb()`
    lost its target.)"""
    n = 230
    tree = package(scratch, {f"run{i}": f"def run{i}(cb):\n    return cb()\n" for i in range(n)}
                   | {f"use{i}": f"from pkg.run{i} import run{i}\n\n\ndef helper{i}():\n    return {i}\n\n\n"
                                 f"def main{i}():\n    return run{i}(helper{i})\n" for i in range(n)}
                   # bystanders: the changed files stay under a fifth of the index
                   | {f"other{i}": f"def other{i}():\n    return {i}\n" for i in range(n, 5 * n)})
    conn, _ = build(tree, scratch / "i.db")
    cb = "SELECT COUNT(*) FROM calls WHERE callee_text = 'cb' AND target LIKE 'pkg.use%.helper%'"
    assert conn.execute(cb).fetchone() == (n,)
    for i in range(n):  # a body edit in every run{i}.py: resolved again, alone
        (tree / "pkg" / f"run{i}.py").write_text(f"def run{i}(cb):\n    x = {i}\n    return cb()\n")
    report = Indexer(tree, conn, executor="inprocess").update()
    assert report["resolved"]["files"] == n and report["updated_files"] == n
    assert conn.execute(cb).fetchone() == (n,)
    fresh, _ = build(tree, scratch / "fresh.db")
    assert calls_table(conn) == calls_table(fresh)


def test_targets_streamed_through_a_temp_table_equal_plain_updates(scratch: Path) -> None:
    """CallTargets, the resolvers' writer: past its streaming threshold it sets targets from a temp
    table in one UPDATE; below it, row by row. Both leave the same rows."""
    from repo_rlm.index.resolve_base import CallTargets

    conn, _ = build(FIXTURES / "pyapp", scratch / "i.db")
    ids = [r[0] for r in conn.execute("SELECT id FROM calls ORDER BY id")]
    assert len(ids) > 10
    found = [(f"t{i % 7}", "name", cid, i % 2) for i, cid in enumerate(ids)]
    tables = []
    for stream in (len(ids) + 1, 4):
        out = CallTargets(conn, stream=stream)
        with conn:
            for row in found:
                out.add(*row)
            out.finish()
        assert out.streaming == (stream == 4)
        tables.append(calls_table(conn))
        with conn:
            conn.execute("UPDATE calls SET target = NULL, resolution = NULL, via_params = 0")
    assert tables[0] == tables[1]
    assert sum(n for row, n in tables[0].items() if row[-3] == "t3") == len(ids[3::7])
    assert sum(n for row, n in tables[0].items() if row[-1] == 1) == len(ids[1::2])


def test_resolving_shrinks_the_page_cache_and_gives_it_back(scratch: Path) -> None:
    """Resolution runs with a small SQLite page cache (store.small_page_cache: it was ~50 MB of a
    large build's peak); the connection has its usual cache again afterwards, even after a failure."""
    conn, _ = build(FIXTURES / "pyapp", scratch / "i.db")
    usual = -store.PAGE_CACHE_KIB
    assert conn.execute("PRAGMA cache_size").fetchone()[0] == usual
    with pytest.raises(RuntimeError):
        with store.small_page_cache(conn):
            assert conn.execute("PRAGMA cache_size").fetchone()[0] == -store.RESOLVE_PAGE_CACHE_KIB
            raise RuntimeError("a resolver failed")
    assert conn.execute("PRAGMA cache_size").fetchone()[0] == usual
