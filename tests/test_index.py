"""The index on the Python fixture: exact definitions, callers and callees, incremental updates,
interrupted builds, and bad input. The known answers are in fixtures/pyapp/EXPECTED.md."""
from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from repo_rlm.index.build import Indexer
from repo_rlm.query.repo import Repo, RepoError

ROOT = Path(__file__).resolve().parents[1]
PYAPP = ROOT / "fixtures" / "pyapp"
CLI = [sys.executable, "-m", "repo_rlm.cli"]


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture()
def pyapp(tmp_path: Path) -> Path:
    dst = tmp_path / "pyapp"
    shutil.copytree(PYAPP, dst)
    git(dst, "init", "-q")
    git(dst, "add", "-A")
    git(dst, "commit", "-qm", "fixture")
    return dst


@pytest.fixture()
def repo(pyapp: Path, tmp_path: Path) -> Repo:
    r = Repo.open(pyapp, index_path=tmp_path / "index.db")
    yield r
    r.close()


def edges(calls) -> set[tuple[str, str, str]]:
    return {(c.caller, c.callee, c.resolution) for c in calls}


def test_definitions_and_qualified_names(repo: Repo) -> None:
    defs = {(d.qualname, d.kind) for d in repo.find_defs("*", path="src/shop/models.py")}
    assert defs == {
        ("shop.models.Base", "class"), ("shop.models.Base.save", "method"), ("shop.models.Base.validate", "method"),
        ("shop.models.User", "class"), ("shop.models.User.__init__", "method"), ("shop.models.User.save", "method"),
        ("shop.models.User.display", "method"), ("shop.models.Admin", "class"), ("shop.models.Admin.save", "method"),
        ("shop.models.Admin.grant", "method"),
    }
    assert [d.qualname for d in repo.find_defs("slugify")] == ["shop.services.slugify", "shop.util.helpers.slugify"]
    assert [d.qualname for d in repo.find_defs("helpers.slugify")] == ["shop.util.helpers.slugify"]
    assert {d.qualname for d in repo.find_defs("*session*")} == {
        "shop.auth.decorators.check_session", "shop.auth.session.load_session"}
    (user,) = repo.find_defs("User", kind="class")
    assert (user.path, user.start_line, user.end_line, user.signature, user.doc) == (
        "src/shop/models.py", 16, 27, "class User(Base)", "A customer.")
    (inner,) = repo.find_defs("inner")
    assert (inner.qualname, inner.kind) == ("shop.views.outer.inner", "function")
    (profile,) = repo.find_defs("profile")
    assert profile.start_line == 8  # the span starts at the decorator
    assert {d.qualname for d in repo.find_defs("VERSION")} == {"shop.VERSION"}


def test_python_resolution_matches_expected_table(repo: Repo) -> None:
    got = set()
    for row in repo.conn.execute(
            "SELECT f.path, c.line, c.caller, c.target, c.resolution FROM calls c JOIN files f ON f.id=c.file_id"):
        got.add(row)
    expected = {
        ("src/shop/models.py", 9, "shop.models.Base.save", "shop.models.Base.validate", "resolved"),
        ("src/shop/models.py", 23, "shop.models.User.save", "shop.audit.record", "resolved"),
        ("src/shop/models.py", 24, "shop.models.User.save", "shop.models.Base.save", "resolved"),
        ("src/shop/models.py", 34, "shop.models.Admin.save", "shop.models.Admin.grant", "resolved"),
        ("src/shop/models.py", 35, "shop.models.Admin.save", "shop.models.User.save", "resolved"),
        ("src/shop/views.py", 10, "shop.views.profile", "shop.models.User.__init__", "resolved"),
        ("src/shop/views.py", 11, "shop.views.profile", "shop.models.User.save", "resolved"),
        ("src/shop/views.py", 12, "shop.views.profile", "shop.services.notify", "resolved"),
        ("src/shop/views.py", 13, "shop.views.profile", "shop.util.helpers.format_name", "resolved"),
        ("src/shop/views.py", 18, "shop.views.admin_panel", "shop.models.User.__init__", "resolved"),
        ("src/shop/views.py", 19, "shop.views.admin_panel", "shop.models.Admin.save", "resolved"),
        ("src/shop/views.py", 20, "shop.views.admin_panel", "shop.services.slugify", "resolved"),
        ("src/shop/views.py", 20, "shop.views.admin_panel", "shop.models.User.display", "resolved"),
        ("src/shop/views.py", 27, "shop.views.outer.inner", "shop.util.helpers.slugify", "resolved"),
        ("src/shop/views.py", 29, "shop.views.outer", "shop.views.outer.inner", "resolved"),
        ("src/shop/views.py", 8, "shop.views", "shop.auth.decorators.login_required", "resolved"),
        ("src/shop/views.py", 16, "shop.views", "shop.auth.decorators.login_required", "resolved"),
        ("src/shop/services.py", 8, "shop.services.notify", "shop.models.User.save", "resolved"),
        ("src/shop/cli.py", 7, "shop.cli.main", "shop.audit.record", "resolved"),
        ("src/shop/cli.py", 8, "shop.cli.main", "shop.util.helpers.slugify", "resolved"),
        ("src/shop/auth/decorators.py", 10, "shop.auth.decorators.login_required.wrapper",
         "shop.auth.decorators.check_session", "resolved"),
        # value flow: `user` is the `User` that views.py:13 passes in
        ("src/shop/util/helpers.py", 2, "shop.util.helpers.format_name", "shop.models.User.display", "resolved"),
    }
    assert expected <= got, expected - got
    # nothing in the repository is reached by a wrong resolved edge
    resolved = {(p, ln, t) for p, ln, _c, t, r in got if r == "resolved"}
    wrong = {x for x in resolved if x not in {(p, ln, t) for p, ln, _c, t, _r in expected}}
    assert wrong == {
        ("src/shop/audit.py", 5, "shop.audit._write"),
        ("src/shop/auth/decorators.py", 17, "shop.auth.session.load_session"),
        ("src/shop/cli.py", 9, "shop.views.outer"),
        ("src/shop/cli.py", 13, "shop.cli.main"),
        ("src/shop/services.py", 7, "shop.audit.record"),
        ("src/shop/services.py", 21, "shop.services.Mailer.deliver"),
        ("src/shop/views.py", 33, "shop.services.Mailer.__init__"),
        ("src/shop/views.py", 34, "shop.services.Mailer.send"),
    }  # each of these is right too; listed so that any new edge is looked at


def test_callers_and_callees_exact(repo: Repo) -> None:
    assert edges(repo.callers_of("User.save")) == {
        ("shop.models.Admin.save", "shop.models.User.save", "resolved"),
        ("shop.services.notify", "shop.models.User.save", "resolved"),
        ("shop.views.profile", "shop.models.User.save", "resolved"),
    }
    assert edges(repo.callers_of("Admin.save")) == {("shop.views.admin_panel", "shop.models.Admin.save", "resolved")}
    # a class is reached through its constructor, an inherited one too
    assert {c.caller for c in repo.callers_of("shop.models.User")} == {"shop.views.profile", "shop.views.admin_panel"}
    assert edges(repo.callers_of("display")) == {
        ("shop.views.admin_panel", "shop.models.User.display", "resolved"),
        ("shop.util.helpers.format_name", "shop.models.User.display", "resolved"),  # value flow (views.py:13)
    }
    assert edges(repo.callees_of("shop.views.profile")) == {
        ("shop.views.profile", "shop.models.User.__init__", "resolved"),
        ("shop.views.profile", "shop.models.User.save", "resolved"),
        ("shop.views.profile", "shop.services.notify", "resolved"),
        ("shop.views.profile", "shop.util.helpers.format_name", "resolved"),
    }
    assert {c.callee for c in repo.callees_of("check_session", include_external=True)} == {
        "shop.auth.session.load_session", "<external>.get", "<builtin>.PermissionError"}
    (call,) = repo.callers_of("check_session")
    assert (call.path, call.line, call.column, call.text) == ("src/shop/auth/decorators.py", 10, 9, "check_session(request)")
    assert (call.caller_path, call.caller_start_line, call.caller_end_line) == ("src/shop/auth/decorators.py", 8, 11)
    assert (call.callee_path, call.callee_start_line, call.callee_end_line) == ("src/shop/auth/decorators.py", 16, 20)


def test_references_outline_imports(repo: Repo) -> None:
    refs = {(r.path, r.line, r.kind) for r in repo.references("slugify")}
    assert refs == {
        ("src/shop/services.py", 11, "definition"), ("src/shop/services.py", 12, "docstring"),
        ("src/shop/util/helpers.py", 5, "definition"), ("src/shop/views.py", 20, "call"),
        ("src/shop/views.py", 27, "call"), ("src/shop/cli.py", 8, "call"),
    }
    outline = repo.outline("src/shop/models.py")
    assert [(o.name, [c.name for c in o.children]) for o in outline] == [
        ("Base", ["save", "validate"]), ("User", ["__init__", "save", "display"]), ("Admin", ["save", "grant"])]
    imps = {(i.module, i.name, i.alias, i.resolved) for i in repo.imports_of("src/shop/views.py")}
    assert imps == {(".", "models", "m", "shop.models"), (".auth.decorators", "login_required", "", "shop.auth.decorators.login_required"),
                    (".services", "*", "", "shop.services"), (".util", "helpers", "h", "shop.util.helpers")}
    assert {i.path for i in repo.importers_of("shop.audit")} == {"src/shop/models.py", "src/shop/services.py", "src/shop/cli.py"}


def test_search_ranks_auth_code_first(repo: Repo) -> None:
    hits = repo.search("where is authentication enforced?", k=5)
    assert hits and hits[0].path.startswith("src/shop/auth/")
    assert "shop.auth.decorators.login_required" in {h.symbol for h in hits}


def test_positions_for_editors(repo: Repo) -> None:
    # cursor on `save` in `user.save()` (views.py:11) reaches User.save
    (d,) = repo.definition_at("src/shop/views.py", 11, 11)
    assert d.qualname == "shop.models.User.save"
    # unsaved text: the word is taken from the editor's line, not the file
    (d,) = repo.definition_at("src/shop/views.py", 11, 6, line_text="    notify(user)")
    assert d.qualname == "shop.services.notify"
    assert repo.definition_at("src/shop/views.py", 11, 1) == []


def test_repl_helpers_print_one_item_per_line(repo: Repo) -> None:
    from repo_rlm.query.helpers import namespace

    ns = namespace(repo)
    assert set(ns) >= {"repo", "find_defs", "callers_of", "callees_of", "references", "outline", "read_span", "grep",
                       "search", "imports_of", "importers_of", "git_log", "blame"}
    text = repr(ns["callers_of"]("User.save"))
    assert len(text.splitlines()) == 3 and all(line.startswith("<call ") for line in text.splitlines())
    assert ns["read_span"]("src/shop/audit.py", 4, 5) == "def record(event):\n    return _write(event)"
    assert [(g.path, g.line) for g in ns["grep"](r"raise \w+Error")] == [("src/shop/auth/decorators.py", 19)]
    assert ns["git_log"]()[0].subject == "fixture"
    assert ns["blame"]("src/shop/audit.py", 4, 4)[0].text == "def record(event):"
    assert "src/" in ns["repo"].tree() and ns["repo"].languages["python"] == 11


def test_incremental_update_parses_only_changed_files(pyapp: Path, repo: Repo) -> None:
    ix = Indexer(repo.root, repo.conn)
    assert ix._plan(None, ix._stored())[0] == []  # unchanged git repo: nothing to read
    assert repo.update()["updated_files"] == 0
    audit = pyapp / "src/shop/audit.py"
    audit.write_text(audit.read_text() + "\n\ndef purge():\n    return _write('purge')\n")
    report = repo.update()
    assert report["updated_files"] == 1
    assert [d.qualname for d in repo.find_defs("purge")] == ["shop.audit.purge"]
    assert {c.caller for c in repo.callers_of("_write")} == {"shop.audit.record", "shop.audit.purge"}
    os.utime(pyapp / "src/shop/views.py")  # touched, not changed: read, but not parsed again
    assert repo.update()["updated_files"] == 0
    (pyapp / "src/shop/cli.py").unlink()
    report = repo.update()
    assert report["deleted_files"] == 1 and repo.find_defs("main") == []
    assert "shop.cli.main" not in {c.caller for c in repo.callers_of("record")}


def test_an_edit_keeps_the_full_text_rows_of_unchanged_definitions(pyapp: Path, repo: Repo) -> None:
    """A changed file's definitions whose text is unchanged keep their full-text rows (same ids, not
    tokenized out and in again); an edited one gets a new row: search finds its new text, not its
    old, and no full-text row is left without its chunk."""
    q = "SELECT c.id, t.name, t.body FROM chunks c JOIN chunks_fts t ON t.rowid = c.id JOIN files f ON f.id = c.file_id WHERE f.path = ?"
    before = {name: (cid, body) for cid, name, body in repo.conn.execute(q, ("src/shop/audit.py",))}
    audit = pyapp / "src/shop/audit.py"
    text = audit.read_text()
    edited = next(name for name in before if name.startswith("record "))
    old_body = before[edited][1]  # a line into `record`; `_write` moves down a line
    audit.write_text(text.replace(old_body, old_body.replace("\n", "\n    zebramarker = 1\n", 1)))
    assert repo.update()["updated_files"] == 1
    after = {name: (cid, body) for cid, name, body in repo.conn.execute(q, ("src/shop/audit.py",))}
    assert after.keys() == before.keys() and len(after) > 2
    assert {n for n in after if after[n][0] == before[n][0]} == set(before) - {edited}
    assert [r[0] for r in repo.conn.execute("SELECT name FROM chunks_fts WHERE chunks_fts MATCH 'zebramarker'")] == [edited]
    assert repo.conn.execute("SELECT COUNT(*) FROM chunks_fts WHERE body = ?", (old_body,)).fetchone()[0] == 0
    assert repo.conn.execute("SELECT COUNT(*) FROM chunks_fts").fetchone() == repo.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()


def test_an_index_made_by_another_repo_rlm_is_extracted_and_resolved_again(pyapp: Path, repo: Repo, tmp_path: Path) -> None:
    """Facts and targets depend on the extractor and the resolvers, not only on the files: an index
    another version wrote (an upgrade, or a seed copied from an older clone's index) is redone."""
    from repo_rlm.index.build import index_version
    from tests.test_factcache import contents

    fresh = contents(tmp_path / "index.db")
    with repo.conn:  # what an older repo-rlm might have left: other facts, other targets
        repo.conn.execute("UPDATE meta SET value='0000' WHERE key='index_version'")
        repo.conn.execute("DELETE FROM symbols WHERE name='slugify'")
        repo.conn.execute("UPDATE calls SET target=NULL, resolution='name'")
    report = repo.update()
    assert report["updated_files"] == len(fresh["files"])  # every file read and extracted again
    assert report["resolved"]["files"] == sum(1 for row in fresh["files"] if row[1] not in ("text", "skipped"))
    assert contents(tmp_path / "index.db") == fresh
    assert repo.conn.execute("SELECT value FROM meta WHERE key='index_version'").fetchone() == (index_version(),)
    assert repo.update()["updated_files"] == 0  # stamped: the next check is stat-only again


def test_changed_module_re_resolves_its_importers(pyapp: Path, repo: Repo) -> None:
    helpers = pyapp / "src/shop/util/helpers.py"
    helpers.write_text(helpers.read_text().replace("def slugify", "def slugify_text"))
    repo.update()
    assert {c.caller for c in repo.callers_of("shop.util.helpers.slugify")} == set()
    helpers.write_text(helpers.read_text().replace("def slugify_text", "def slugify"))
    repo.update()
    assert {c.caller for c in repo.callers_of("shop.util.helpers.slugify")} == {"shop.views.outer.inner", "shop.cli.main"}


def test_plain_directory_without_git(tmp_path: Path) -> None:
    src = tmp_path / "plain"
    shutil.copytree(PYAPP, src)
    (src / ".gitignore").write_text("ignored/\n*.log\n")
    (src / "ignored").mkdir()
    (src / "ignored" / "x.py").write_text("def hidden(): pass\n")
    (src / "debug.log").write_text("noise")
    (src / "node_modules" / "lib").mkdir(parents=True)
    (src / "node_modules" / "lib" / "index.js").write_text("function vendored() {}\n")
    r = Repo.open(src, index_path=tmp_path / "i.db")
    assert r.find_defs("hidden") == [] and r.find_defs("vendored") == []
    assert [d.qualname for d in r.find_defs("record")] == ["shop.audit.record"]
    r.close()


def test_bad_input_is_counted_not_fatal(tmp_path: Path) -> None:
    src = tmp_path / "messy"
    src.mkdir()
    (src / "ok.py").write_text("def fine():\n    return 1\n")
    (src / "latin1.py").write_bytes(b"# caf\xe9\ndef bad_bytes():\n    return '\xff'\n")
    (src / "broken.py").write_text("def good():\n    return 1\n\ndef broken(:\n    pass\n\nclass AfterError:\n    pass\n")
    (src / "blob.py").write_bytes(b"\x00\x01binary" * 10)
    (src / "huge.py").write_text("x = 1\n" * 400_000)
    (src / "bundle.js").write_text("var a=" + "1+" * 50_000 + "1;")
    (src / "loop").symlink_to(src)
    (src / "dangling.py").symlink_to(src / "nowhere.py")
    os.mkfifo(src / "pipe.py")
    (src / "image.png").write_bytes(b"\x89PNG")
    r = Repo.open(src, index_path=tmp_path / "i.db")
    report = r.update()
    assert report["skipped"] == {"symlink_or_submodule": 2, "unsupported_type": 1, "not_a_regular_file": 1,
                                 "binary": 1, "too_large": 1, "minified": 1}
    assert r.stats["files"] == 3
    assert {d.name for d in r.find_defs("*")} >= {"fine", "bad_bytes", "good", "AfterError"}
    assert r.find_defs("bad_bytes")[0].path == "latin1.py"
    row = r.conn.execute("SELECT parse_error FROM files WHERE path='broken.py'").fetchone()
    assert row == (1,)
    skipped = dict(r.conn.execute("SELECT path, module FROM files WHERE lang='skipped'").fetchall())
    assert skipped == {"blob.py": "binary", "huge.py": "too_large", "bundle.js": "minified", "pipe.py": "not_a_regular_file"}
    assert report["updated_files"] == 0  # nothing changed since open(): skipped files are not read again
    r.close()
    out = subprocess.run(CLI + ["--repo", str(src), "--index", str(tmp_path / "i.db"), "index", "--json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["files"] == 3


@pytest.mark.parametrize("args, message", [
    (["--repo", "/does/not/exist", "defs", "x"], "repository path does not exist"),
    (["outline", "/etc/passwd"], "outside the repository"),
    (["outline", "nope.py"], "unknown file"),
    (["show", "src/shop/audit.py:900-901"], "out of range"),
    (["show", "src/shop/audit.py:x"], "bad location"),
    (["defs"], "the following arguments are required"),
    (["search", "x", "-k", "0"], "-k must be at least 1"),
    (["--frobnicate", "defs", "x"], "unrecognized arguments"),
])
def test_cli_bad_input_one_line_exit_2(pyapp: Path, tmp_path: Path, args: list[str], message: str) -> None:
    base = ["--repo", str(pyapp), "--index", str(tmp_path / "i.db")]
    out = subprocess.run(CLI + (args if args[0] == "--repo" else base + args), capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1 and message in out.stderr


def test_cli_json_shapes(pyapp: Path, tmp_path: Path) -> None:
    base = CLI + ["--repo", str(pyapp), "--index", str(tmp_path / "i.db")]

    def run(*args: str):
        out = subprocess.run(base + list(args) + ["--json"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    index = run("index")
    assert {"files", "symbols", "calls", "languages", "updated_files", "seconds", "index_path"} <= set(index)
    assert index["languages"]["python"] == 11
    (d,) = run("defs", "record")
    assert {k: d[k] for k in ("name", "qualname", "kind", "lang", "path", "start_line", "end_line", "signature")} == {
        "name": "record", "qualname": "shop.audit.record", "kind": "function", "lang": "python",
        "path": "src/shop/audit.py", "start_line": 4, "end_line": 5, "signature": "def record(event)"}
    callers = run("callers", "record")
    assert all({"caller", "callee", "path", "line", "column", "text", "resolution"} <= set(c) for c in callers)
    assert {c["caller"] for c in callers} == {"shop.models.User.save", "shop.services.notify", "shop.cli.main"}
    assert run("show", "src/shop/audit.py:4-5") == {"path": "src/shop/audit.py", "start_line": 4, "end_line": 5,
                                                    "text": "def record(event):\n    return _write(event)"}
    assert run("outline", "src/shop/audit.py")[0]["children"] == []
    assert run("refs", "record")[0].keys() == {"path", "line", "column", "text", "kind"}
    assert run("search", "audit trail", "-k", "3")[0].keys() == {"path", "start_line", "end_line", "symbol", "kind", "score"}
    assert run("defs", "no_such_thing") == []
    pycg = json.loads(subprocess.run(base + ["callgraph", "--format", "pycg"], capture_output=True, text=True).stdout)
    assert pycg["shop.views.outer"] == ["shop.views.outer.inner"]
    assert "shop.views" in pycg and "shop.models.Admin.grant" in pycg and pycg["shop.models.Admin.grant"] == []
    dot = subprocess.run(base + ["callgraph", "--format", "dot"], capture_output=True, text=True).stdout
    assert dot.startswith("digraph") and '"shop.views.outer" -> "shop.views.outer.inner";' in dot


def test_killed_build_leaves_previous_index_usable(pyapp: Path, tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    first = Repo.open(pyapp, index_path=db)
    before = first.stats["files"]
    first.close()
    gen = pyapp / "gen"
    gen.mkdir()
    for i in range(3000):
        (gen / f"m{i}.py").write_text("".join(f"def f{i}_{j}(x):\n    return record(x) + {j}\n\n" for j in range(30)))
    proc = subprocess.Popen(CLI + ["--repo", str(pyapp), "--index", str(db), "index"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    count = 0
    while time.time() < deadline and proc.poll() is None:
        try:
            with sqlite3.connect(db, timeout=1) as c:
                count = c.execute("SELECT COUNT(*) FROM files").fetchone()[0]
        except sqlite3.Error:
            pass
        if count > 400:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the build finished before it could be killed; make the tree bigger"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    r = Repo.open(pyapp, index_path=db, update=False)
    assert [d.qualname for d in r.find_defs("record")] == ["shop.audit.record"]
    assert r.stats["files"] > before  # the finished batches are there, whole
    assert r.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    report = r.update()  # and the next run finishes the job
    assert r.stats["files"] == before + 3000 and report["updated_files"] < 3000
    assert len(r.find_defs("f2999_29")) == 1
    r.close()


def test_reader_and_writer_at_once(pyapp: Path, tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    writer = Repo.open(pyapp, index_path=db)
    reader = Repo.open(pyapp, index_path=db, update=False, readonly=True)
    audit = pyapp / "src/shop/audit.py"
    for i in range(5):
        audit.write_text(audit.read_text() + f"\n\ndef extra{i}():\n    return record(1)\n")
        writer.update()
        assert [d.qualname for d in reader.find_defs("record")] == ["shop.audit.record"]
    assert len(reader.find_defs("extra*")) == 5
    with pytest.raises(RepoError):
        reader.update()


@pytest.mark.parametrize("files", [{}, {"logo.png": b"\x89PNG\r\n", "data.bin": b"\x00\x01"}], ids=["empty", "no-language"])
def test_empty_or_unsupported_repository(tmp_path: Path, files: dict[str, bytes]) -> None:
    src = tmp_path / "repo"
    src.mkdir()
    for name, data in files.items():
        (src / name).write_bytes(data)
    base = CLI + ["--repo", str(src), "--index", str(tmp_path / "i.db")]
    out = subprocess.run(base + ["index", "--json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert (report["files"], report["symbols"], report["calls"]) == (0, 0, 0)
    assert report["skipped"] == ({"unsupported_type": 2} if files else {})
    out = subprocess.run(base + ["defs", "anything", "--json"], capture_output=True, text=True, timeout=60)
    assert (out.returncode, json.loads(out.stdout)) == (0, [])
    out = subprocess.run(base + ["search", "anything"], capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout) == (0, "")


def test_navigation_never_imports_litellm(pyapp: Path, tmp_path: Path) -> None:
    code = ("import sys\nfrom repo_rlm import cli\n"
            f"rc = cli.main(['--repo', {str(pyapp)!r}, '--index', {str(tmp_path / 'i.db')!r}, 'defs', 'record'])\n"
            "print(rc, any(m == 'litellm' or m.startswith('litellm.') for m in sys.modules), file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stderr.strip().splitlines()[-1] == "0 False"
    assert "shop.audit.record" in out.stdout


def test_a_recheck_that_finds_nothing_imports_no_resolver(pyapp: Path, tmp_path: Path) -> None:
    """Start-up is most of a re-check's time: with nothing changed, `index` imports neither the
    resolvers nor multiprocessing (the process pool) nor asyncio (a report's model calls)."""
    base = ["--repo", str(pyapp), "--index", str(tmp_path / "i.db"), "index", "--json"]
    assert subprocess.run(CLI + base, capture_output=True, text=True, timeout=120).returncode == 0
    heavy = ("repo_rlm.index.resolve_python", "repo_rlm.index.resolve_generic", "multiprocessing", "asyncio")
    code = (f"import sys\nfrom repo_rlm import cli\nrc = cli.main({base!r})\n"
            f"print(rc, [m for m in {heavy!r} if m in sys.modules], file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stderr.strip().splitlines()[-1] == "0 []"
    assert json.loads(out.stdout)["updated_files"] == 0


@pytest.mark.parametrize("moved", [3, 80], ids=["few-rehashed", "many-asked-of-git"])
def test_files_touched_with_one_changed(pyapp: Path, tmp_path: Path, moved: int) -> None:
    """A checkout gives tracked files new mtimes with the same content: a few are hashed again,
    many are settled by git's index; either way only the changed one is parsed again, and the
    next check is stat-only."""
    gen = pyapp / "gen"
    gen.mkdir()
    for i in range(80):
        (gen / f"m{i}.py").write_text(f"def f{i}():\n    return {i}\n")
    git(pyapp, "add", "-A")
    git(pyapp, "commit", "-qm", "gen")
    repo = Repo.open(pyapp, index_path=tmp_path / "i.db")
    later = time.time() + 5
    for i in range(moved):
        os.utime(gen / f"m{i}.py", (later, later))
    (gen / "m7.py").write_text("def f7():\n    return 'seven'\n\ndef g7():\n    return f7()\n")
    report = repo.update()
    assert report["updated_files"] == 1
    assert [c.caller for c in repo.callers_of("f7")] == ["gen.m7.g7"]
    ix = Indexer(repo.root, repo.conn)
    assert ix._plan(None, ix._stored())[0] == []  # the touched ones had their stat remembered
    repo.close()


def _contents(db: Path) -> dict:
    """An index's rows, keyed by what they say rather than by row ids (which depend on write order)."""
    c = sqlite3.connect(db)
    q = lambda sql: sorted(c.execute(sql).fetchall())  # noqa: E731
    out = {
        "files": q("SELECT path, lang, module, blob, lines, parse_error, resolved FROM files"),
        "symbols": q("SELECT f.path, s.qualname, s.kind, s.start_line, s.end_line, s.name_col, s.signature, s.doc, "
                     "COALESCE(p.qualname, '') FROM symbols s JOIN files f ON f.id=s.file_id LEFT JOIN symbols p ON p.id=s.parent_id"),
        "calls": q("SELECT f.path, c.caller, c.callee_text, c.name, c.line, c.col, c.text FROM calls c "
                   "JOIN files f ON f.id=c.file_id WHERE c.is_new < 2"),
        "targets": q("SELECT DISTINCT f.path, c.line, c.col, COALESCE(c.target, '') FROM calls c JOIN files f ON f.id=c.file_id"),
        "imports": q("SELECT f.path, i.module, i.name, i.alias, i.line, i.level, COALESCE(i.target, '') FROM imports i "
                     "JOIN files f ON f.id=i.file_id"),
        "binds": q("SELECT f.path, b.name, b.kind, b.value, b.line FROM binds b JOIN files f ON f.id=b.file_id"),
        "search": q("SELECT f.path, ch.start_line, ch.end_line, t.name, t.body FROM chunks ch JOIN files f ON f.id=ch.file_id "
                    "JOIN chunks_fts t ON t.rowid=ch.id"),
        "found": q("SELECT f.path, ch.start_line FROM chunks_fts JOIN chunks ch ON ch.id=chunks_fts.rowid "
                   "JOIN files f ON f.id=ch.file_id WHERE chunks_fts MATCH 'record OR helper7'"),
        "indexes": q("SELECT name FROM sqlite_master WHERE type='index' AND name NOT LIKE 'sqlite_%'"),
    }
    c.close()
    return out


def test_bulk_load_of_an_empty_index_equals_small_updates(pyapp: Path, tmp_path: Path) -> None:
    """An empty index is filled without its secondary indexes, which are built once at the end (the
    target ones after resolution): the same rows, and every index, as updates too small for that."""
    from repo_rlm.index import store

    gen = pyapp / "src" / "shop" / "gen"
    gen.mkdir()
    (gen / "__init__.py").write_text("")
    n = store.BULK_FILES + 60
    for i in range(n):
        (gen / f"m{i}.py").write_text(
            f"from shop.audit import record\n\n\nclass C{i}:\n    def run(self, x):\n        return record(x) + helper{i}(x)\n\n\n"
            f"def helper{i}(x):\n    return C{i}().run(x) if x else [m for m in (record,)][0](x)\n")
    conn = store.connect(tmp_path / "bulk.db")
    store.init(conn)
    report = Indexer(pyapp, conn).update()  # one update of an empty index: the bulk load
    conn.close()
    assert report["updated_files"] > store.BULK_FILES
    conn = store.connect(tmp_path / "steps.db")
    store.init(conn)
    every = sorted(str(p.relative_to(pyapp)) for p in pyapp.rglob("*") if p.is_file() and ".git" not in p.parts)
    Indexer(pyapp, conn).update(paths=every[:store.BULK_FILES - 10])  # fewer files than a bulk load each time
    last = Indexer(pyapp, conn)
    last.update()
    last._resolve(None, None)  # every call resolved again at once, as after a bulk load (the write paths are compared)
    conn.close()
    bulk, steps = _contents(tmp_path / "bulk.db"), _contents(tmp_path / "steps.db")
    assert len(bulk["files"]) == n + 15 and {("src/shop/gen/m7.py", 6, 28, "shop.gen.m7.helper7"),
                                                 ("src/shop/gen/m7.py", 10, 17, "shop.gen.m7.C7.run")} <= set(bulk["targets"])
    assert len(bulk["indexes"]) == len(store._index_statements()) and ("calls_target",) in bulk["indexes"]
    for key in bulk:
        assert bulk[key] == steps[key], key
