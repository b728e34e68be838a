"""The engine's side of the REPL: starts the sandboxed worker, runs cells, serves sub-calls.

A cell that runs past its wall-time limit, or kills its worker (memory, CPU, signals), is
reported as an error and a fresh worker is started; the model is told its namespace was reset.
"""
from __future__ import annotations

import asyncio
import collections
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

from repo_rlm.agent.repl_worker import MAX_NAME_CHARS, MAX_NAMES, PROTOCOL_LINE_MAX
from repo_rlm.agent.sandbox import (Limits, RlimitSandbox, Sandbox, SandboxUnavailable, WorkerCgroup, git_dirs,
                                    kill_all, make_sandbox, process_tree, warn_once)
from repo_rlm.agent.trace import valid_text

SCRATCH_PREFIX = "repo-rlm-repl-"
MAX_ERROR_CHARS = 4_200
MAX_NAMES_CHARS = 4_000

CallHandler = Callable[[str, dict[str, Any]], Awaitable[Any]]


class ReplError(Exception):
    """The worker could not start (the message is one line)."""


def _remove_stale_scratch() -> None:
    """Scratch folders of runs whose process is gone (killed with -9, a crash) are removed."""
    base = Path(tempfile.gettempdir())
    for p in base.glob(SCRATCH_PREFIX + "*"):
        m = re.match(re.escape(SCRATCH_PREFIX) + r"(\d+)-", p.name)
        if m is None or int(m.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(m.group(1)), 0)
        except ProcessLookupError:
            shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass


def _refuse_home(root: Path) -> None:
    """A folder that holds the user's home (no git work tree was found) is not a repository to
    mount: it would show ~/.ssh, ~/.aws and every other project to model-written code."""
    try:
        home = Path.home().resolve()
    except (RuntimeError, KeyError):
        home = None
    if home is None:
        return
    if root == Path(root.anchor) or root == home or home.is_relative_to(root):
        raise ReplError(f"refusing to run model-written code over {root}: it holds your home directory "
                        "(no git work tree was found there); run `ask` inside a project or pass --repo PATH")


def _text(value: Any, cap: int) -> str:
    text = valid_text(value if isinstance(value, str) else str(value))
    return text if len(text) <= cap else text[:cap] + f"\n... [cut: {len(text) - cap} more characters]"


def clean_names(value: Any) -> list[str]:
    """The variable list shown to the model: bounded however the worker behaves."""
    if not isinstance(value, list):
        return []
    out, total = [], 0
    for n in value[:MAX_NAMES]:
        item = _text(n, MAX_NAME_CHARS).replace("\n", " ")
        total += len(item) + 2
        if total > MAX_NAMES_CHARS:
            out.append("...")
            break
        out.append(item)
    return out


@dataclass
class CellResult:
    output: str
    error: str | None = None
    final: str | None = None
    names: list[str] = field(default_factory=list)
    seconds: float = 0.0
    reset: bool = False


class Repl:
    def __init__(self, *, root: Path | None = None, index_path: Path | None = None,
                 context_text: str | None = None, limits: Limits | None = None,
                 on_call: CallHandler | None = None, sandbox: str | None = None):
        self.root, self.index_path, self.limits = root, index_path, limits or Limits()
        self.on_call = on_call
        if context_text is not None and not isinstance(context_text, str):
            raise ReplError(f"context must be a str, not {type(context_text).__name__}")
        if root is not None:
            _refuse_home(Path(root).resolve())
        _remove_stale_scratch()
        self._tmp = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))
        try:
            self.scratch = self._tmp / "scratch"
            self.scratch.mkdir()
            ro: list[Path] = []
            ctx_dir: Path | None = None
            if context_text is not None:
                ctx_dir = self._tmp / "context"
                ctx_dir.mkdir()
                (ctx_dir / "context.txt").write_text(valid_text(context_text), encoding="utf-8")
            git: list[Path] = []
            if root is not None:
                ro.append(Path(root).resolve())
                git = git_dirs(Path(root).resolve())
            if index_path is not None:
                ip = Path(index_path).resolve()
                ro += [ip] + [Path(str(ip) + s) for s in ("-wal", "-shm", ".vectors")]  # .vectors: semantic_search
            self.sandbox: Sandbox = make_sandbox(self.scratch, ro, self.limits, sandbox, git, ctx_dir)
        except SandboxUnavailable as exc:
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise ReplError(str(exc)) from None
        except BaseException:
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise
        self._has_context = ctx_dir is not None
        self.proc: asyncio.subprocess.Process | None = None
        self._cgroup: WorkerCgroup | None = None
        self._keep: set[int] = set()
        self._buf = b""
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)
        self._stderr_task: asyncio.Task | None = None

    def _worker_argv(self) -> list[str]:
        argv = [sys.executable, "-s", "-m", "repo_rlm.agent.repl_worker", *self.limits.worker_args()]
        if self._has_context:
            argv += ["--context", self.sandbox.context_path("context.txt")]
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
        self._cgroup = WorkerCgroup(self.limits.nproc, self.limits.memory_bytes)
        if self._cgroup.path is None and os.geteuid() == 0:
            warn_once("running as root without a writable pids cgroup: the REPL's process count is not limited")
        argv = self._cgroup.wrap(argv)
        self._buf = b""
        self.proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env, cwd=cwd, start_new_session=True,
            pass_fds=self.sandbox.pass_fds)
        self._stderr_task = asyncio.ensure_future(self._drain(self.proc.stderr))
        msg = await self._read(timeout=60)
        if msg is None or msg.get("type") != "ready" or msg.get("error"):
            err = _text((msg or {}).get("error") or f"the REPL worker exited at start: {self.stderr_tail()}", 600)
            self.kill()
            raise ReplError(err)
        self._keep = process_tree(self.proc.pid)  # bubblewrap's own processes and the worker
        return clean_names(msg.get("names", []))

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

    async def _line(self) -> bytes | None:
        """One protocol line; an over-long line is skipped to its end and returned as b"\\0" + its head."""
        assert self.proc and self.proc.stdout
        parts: list[bytes] = []
        size, head = 0, None
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                piece, self._buf = self._buf[:nl], self._buf[nl + 1:]
                if head is not None:
                    return b"\0" + head
                parts.append(piece)
                return b"".join(parts)
            if head is None:
                parts.append(self._buf)
                size += len(self._buf)
                if size > PROTOCOL_LINE_MAX:
                    head, parts = b"".join(parts)[:200], []
            self._buf = await self.proc.stdout.read(1 << 16)
            if not self._buf:
                return None

    async def _read(self, timeout: float) -> dict[str, Any] | None:
        line = await asyncio.wait_for(self._line(), timeout)
        if line is None:
            return None
        if line.startswith(b"\0"):
            kind = "call" if re.match(rb'\{"type": ?"call"', line[1:]) else "result"
            return {"type": "oversize", "was": kind}
        try:
            msg = json.loads(line)
        except (ValueError, RecursionError):
            return {"type": "garbled"}
        return msg if isinstance(msg, dict) else {"type": "garbled"}

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
        too_big = f"over the REPL protocol's {PROTOCOL_LINE_MAX // 1024 ** 2} MiB a message"
        try:
            await self._write({"type": "exec", "code": code})
            while True:
                msg = await self._read(timeout=max(0.01, deadline - time.monotonic()))
                if msg is None:
                    await self.wait()
                    return await self._reset(start, self._death_reason())
                kind = msg.get("type")
                if kind == "result" or (kind == "oversize" and msg["was"] == "result"):
                    left = self._end_of_cell()
                    if kind == "oversize":
                        return CellResult("", f"The cell's result was {too_big} (an answer or output that "
                                          "large cannot be passed on); nothing was lost in the REPL namespace.",
                                          None, [], time.monotonic() - start)
                    final = msg.get("final")
                    error = _text(msg["error"], MAX_ERROR_CHARS) if msg.get("error") else None
                    if left:
                        error = ((error + "\n") if error else "") + left
                    return CellResult(_text(msg.get("output", ""), self.limits.output_chars + 200), error,
                                      None if final is None else valid_text(str(final)),
                                      clean_names(msg.get("names", [])), time.monotonic() - start)
                if kind in ("call", "oversize"):
                    paused = time.monotonic()
                    reply = await self._serve(msg) if kind == "call" else \
                        {"type": "reply", "error": f"this sub-call request was {too_big}: send less at once"}
                    deadline += time.monotonic() - paused
                    await self._write(reply)
        except asyncio.TimeoutError:
            return await self._reset(start, f"the cell ran past its {self.limits.cell_timeout_s:g} s wall-time limit")
        except (BrokenPipeError, ConnectionResetError):
            await self.wait()
            return await self._reset(start, self._death_reason())

    def _leftovers(self) -> set[int]:
        if self.proc is None:
            return set()
        rlimits = isinstance(self.sandbox, RlimitSandbox)
        pids = process_tree(self.proc.pid, session=self.proc.pid if rlimits else None)
        if self._cgroup is not None:
            pids |= self._cgroup.pids()
        return pids - self._keep - {self.proc.pid, os.getpid()}

    def _end_of_cell(self) -> str | None:
        """Kill every process the cell started and left running; None, or a note for the model."""
        left = self._leftovers()
        if not left:
            return None
        n = len(left)
        for _ in range(50):
            kill_all(left)
            time.sleep(0.005)
            left = self._leftovers()
            if not left:
                return f"Note: {n} process(es) the cell left running were killed (a cell's processes end with it)."
        self.kill()
        return "Processes the cell left behind could not be stopped: the REPL was reset, its namespace is gone."

    async def _serve(self, msg: dict[str, Any]) -> dict[str, Any]:
        op = msg.pop("op", "")
        if self.on_call is None:
            return {"type": "reply", "error": "sub-calls are not available here"}
        try:
            return {"type": "reply", "result": await self.on_call(str(op), msg)}
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - becomes an exception inside the cell
            return {"type": "reply", "error": valid_text(" ".join(str(exc).split()) or type(exc).__name__)}

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
            tree = process_tree(self.proc.pid, session=self.proc.pid) - {os.getpid()}
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            # Not self.proc.kill(): Popen.send_signal() polls first, reaping the child behind asyncio's
            # child watcher's back ("Unknown child process pid N" on stderr, and a wrong exit status).
            kill_all(tree | {self.proc.pid})
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
        if self.proc is not None and self.proc.stdin is not None:
            self.proc.stdin.close()  # lets asyncio close the transport while the loop still runs
            await asyncio.sleep(0)
        self.sandbox.close()
        shutil.rmtree(self._tmp, ignore_errors=True)
