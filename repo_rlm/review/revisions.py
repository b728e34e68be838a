"""The two sides of a review, from git: revisions, changed files, added lines, checkouts.

The base (and the head, unless it is the work tree's clean HEAD) is checked out from git objects
into a worktree in the user cache directory, never into the user's work tree, and indexed
there with the normal Indexer into its own index. Both stay in the cache: the next review moves
them to the new commits and re-parses only the files that differ. A first checkout's index is
seeded from a copy of the work tree's index, so only files that differ from it are parsed.
"""
from __future__ import annotations

import codecs
import fcntl
import hashlib
import re
import shutil
import sqlite3
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..index.git import run as run_git
from ..query.diff import FileChange

DEFAULT_BRANCHES = ("origin/HEAD", "main", "master", "origin/main", "origin/master")
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


class RevisionError(Exception):
    """Bad input about revisions (exit 2): unknown revision, missing history, no default branch."""


def git(root: Path, *args: str, check: bool = True, raw: bool = False):
    """Run git in `root` (str output, bytes with `raw`); hooks and LFS downloads are off. Raises
    RevisionError on failure. The one place this front end runs git."""
    try:
        out = run_git(list(args), root, timeout=300, config=[("core.quotePath", "false")],
                      env={"LC_ALL": "C", "GIT_LFS_SKIP_SMUDGE": "1"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RevisionError(f"git failed: {exc}") from None
    if check and out.returncode != 0:
        err = out.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RevisionError(f"git {args[0]} failed: {err[-1] if err else 'exit ' + str(out.returncode)}")
    return out.stdout if raw else out.stdout.decode("utf-8", "surrogateescape")


def _ok(root: Path, *args: str) -> str | None:
    try:
        return git(root, *args).strip() or None
    except RevisionError:
        return None


def is_shallow(root: Path) -> bool:
    return _ok(root, "rev-parse", "--is-shallow-repository") == "true"


FETCH_HINT = ("fetch more history (`git fetch --deepen=100 origin`, `git fetch --unshallow`; "
              "in GitHub Actions: actions/checkout with `fetch-depth: 0`)")


def resolve(root: Path, rev: str) -> str:
    """The commit id `rev` names; RevisionError with one clear line when it names none."""
    if not rev or rev.startswith("-") or "\0" in rev or "\n" in rev:
        raise RevisionError(f"bad revision: {rev!r}")
    sha = _ok(root, "rev-parse", "--verify", "--quiet", rev + "^{commit}")
    if sha:
        return sha
    if is_shallow(root):
        raise RevisionError(f"revision {rev!r} is not in this shallow clone; {FETCH_HINT}")
    raise RevisionError(f"unknown revision: {rev}")


def default_base(root: Path, head: str) -> str:
    """The merge-base of head with the default branch (origin/HEAD, else main, else master)."""
    for branch in DEFAULT_BRANCHES:
        tip = _ok(root, "rev-parse", "--verify", "--quiet", branch + "^{commit}")
        if not tip:
            continue
        base = _ok(root, "merge-base", tip, head)
        if base:
            return base
        if is_shallow(root):
            raise RevisionError(f"no merge-base of {branch} and the head in this shallow clone; {FETCH_HINT}")
        raise RevisionError(f"{branch} and the head share no history; pass --base REF")
    if is_shallow(root):
        raise RevisionError(f"no default branch (origin/HEAD, main, master) in this shallow clone; pass --base REF or {FETCH_HINT}")
    raise RevisionError("no default branch found (origin/HEAD, main, master); pass --base REF")


def changed_files(root: Path, base: str, head: str) -> list[FileChange]:
    """Files that differ between two commits; renames detected (50% similarity), binaries marked."""
    out = git(root, "diff", "--no-ext-diff", "--no-textconv", "--name-status", "-z", "-M", base, head, "--")
    parts = out.split("\0")
    binary = set()
    num = git(root, "diff", "--no-ext-diff", "--no-textconv", "--numstat", "-z", "-M", base, head, "--").split("\0")
    i = 0
    while i < len(num):
        rec = num[i]
        if not rec:
            i += 1
            continue
        added, deleted, path = rec.split("\t", 2)
        if path == "":  # a rename: old and new path follow
            path = num[i + 2]
            i += 2
        if added == "-" and deleted == "-":
            binary.add(path)
        i += 1
    files, i = [], 0
    while i < len(parts):
        st = parts[i]
        if not st:
            i += 1
            continue
        code = st[0]
        if code in "RC":
            old, new = parts[i + 1], parts[i + 2]
            i += 3
            files.append(FileChange("renamed" if code == "R" else "copied", new, old if code == "R" else "", new in binary))
            continue
        path = parts[i + 1]
        i += 2
        if code == "A":
            files.append(FileChange("added", path, "", path in binary))
        elif code == "D":
            files.append(FileChange("deleted", "", path, path in binary))
        else:
            files.append(FileChange("modified", path, path, path in binary))
    return files


def added_lines(root: Path, base: str, head: str) -> dict[str, set[int]]:
    """Head path -> the lines the diff adds or changes (the lines GitHub takes inline comments on)."""
    out = git(root, "diff", "--no-ext-diff", "--no-textconv", "--no-color", "-U0", "-M",
              "--src-prefix=a/", "--dst-prefix=b/", base, head, "--")
    lines: dict[str, set[int]] = {}
    path = None
    for ln in out.split("\n"):
        if ln.startswith("+++ "):
            name = ln[4:]
            if name.startswith('"'):
                name = codecs.escape_decode(name[1:-1].encode("utf-8", "surrogateescape"))[0].decode("utf-8", "replace")
            path = name[2:] if name.startswith("b/") else None
            continue
        m = _HUNK.match(ln)
        if m and path is not None:
            start, count = int(m.group(1)), int(m.group(2) if m.group(2) is not None else 1)
            lines.setdefault(path, set()).update(range(start, start + count))
    return lines


def head_is_worktree(root: Path, head: str) -> bool:
    """True when the work tree is at `head` with no change to tracked files: index it in place."""
    return _ok(root, "rev-parse", "HEAD") == head and \
        git(root, "status", "--porcelain", "--untracked-files=no", check=False).strip() == ""


def cache_dir(root: Path) -> Path:
    import platformdirs

    key = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:12]
    return Path(platformdirs.user_cache_dir("repo-rlm")) / "review" / f"{root.resolve().name}-{key}"


@contextmanager
def locked(root: Path) -> Iterator[Path]:
    """The review cache of this repository, held for this process (two reviews do not share a checkout)."""
    d = cache_dir(root)
    d.mkdir(parents=True, exist_ok=True)
    with open(d / "lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield d
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def checkout(root: Path, cache: Path, slot: str, commit: str) -> Path:
    """A detached worktree of `commit` at cache/slot, created or moved there; untracked files removed."""
    wt = cache / slot
    if wt.exists() and _ok(wt, "rev-parse", "--is-inside-work-tree") == "true" and (wt / ".git").is_file():
        try:
            git(wt, "checkout", "--quiet", "--detach", "--force", commit)
            git(wt, "clean", "-q", "-f", "-d", "-x")
            return wt
        except RevisionError:
            pass  # a broken checkout (an interrupted run, a stale lock): start it again
    if wt.exists():
        shutil.rmtree(wt)
    try:
        git(root, "worktree", "prune")
        git(root, "worktree", "add", "--quiet", "--detach", "--force", str(wt), commit)
    except RevisionError:  # a read-only repository: a plain copy of the tree (indexed in full)
        if wt.exists():
            shutil.rmtree(wt)
        _archive(root, commit, wt)
    return wt


def _archive(root: Path, commit: str, dest: Path) -> None:
    """Extract `commit`'s tree into dest with `git archive` (no symlinks or special files kept)."""
    import io
    import tarfile

    data = git(root, "archive", "--format=tar", commit, raw=True)
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = [m for m in tar.getmembers() if (m.isfile() or m.isdir()) and not m.name.startswith(("/", "..")) and
                   ".." not in m.name.split("/")]
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # Python 3.10.12+/3.11.4+
        tar.extractall(dest, members=members, **safe)


def seed_index(source: Path | None, target: Path) -> None:
    """Start a checkout's index as a copy of the work tree's (same files need no parsing again)."""
    if target.exists() or source is None or not source.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        dst = sqlite3.connect(str(target))
        with dst:
            src.backup(dst)
        src.close()
        dst.close()
    except sqlite3.Error:
        target.unlink(missing_ok=True)
