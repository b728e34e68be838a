"""Isolation for the REPL worker: model-written code is untrusted.

BwrapSandbox is the real mechanism (bubblewrap: new mount, pid, ipc and network namespaces;
only the interpreter, the package, the repository and the index are visible, read-only; a
private writable scratch directory). RlimitSandbox is the weaker fallback when bubblewrap
cannot run: it says so on stderr. Both cut the environment to an allowlist, and the worker
applies rlimits (CPU, address space, processes, file size) to itself before any cell runs.
Running as root, RLIMIT_NPROC is not enforced by the kernel, so a pids cgroup is used when
one can be created.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

PKG_MOUNT = "/opt/repo-rlm"
SCRATCH_MOUNT = "/scratch"


@dataclass
class Limits:
    cell_timeout_s: float = 60.0
    cpu_s: int = 600                      # whole worker lifetime; cells are cut by the wall timeout
    memory_bytes: int = 4 * 1024 ** 3     # address space
    nproc: int = 64
    fsize_bytes: int = 64 * 1024 ** 2
    output_chars: int = 20_000

    def worker_args(self) -> list[str]:
        return ["--cpu", str(self.cpu_s), "--mem", str(self.memory_bytes), "--nproc", str(self.nproc),
                "--fsize", str(self.fsize_bytes), "--output-chars", str(self.output_chars)]


def package_parent() -> Path:
    return Path(__file__).resolve().parents[2]


def site_dirs() -> list[str]:
    """Where the dependencies live (a venv, pipx, or `pip install --user`): mounted and on PYTHONPATH."""
    return [p for p in dict.fromkeys(sys.path)
            if ("site-packages" in p or "dist-packages" in p) and os.path.isdir(p)]


def _base_env(home: str, pythonpath: str) -> dict[str, str]:
    """The allowlist: nothing from the parent's environment but PATH and locale."""
    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": home, "TMPDIR": home,
        "PYTHONPATH": pythonpath, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
        "PYTHONHASHSEED": "0", "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
        "GIT_DISCOVERY_ACROSS_FILESYSTEM": "1",  # the repository and its .git are separate mounts
    }
    return env


class PidsCgroup:
    """A pids cgroup (v1 or v2) capping the worker's processes; used where rlimits can't (root)."""

    def __init__(self, limit: int):
        self.path: Path | None = None
        for base in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")):
            if not (base / "cgroup.procs").exists() or not os.access(base, os.W_OK):
                continue
            if base == Path("/sys/fs/cgroup") and "pids" not in _read(base / "cgroup.controllers"):
                continue
            path = base / f"repo-rlm-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            try:
                path.mkdir()
                (path / "pids.max").write_text(str(limit))
                self.path = path
                break
            except OSError:
                _rmdir(path)

    def wrap(self, argv: list[str]) -> list[str]:
        if self.path is None:
            return argv
        return ["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(self.path), *argv]

    def destroy(self) -> None:
        if self.path is None:
            return
        for _ in range(50):
            pids = _read(self.path / "cgroup.procs").split()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(int(pid), 9)
                except (OSError, ValueError):
                    pass
            import time
            time.sleep(0.01)
        _rmdir(self.path)
        self.path = None


def _read(p: Path) -> str:
    try:
        return p.read_text()
    except OSError:
        return ""


def _rmdir(p: Path) -> None:
    try:
        p.rmdir()
    except OSError:
        pass


class Sandbox:
    """Builds the command line and environment that start the worker inside the sandbox."""

    name = "none"

    def __init__(self, scratch: Path, ro_paths: list[Path], limits: Limits):
        self.scratch, self.ro_paths, self.limits = scratch, ro_paths, limits

    def command(self, worker_argv: list[str]) -> tuple[list[str], dict[str, str], str]:
        raise NotImplementedError


class BwrapSandbox(Sandbox):
    """bubblewrap: no network, read-only repository and index, only what Python needs mounted."""

    name = "bubblewrap"

    def command(self, worker_argv: list[str]) -> tuple[list[str], dict[str, str], str]:
        args = ["bwrap", "--unshare-all", "--unshare-user-try", "--die-with-parent", "--new-session",
                "--cap-drop", "ALL", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--clearenv"]
        for top in ("/usr", "/bin", "/lib", "/lib64", "/lib32", "/sbin"):
            p = Path(top)
            if p.is_symlink():
                args += ["--symlink", os.readlink(p), top]
            elif p.is_dir():
                args += ["--ro-bind", top, top]
        for f in ("/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf"):
            args += ["--ro-bind-try", f, f]
        mounts: list[Path] = []
        for p in {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix),
                  Path(sys.executable).resolve().parent.parent}:
            if not str(p).startswith("/usr/") and p.exists():
                mounts.append(p)
        mounts += [Path(p) for p in site_dirs()]
        mounts += [p for p in self.ro_paths if p.exists()]
        for p in sorted(set(mounts), key=lambda q: len(str(q))):
            args += ["--ro-bind", str(p), str(p)]
        args += ["--ro-bind", str(package_parent() / "repo_rlm"), f"{PKG_MOUNT}/repo_rlm",
                 "--bind", str(self.scratch), SCRATCH_MOUNT, "--chdir", SCRATCH_MOUNT]
        env = _base_env(SCRATCH_MOUNT, os.pathsep.join([PKG_MOUNT, *site_dirs()]))
        for k, v in env.items():
            args += ["--setenv", k, v]
        return args + ["--", *worker_argv], env, str(self.scratch)


class RlimitSandbox(Sandbox):
    """Fallback: scrubbed environment and rlimits only. Files and network are NOT isolated."""

    name = "rlimits"

    def command(self, worker_argv: list[str]) -> tuple[list[str], dict[str, str], str]:
        env = _base_env(str(self.scratch), os.pathsep.join([str(package_parent()), *site_dirs()]))
        return worker_argv, env, str(self.scratch)


@functools.lru_cache(maxsize=1)
def bwrap_works() -> bool:
    exe = shutil.which("bwrap")
    if not exe:
        return False
    try:
        r = subprocess.run([exe, "--unshare-all", "--unshare-user-try", "--die-with-parent",
                            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "true"],
                           capture_output=True, timeout=10)
        return r.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


_warned = False
_said: set[str] = set()


def warn_once(text: str) -> None:
    if text not in _said:
        _said.add(text)
        print(f"repo-rlm: warning: {text}", file=sys.stderr)


def make_sandbox(scratch: Path, ro_paths: list[Path], limits: Limits, kind: str | None = None) -> Sandbox:
    """The strongest mechanism that works here; REPO_RLM_SANDBOX=rlimits forces the fallback."""
    global _warned
    kind = kind or os.environ.get("REPO_RLM_SANDBOX", "auto")
    if kind != "rlimits" and bwrap_works():
        return BwrapSandbox(scratch, ro_paths, limits)
    if not _warned:
        print("repo-rlm: warning: bubblewrap is not usable here; the REPL runs with rlimits and a scrubbed "
              "environment only (no filesystem or network isolation)", file=sys.stderr)
        _warned = True
    return RlimitSandbox(scratch, ro_paths, limits)
