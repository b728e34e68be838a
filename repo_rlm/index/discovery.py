"""Which files make up the repository: what git sees, or a .gitignore-aware walk without git.

Tracked files carry git's blob id from its index: the indexer compares sizes and mtimes first,
and where they moved, git's blob and `git diff-files` tell whether the content really changed,
so re-checking an unchanged repository reads no file.
"""
from __future__ import annotations

import os
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from . import git
from .languages import language_for

# Directories that hold vendored code, build output or tool caches, never the project's own.
SKIP_DIRS = {
    "node_modules", "bower_components", "vendor", "third_party", "third-party", "dist", "build",
    "out", "target", ".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "site-packages",
    ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".next", ".nuxt", "coverage",
    ".gradle", ".idea", ".vscode-test", "Pods", ".eggs",
}
MINIFIED_SUFFIXES = (".min.js", ".min.css", ".bundle.js", ".min.mjs")


@dataclass
class Discovered:
    """path -> git blob id (None when the content must be hashed), plus what was skipped."""

    files: dict[str, str | None] = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)


def _git(root: Path, *args: str) -> bytes:
    return git.run(args, root, check=True, timeout=300).stdout


def inside(root: Path, rel: str, dirs: dict[str, str | None] | None = None) -> Path | None:
    """root/rel with every symlink resolved, when that stays inside root; None when it leads out.

    A repository may commit symlinks to anywhere (`passwd.py -> /etc/passwd`): every read of a
    repository file goes through here. `dirs`: a cache of resolved directories for one pass over
    many files (grep), so each directory is resolved once and each file costs one lstat."""
    if dirs is None:
        return _within(os.path.realpath(root), os.path.join(root, rel))
    top = dirs.get("\0")
    if top is None:
        top = dirs["\0"] = os.path.realpath(root)
    parent, _, _name = rel.rpartition("/")
    if parent not in dirs:
        found = _within(top, os.path.join(top, parent))
        dirs[parent] = str(found) if found is not None else None
    real_dir = dirs[parent]
    if real_dir is None:
        return None
    full = os.path.join(real_dir, _name)
    return Path(full) if not os.path.islink(full) else _within(top, full)


def _within(top: str, path: str) -> Path | None:
    real = os.path.realpath(path)
    return Path(real) if real == top or real.startswith(top.rstrip(os.sep) + os.sep) else None


def skip_reason(path: str) -> str | None:
    """Why a path is not indexed, judged from its name alone (None: keep it)."""
    if not path.isprintable() and any(0xD800 <= ord(c) < 0xE000 for c in path):
        return "bad_file_name"  # bytes that are not UTF-8 (surrogate-escaped): the index stores text
    parts = path.split("/")
    if any(p in SKIP_DIRS for p in parts[:-1]):
        return "vendored_or_generated_dir"
    if path.endswith(MINIFIED_SUFFIXES):
        return "minified"
    if language_for(path) is None:
        return "unsupported_type"
    return None


def discover(root: Path) -> Discovered:
    if git.toplevel(root) is not None:
        try:
            return _discover_git(root)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError):
            pass  # a broken repository: fall back to walking it
    return _discover_walk(root)


def root_commits(root: Path) -> str | None:
    """The root commit of HEAD's first-parent history and the directory indexed within the work tree:
    the same for every clone of a repository (and the same subdirectory). First-parent only: walking
    every merged history (sympy: 50k commits) costs several times more on a fresh clone."""
    if git.toplevel(root) is None:
        return None
    try:
        out = _git(root, "rev-list", "--max-parents=0", "--first-parent", "HEAD").decode().split()
        prefix = _git(root, "rev-parse", "--show-prefix").decode("utf-8", "surrogateescape").strip()
    except (subprocess.CalledProcessError, OSError):
        return None
    return f"{','.join(sorted(out))}:{prefix}" if out else None


def git_modified(root: Path) -> set[str]:
    """Tracked files whose work-tree copy differs from git's index (or is gone)."""
    try:
        out = _git(root, "diff-files", "--relative", "--name-only", "-z")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError):
        return set()
    return set(out.decode("utf-8", "surrogateescape").split("\0")) - {""}


def _discover_git(root: Path) -> Discovered:
    """Tracked files with git's blob id, and untracked files that are not ignored (blob None)."""
    out = Discovered()
    for rec in _git(root, "ls-files", "-s", "-z").decode("utf-8", "surrogateescape").split("\0"):
        if not rec:
            continue
        meta, path = rec.split("\t", 1)
        mode, blob, stage = meta.split(" ")
        if mode in ("120000", "160000"):
            out.skipped["symlink_or_submodule"] += 1
            continue
        if stage != "0" and path in out.files:
            continue
        reason = skip_reason(path)
        if reason:
            out.skipped[reason] += 1
            continue
        out.files[path] = blob if stage == "0" else None
    for path in _git(root, "ls-files", "-o", "--exclude-standard", "-z").decode("utf-8", "surrogateescape").split("\0"):
        if not path:
            continue
        reason = skip_reason(path)
        if reason:
            out.skipped[reason] += 1
        elif os.path.islink(root / path):
            out.skipped["symlink_or_submodule"] += 1
        else:
            out.files[path] = None
    return out


def _discover_walk(root: Path) -> Discovered:
    """Walk a plain directory, honouring nested .gitignore files; symlinks are never followed."""
    import pathspec

    out = Discovered()
    specs: list[tuple[str, pathspec.PathSpec]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        if ".gitignore" in filenames:
            try:
                lines = (Path(dirpath) / ".gitignore").read_text(errors="replace").splitlines()
                specs.append((rel_dir, pathspec.GitIgnoreSpec.from_lines(lines)))
            except OSError:
                pass

        def ignored(rel: str, is_dir: bool) -> bool:
            for base, spec in specs:
                if rel.startswith(base) and spec.match_file(rel[len(base):] + ("/" if is_dir else "")):
                    return True
            return False

        keep = []
        for d in dirnames:
            rel = rel_dir + d
            if d in SKIP_DIRS:
                out.skipped["vendored_or_generated_dir"] += 1
            elif os.path.islink(os.path.join(dirpath, d)):
                out.skipped["symlink_or_submodule"] += 1
            elif not ignored(rel, True):
                keep.append(d)
        dirnames[:] = sorted(keep)
        for f in filenames:
            rel = rel_dir + f
            if ignored(rel, False):
                continue
            if os.path.islink(os.path.join(dirpath, f)):
                out.skipped["symlink_or_submodule"] += 1
                continue
            reason = skip_reason(rel)
            if reason:
                out.skipped[reason] += 1
            else:
                out.files[rel] = None
    return out


BINARY_PROBE_BYTES = 8192


def looks_binary(data: bytes) -> bool:
    """A NUL byte near the start, git's test: such files are neither indexed nor shown as text."""
    return b"\0" in data[:BINARY_PROBE_BYTES]
