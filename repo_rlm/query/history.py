"""Churn and ownership from git history: commits and authors per file over a window of commits.

One `git log --name-only` over the last WINDOW commits (no merges, no rename detection: both
cost time and add little to a hot-spot ranking). A directory that is not a git work tree, or
one with no commits, has no history; callers say so instead of guessing.
"""
from __future__ import annotations

import subprocess
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..index import git

WINDOW = 1000  # commits
GIT_TIMEOUT_S = 60


class NoHistory(Exception):
    """No git history to read (not a work tree, no commits, git missing); the message says which."""


def _git(root: Path, *args: str) -> str:
    try:
        out = git.run(list(args), root, text=True, timeout=GIT_TIMEOUT_S, config=[("core.quotePath", "false")],
                      env={"LC_ALL": "C"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NoHistory(f"git failed: {exc}") from None
    if out.returncode != 0:
        msg = out.stderr.strip().splitlines()
        raise NoHistory(msg[-1] if msg else "git failed")
    return out.stdout


def head_commit(root: Path) -> str | None:
    """The commit checked out, or None outside git / before the first commit."""
    try:
        return _git(root, "rev-parse", "--verify", "-q", "HEAD").strip() or None
    except NoHistory:
        return None


@dataclass
class FileHistory:
    commits: int = 0
    authors: Counter = field(default_factory=Counter)


@dataclass
class History:
    commits: int                       # commits read (at most WINDOW)
    since: str                         # date of the oldest commit read (ISO)
    files: dict[str, FileHistory]

    def hotspots(self, n: int = 20, only: set[str] | None = None) -> list[dict]:
        """The files changed most often in the window (ties by path), with their authors and main owner."""
        items = [(p, h) for p, h in self.files.items() if only is None or p in only]
        items.sort(key=lambda x: (-x[1].commits, x[0]))
        return [{"path": p, "commits": h.commits, "authors": len(h.authors), "owner": _owner(h.authors)}
                for p, h in items[:n]]

    def ownership(self, groups: dict[str, list[str]]) -> dict[str, dict]:
        """Per group of files (a module): commits touching it, authors, and the main owner with its share."""
        out = {}
        for name, paths in groups.items():
            c: Counter = Counter()
            commits = 0
            for p in paths:
                h = self.files.get(p)
                if h:
                    c.update(h.authors)
                    commits += h.commits
            if commits:
                owner = _owner(c)
                out[name] = {"changes": commits, "authors": len(c), "owner": owner,
                             "owner_share": round(c[owner] / sum(c.values()), 2)}
        return out


def _owner(c: Counter) -> str:
    return min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] if c else ""


def read_history(root: Path, window: int = WINDOW) -> History:
    """Commits and authors per file over the last `window` commits of HEAD."""
    if head_commit(root) is None:
        raise NoHistory("no git history (not a git work tree, or no commits yet)")
    text = _git(root, "log", f"-n{int(window)}", "--no-show-signature", "--no-merges", "--no-renames", "--relative", "--format=%x1e%an%x1f%aI", "--name-only")
    files: dict[str, FileHistory] = defaultdict(FileHistory)
    commits, since = 0, ""
    for chunk in text.split("\x1e"):
        if not chunk.strip():
            continue
        head, _, names = chunk.partition("\n")
        author, _, date = head.partition("\x1f")
        commits += 1
        since = date.strip()
        for p in names.splitlines():
            p = p.strip()
            if p:
                h = files[p]
                h.commits += 1
                h.authors[author] += 1
    return History(commits, since, dict(files))
