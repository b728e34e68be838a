"""Hostile input (issue 7, input items): each test builds the attack against the real code path
(real git, the CLI as a process, the language server over stdio) and checks it is blocked and
nothing is lost."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lsprotocol import types as T
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig

from repo_rlm.query.repo import Repo

CLI = [sys.executable, "-m", "repo_rlm.cli"]


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                   capture_output=True)


def cli_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPO_RLM_")}
    env.update(XDG_CACHE_HOME=str(tmp / "cache"), PYTHONUNBUFFERED="1")
    return env


def cli(tmp: Path, *args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=cli_env(tmp), cwd=cwd or tmp,
                          timeout=timeout)


# ------------------------------------------------------------------ 2: git config that runs programs


@pytest.fixture()
def trapped(tmp_path: Path) -> tuple[Path, Path]:
    """A repository whose .git/config runs a script (that leaves a marker file) from every key git
    offers: fsmonitor, a clean/smudge filter and a textconv chosen by .gitattributes, hooks, a pager,
    an external diff, gpg for log.showSignature."""
    marker = tmp_path / "marker"
    script = tmp_path / "evil.sh"
    script.write_text(f"#!/bin/sh\necho \"$0 $*\" >> {marker}\n")
    script.chmod(0o755)
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    (root / "app.py").write_text("def handler(x):\n    return helper(x)\n\n\ndef helper(x):\n    return x\n")
    for i in range(70):  # enough tracked files that a re-check asks `git diff-files`
        (root / f"m{i}.py").write_text(f"def f{i}():\n    return {i}\n")
    (root / ".gitattributes").write_text("* filter=evil diff=evil\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "init")
    hooks = root / ".git" / "hooks"
    for hook in ("post-index-change", "reference-transaction", "post-checkout"):
        (hooks / hook).write_text(f"#!/bin/sh\necho hook >> {marker}\n")
        (hooks / hook).chmod(0o755)
    for key, value in (("core.fsmonitor", script), ("filter.evil.clean", script), ("filter.evil.smudge", script),
                       ("filter.evil.process", script), ("filter.evil.required", "true"),
                       ("diff.evil.textconv", script), ("diff.evil.command", script), ("diff.external", script),
                       ("core.pager", script), ("pager.log", script), ("pager.blame", script),
                       ("log.showSignature", "true"), ("gpg.program", script), ("core.editor", script)):
        git(root, "config", key, str(value))
    return root, marker


def test_the_trap_is_real(trapped):
    """Plain git commands in the trapped repository do run the script (so the tests below mean something)."""
    root, marker = trapped
    subprocess.run(["git", "ls-files"], cwd=root, capture_output=True)
    assert marker.exists()
    marker.unlink()
    subprocess.run(["git", "blame", "--", "app.py"], cwd=root, capture_output=True)
    assert marker.exists()


def test_index_and_queries_never_run_repository_config(trapped, tmp_path):
    root, marker = trapped
    r = cli(tmp_path, "--repo", str(root), "index", "--json")
    assert r.returncode == 0, r.stderr
    assert '"files": 71' in r.stdout  # discovered through git, not a fallback walk
    for p in root.glob("m*.py"):  # stat-dirty: the re-check goes through `git diff-files`
        os.utime(p, (time.time() + 5, time.time() + 5))
    r = cli(tmp_path, "--repo", str(root), "defs", "helper")
    assert r.returncode == 0 and "app.py:5-6" in r.stdout, r.stderr
    r = cli(tmp_path, "--repo", str(root), "callers", "helper", cwd=root)
    assert r.returncode == 0 and "handler" in r.stdout, r.stderr
    (root / "app.py").write_text((root / "app.py").read_text() + "# edited\n")  # blame reads the work tree
    repo = Repo.open(root, index_path=tmp_path / "q.db")
    try:
        assert [c.subject for c in repo.git_log("app.py")] == ["init"]
        assert len(repo.blame("app.py", 1, 7)) == 7
    finally:
        repo.close()
    assert not marker.exists(), marker.read_text()


async def test_language_server_start_never_runs_repository_config(trapped, tmp_path):
    root, marker = trapped
    config = ClientServerConfig(server_command=[sys.executable, "-m", "lsp_server", "--stdio", "--index",
                                                str(tmp_path / "lsp.db")], server_env=cli_env(tmp_path))
    client = await config.start()
    try:
        await client.initialize_session(T.InitializeParams(capabilities=T.ClientCapabilities(),
                                                           root_uri=from_fs_path(str(root))))
        deadline = time.monotonic() + 60
        found = []
        while not found and time.monotonic() < deadline:  # answers once the build has indexed app.py
            found = await asyncio.wait_for(
                client.workspace_symbol_async(T.WorkspaceSymbolParams(query="helper")), 30) or []
            await asyncio.sleep(0.1)
        assert [s.name for s in found] == ["helper"]
    finally:
        await client.shutdown_session()
        await client.stop()
    assert not marker.exists(), marker.read_text()
