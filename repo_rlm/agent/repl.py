"""The engine's side of the REPL: starts the sandboxed worker, runs cells, serves sub-calls.

A cell that runs past its wall-time limit, or kills its worker (memory, CPU, signals), is
reported as an error and a fresh worker is started; the model is told its namespace was reset.
"""
from __future__ import annotations

import asyncio
import collections
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

from repo_rlm.agent.sandbox import Limits, PidsCgroup, RlimitSandbox, Sandbox, make_sandbox, warn_once

CallHandler = Callable[[str, dict[str, Any]], Awaitable[Any]]


class ReplError(Exception):
    """The worker could not start (the message is one line)."""


@dataclass
class CellResult:
    output: str
    error: str | None = None
    final: str | None = None
    names: list[str] = field(default_factory=list)
    seconds: float = 0.0
    reset: bool = False


def _gitdirs(root: Path) -> list[Path]:
    """The git directory git_log and blame need, when it is not `root/.git` itself: the `.git` of an
    enclosing work tree (the repository is a subfolder), or what a worktree's or submodule's `.git`
    file points to."""
    dot = root / ".git"
    if not dot.exists():
        from ..index.discovery import git_toplevel

        top = git_toplevel(root)
        if top is None or not (top / ".git").exists() or top.resolve() == root.resolve():
            return []
        return [top / ".git", *_gitdirs(top)]
    if not dot.is_file():
        return []
    try:
        line = dot.read_text().strip()
    except OSError:
        return []
    if not line.startswith("gitdir:"):
        return []
    gitdir = (root / line[7:].strip()).resolve()
    common = gitdir / "commondir"
    out = [gitdir]
    if common.is_file():
        out.append((gitdir / common.read_text().strip()).resolve())
    return out


class Repl:
    def __init__(self, *, root: Path | None = None, index_path: Path | None = None,
                 context_text: str | None = None, limits: Limits | None = None,
                 on_call: CallHandler | None = None, sandbox: str | None = None):
        self.root, self.index_path, self.limits = root, index_path, limits or Limits()
        self.on_call = on_call
        self._tmp = Path(tempfile.mkdtemp(prefix="repo-rlm-repl-"))
        self.scratch = self._tmp / "scratch"
        self.scratch.mkdir()
        ro: list[Path] = []
        self._context_file: Path | None = None
        if context_text is not None:
            ctx_dir = self._tmp / "context"
            ctx_dir.mkdir()
            self._context_file = ctx_dir / "context.txt"
            self._context_file.write_text(context_text, encoding="utf-8")
            ro.append(ctx_dir)
        if root is not None:
            ro += [Path(root).resolve()] + _gitdirs(Path(root).resolve())
        if index_path is not None:
            ip = Path(index_path).resolve()
            ro += [ip] + [Path(str(ip) + s) for s in ("-wal", "-shm", ".vectors")]  # .vectors: semantic_search
        self.sandbox: Sandbox = make_sandbox(self.scratch, ro, self.limits, sandbox)
        self.proc: asyncio.subprocess.Process | None = None
        self._cgroup: PidsCgroup | None = None
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)
        self._stderr_task: asyncio.Task | None = None

    def _worker_argv(self) -> list[str]:
        argv = [sys.executable, "-s", "-m", "repo_rlm.agent.repl_worker", *self.limits.worker_args()]
        if self._context_file is not None:
            argv += ["--context", str(self._context_file)]
        else:
            if self.root is not None:
                argv += ["--root", str(Path(self.root).resolve())]
            if self.index_path is not None:
                argv += ["--index", str(Path(self.index_path).resolve())]
        if isinstance(self.sandbox, RlimitSandbox):
            argv.append("--count-user-procs")
        return argv

    async def start(self) -> list[str]:
        """Start a worker; returns the names it defines. Raises ReplError."""
        argv, env, cwd = self.sandbox.command(self._worker_argv())
        self._cgroup = PidsCgroup(self.limits.nproc)
        if self._cgroup.path is None and os.geteuid() == 0:
            warn_once("running as root without a writable pids cgroup: the REPL's process count is not limited")
        argv = self._cgroup.wrap(argv)
        self.proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env, cwd=cwd, start_new_session=True, limit=64 * 1024 ** 2)
        self._stderr_task = asyncio.ensure_future(self._drain(self.proc.stderr))
        msg = await self._read(timeout=60)
        if msg is None or msg.get("type") != "ready" or msg.get("error"):
            err = (msg or {}).get("error") or f"the REPL worker exited at start: {self.stderr_tail()}"
            self.kill()
            raise ReplError(err)
        return msg.get("names", [])

    async def _drain(self, stream: asyncio.StreamReader | None) -> None:
        if stream is None:
            return
        while True:
            line = await stream.readline()
            if not line:
                return
            self._stderr.append(line.decode(errors="replace").rstrip())

    def stderr_tail(self) -> str:
        return " | ".join(list(self._stderr)[-5:])[-600:] or "no output"

    async def _read(self, timeout: float) -> dict[str, Any] | None:
        assert self.proc and self.proc.stdout
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        except asyncio.TimeoutError:
            raise
        except (ValueError, asyncio.LimitOverrunError):
            return None
        if not line:
            return None
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            return None

    async def _write(self, msg: dict[str, Any]) -> None:
        assert self.proc and self.proc.stdin
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        await self.proc.stdin.drain()

    async def run_cell(self, code: str) -> CellResult:
        """Run one cell; sub-call time does not count against the cell's wall-time limit."""
        if self.proc is None or self.proc.returncode is not None:
            await self.start()
        start = time.monotonic()
        deadline = start + self.limits.cell_timeout_s
        try:
            await self._write({"type": "exec", "code": code})
            while True:
                msg = await self._read(timeout=max(0.01, deadline - time.monotonic()))
                if msg is None:
                    await self.wait()
                    return await self._reset(start, self._death_reason())
                if msg.get("type") == "result":
                    return CellResult(msg.get("output", ""), msg.get("error"), msg.get("final"),
                                      msg.get("names", []), time.monotonic() - start)
                if msg.get("type") == "call":
                    paused = time.monotonic()
                    reply = await self._serve(msg)
                    deadline += time.monotonic() - paused
                    await self._write(reply)
        except asyncio.TimeoutError:
            return await self._reset(start, f"the cell ran past its {self.limits.cell_timeout_s:g} s wall-time limit")
        except (BrokenPipeError, ConnectionResetError):
            await self.wait()
            return await self._reset(start, self._death_reason())

    async def _serve(self, msg: dict[str, Any]) -> dict[str, Any]:
        op = msg.pop("op", "")
        if self.on_call is None:
            return {"type": "reply", "error": "sub-calls are not available here"}
        try:
            return {"type": "reply", "result": await self.on_call(op, msg)}
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - becomes an exception inside the cell
            return {"type": "reply", "error": " ".join(str(exc).split()) or type(exc).__name__}

    def _death_reason(self) -> str:
        rc = self.proc.returncode if self.proc else None
        sig = -rc if rc is not None and rc < 0 else (rc - 128 if rc is not None and 128 < rc < 160 else 0)
        if sig:  # bubblewrap reports a signalled child as 128 + N
            try:
                name = signal.Signals(sig).name
            except ValueError:
                name = str(sig)
            return f"the REPL worker was killed by {name} (a resource limit: CPU, memory or processes)"
        return f"the REPL worker died (exit {rc}; {self.stderr_tail()})"

    async def _reset(self, start: float, reason: str) -> CellResult:
        self.kill()
        await self.wait()
        note = (f"Cell killed: {reason}. A fresh REPL was started: the namespace was reset, so every "
                "variable you defined is gone (the helpers are back). Re-create what you need, with "
                "smaller steps.")
        try:
            await self.start()
        except ReplError as exc:
            note += f" Restart failed: {exc}"
        return CellResult("", note, None, [], time.monotonic() - start, reset=True)

    def kill(self) -> None:
        """Kill the worker and everything it started, synchronously (safe in cancellation)."""
        if self.proc is not None and self.proc.returncode is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
        if self._cgroup is not None:
            self._cgroup.destroy()
            self._cgroup = None
        if self._stderr_task is not None:
            self._stderr_task.cancel()

    async def wait(self) -> None:
        if self.proc is not None:
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except asyncio.TimeoutError:
                pass

    async def close(self) -> None:
        self.kill()
        await self.wait()
        shutil.rmtree(self._tmp, ignore_errors=True)
