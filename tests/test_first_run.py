"""What a new user meets on the command line: index scope outside git, a corrupt index, progress
in logs, empty results, bad kinds, and global options written after the subcommand."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYAPP = ROOT / "fixtures" / "pyapp"
CLI = [sys.executable, "-m", "repo_rlm.cli"]


def run(cwd: Path, *args: str, home: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, XDG_CACHE_HOME=str(cwd.parent / "cache"), HOME=str(home or cwd.parent / "home"))
    env.pop("REPO_RLM_INDEX", None)
    return subprocess.run(CLI + list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture()
def plain(tmp_path: Path) -> Path:
    """The Python fixture as a plain directory (no git)."""
    dst = tmp_path / "proj"
    shutil.copytree(PYAPP, dst)
    return dst


def test_plain_directory_is_indexed_and_said(plain: Path) -> None:
    r = run(plain, "defs", "slugify")
    assert r.returncode == 0, r.stderr
    assert f"not in a git repository: indexing {plain}" in r.stderr
    assert "shop.util.helpers.slugify" in r.stdout
    again = run(plain, "defs", "slugify")
    assert "not in a git repository" not in again.stderr  # said once, when the index is made


def test_home_directory_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "project").mkdir(parents=True)
    (home / "project" / "a.py").write_text("def f():\n    pass\n")
    r = run(home, "defs", "f", home=home)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "--repo" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").rglob("*.db"))
    ok = run(home, "--repo", str(home / "project"), "defs", "f", home=home)  # an explicit --repo is taken
    assert ok.returncode == 0 and "a.py:1" in ok.stdout


def test_too_many_files_outside_git_is_refused(tmp_path: Path) -> None:
    from repo_rlm.query.repo import PLAIN_DIR_FILE_LIMIT

    big = tmp_path / "scratch"
    for i in range(PLAIN_DIR_FILE_LIMIT // 1000 + 1):
        d = big / f"p{i}"
        d.mkdir(parents=True)
        for j in range(1000):
            (d / f"f{j}.txt").touch()
    r = run(big, "defs", "x")
    assert r.returncode == 2 and "--repo" in r.stderr and f"{PLAIN_DIR_FILE_LIMIT:,}" in r.stderr


def _corrupt(db: Path) -> None:
    """Overwrite every b-tree page header after the first two pages: SQLite then reports
    'database disk image is malformed'."""
    page = sqlite3.connect(db).execute("PRAGMA page_size").fetchone()[0]
    with open(db, "r+b") as f:
        for off in range(2 * page, db.stat().st_size, page):
            f.seek(off)
            f.write(b"\x0d\xff\xff\xff\xff\xff\xff\xff")


def test_corrupt_index_is_set_aside_and_rebuilt(plain: Path, tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    assert run(plain, "--index", str(db), "index").returncode == 0
    sqlite3.connect(db).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    _corrupt(db)
    r = run(plain, "--index", str(db), "defs", "slugify")
    assert r.returncode == 0, r.stderr
    assert "corrupt" in r.stderr and "rebuilding" in r.stderr
    assert "shop.util.helpers.slugify" in r.stdout
    assert [p.name for p in tmp_path.glob("i.db.corrupt-*") if not p.name.endswith(("-wal", "-shm"))]
    # --rebuild starts over from nothing, on request
    r = run(plain, "index", "--rebuild", "--index", str(db))
    assert r.returncode == 0 and "rebuilding the index" in r.stderr and "14 files" in r.stdout


def test_progress_lines_when_not_a_terminal(tmp_path: Path) -> None:
    proj = tmp_path / "many"
    proj.mkdir()
    for i in range(220):
        (proj / f"m{i}.py").write_text(f"def f{i}():\n    return f{(i + 1) % 220}()\n")
    r = run(proj, "index")
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("repo-rlm: ")]
    assert "repo-rlm: indexing 220/220 files" in "\n".join(lines)
    assert any("resolv" in ln for ln in lines) and "0/1" not in r.stderr


def test_empty_results_and_bad_kind(plain: Path) -> None:
    r = run(plain, "defs", "nosuchthing")
    assert r.returncode == 0 and r.stdout == "" and "no definitions match 'nosuchthing'" in r.stderr
    r = run(plain, "defs", "slugify", "--kind", "bogus")
    assert r.returncode == 2 and "valid kinds: function, method, class" in r.stderr
    r = run(plain, "callers", "nosuchthing")
    assert r.returncode == 0 and r.stdout == "" and "no call sites" in r.stderr


def test_global_options_after_the_subcommand(plain: Path, tmp_path: Path) -> None:
    db = tmp_path / "after.db"
    r = run(tmp_path, "defs", "slugify", "--repo", str(plain), "--index", str(db), "--json")
    assert r.returncode == 0, r.stderr
    assert db.exists() and "shop.util.helpers.slugify" in r.stdout
    before = run(tmp_path, "--repo", str(plain), "--index", str(db), "defs", "slugify", "--json")
    assert before.stdout == r.stdout
