"""Isolation for the REPL worker: model-written code is untrusted.

BwrapSandbox is the mechanism (bubblewrap): new mount, pid, ipc, network and user namespaces; a
read-only root that holds only the interpreter, the package, the repository, the index and the
few git files `git_log`/`blame` read; writes go to a sized tmpfs (`/scratch`, also `/tmp`); a
seccomp filter refuses Unix-domain (and other non-IP) sockets and io_uring. Where bubblewrap
cannot run, `ask` fails closed (SandboxUnavailable) unless the user opts into RlimitSandbox,
which only scrubs the environment and sets rlimits. A WorkerCgroup (pids and memory, v1 or v2)
caps the whole worker tree where cgroups are writable; the worker also applies rlimits (CPU,
address space, processes, file size) to itself before any cell runs.
"""
from __future__ import annotations

import functools
import os
import platform
import shutil
import signal
import struct
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..index import git

PKG_MOUNT = "/opt/repo-rlm"
SCRATCH_MOUNT = "/scratch"
CONTEXT_MOUNT = "/opt/repo-rlm-context"   # where a `--context` text's folder is mounted
CGROUP_PREFIX = "repo-rlm-"
INSTALL_HELP = ("bubblewrap (bwrap) is not usable here, so model-written code cannot run isolated and `ask` "
                "will not run it. Install bubblewrap 0.6 or newer (Debian/Ubuntu: `sudo apt-get install bubblewrap`; "
                "Fedora: `sudo dnf install bubblewrap`; Arch: `sudo pacman -S bubblewrap`) and make sure "
                "unprivileged user namespaces are allowed, or set REPO_RLM_SANDBOX=rlimits (`--sandbox "
                "rlimits`) to run it with resource limits only: that code can then read your files and use "
                "the network")


class SandboxUnavailable(Exception):
    """No isolation can run here and the user did not opt into the rlimits fallback."""


@dataclass
class Limits:
    cell_timeout_s: float = 60.0
    cpu_s: int = 600                      # whole worker lifetime; cells are cut by the wall timeout
    memory_bytes: int = 4 * 1024 ** 3     # address space per process, and the memory cgroup's limit
    nproc: int = 64
    fsize_bytes: int = 64 * 1024 ** 2
    scratch_bytes: int = 256 * 1024 ** 2  # the size of the /scratch tmpfs (bubblewrap)
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


# -- cgroups -----------------------------------------------------------------------------------

def _own_cgroup(controller: str) -> str | None:
    """This process's cgroup path for a v1 controller ("" key: the v2 unified path)."""
    for line in _read(Path("/proc/self/cgroup")).splitlines():
        _, ctrls, path = line.split(":", 2)
        if (controller and controller in ctrls.split(",")) or (not controller and ctrls == ""):
            return path.lstrip("/")
    return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _owner_pid(name: str) -> int | None:
    """The pid a scratch or cgroup directory is named after (`repo-rlm-<pid>-<hex>`)."""
    parts = name.split("-")
    return int(parts[2]) if len(parts) >= 4 and parts[2].isdigit() else None


class WorkerCgroup:
    """pids and memory cgroups (v1 or v2) holding the whole worker tree: caps that rlimits cannot give
    (RLIMIT_NPROC is not enforced for root; RLIMIT_AS is per process), and a way to kill every
    process the worker left behind. Where no cgroup is writable it does nothing."""

    def __init__(self, nproc: int, memory_bytes: int):
        self.dirs: list[Path] = []
        self.memory = False
        name = f"{CGROUP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        v1 = [("pids", {"pids.max": str(nproc)}),
              ("memory", {"memory.limit_in_bytes": str(memory_bytes), "memory.memsw.limit_in_bytes": str(memory_bytes)})]
        for ctrl, files in v1:
            own = _own_cgroup(ctrl)
            base = Path("/sys/fs/cgroup") / ctrl
            if own is None or not (base / "cgroup.procs").exists():
                continue
            path = self._make(base / own, name, files, required=next(iter(files)))
            if path is not None:
                self.dirs.append(path)
                self.memory |= ctrl == "memory"
        unified = Path("/sys/fs/cgroup")
        if not self.dirs and (unified / "cgroup.controllers").exists():
            ctrls = _read(unified / "cgroup.subtree_control").split()
            if "pids" in ctrls:
                files = {"pids.max": str(nproc)}
                if "memory" in ctrls:
                    files.update({"memory.max": str(memory_bytes), "memory.swap.max": "0"})
                path = self._make(unified, name, files, required="pids.max")
                if path is not None:
                    self.dirs.append(path)
                    self.memory = "memory" in ctrls and (path / "memory.max").exists()

    @staticmethod
    def _make(parent: Path, name: str, files: dict[str, str], required: str) -> Path | None:
        if not os.access(parent, os.W_OK):
            return None
        _remove_stale_cgroups(parent)
        path = parent / name
        try:
            path.mkdir()
        except OSError:
            return None
        for f, value in files.items():
            try:
                (path / f).write_text(value)
            except OSError:
                if f == required:
                    _rmdir(path)
                    return None
        return path

    @property
    def path(self) -> Path | None:
        return self.dirs[0] if self.dirs else None

    def wrap(self, argv: list[str]) -> list[str]:
        """The worker joins every cgroup before it starts (so all it forks is held too)."""
        if not self.dirs:
            return argv
        script = ('while [ "$1" != -- ]; do echo $$ > "$1/cgroup.procs" || exit 126; shift; done; '
                  'shift; exec "$@"')
        return ["/bin/sh", "-c", script, "sh", *map(str, self.dirs), "--", *argv]

    def pids(self) -> set[int]:
        out: set[int] = set()
        for d in self.dirs:
            out |= {int(p) for p in _read(d / "cgroup.procs").split() if p.isdigit()}
        return out

    def destroy(self) -> None:
        for d in self.dirs:
            _empty_and_remove(d)
        self.dirs = []


def _empty_and_remove(d: Path) -> None:
    if (d / "cgroup.kill").exists():
        try:
            (d / "cgroup.kill").write_text("1")
        except OSError:
            pass
    for _ in range(100):
        pids = _read(d / "cgroup.procs").split()
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        time.sleep(0.01)
    _rmdir(d)


def _remove_stale_cgroups(parent: Path) -> None:
    """Cgroups of runs whose process is gone (killed with -9, a crash) are emptied and removed."""
    try:
        entries = [p for p in parent.iterdir() if p.name.startswith(CGROUP_PREFIX) and p.is_dir()]
    except OSError:
        return
    for p in entries:
        owner = _owner_pid(p.name)
        if owner is not None and owner != os.getpid() and not _pid_alive(owner):
            _empty_and_remove(p)


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


# -- processes ---------------------------------------------------------------------------------

def _proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, session id) of every visible live process (zombies are already dead)."""
    out: dict[int, tuple[int, int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        stat = _read(Path("/proc") / d / "stat")
        rest = stat[stat.rfind(")") + 2:].split()
        if len(rest) >= 4 and rest[0] not in ("Z", "X"):
            out[int(d)] = (int(rest[1]), int(rest[3]))
    return out


def _children(pid: int) -> list[int] | None:
    """pid's children from /proc/<pid>/task/*/children; None where the kernel lacks that file."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    out: list[int] = []
    for t in tasks:
        try:
            with open(f"/proc/{pid}/task/{t}/children") as f:
                out += [int(c) for c in f.read().split()]
        except FileNotFoundError:
            return None if t == tasks[0] and not out else out
        except OSError:
            pass
    return out


def process_tree(root_pid: int, session: int | None = None) -> set[int]:
    """root_pid's live descendants (in bubblewrap's pid namespace orphans stay below its init),
    plus every process in `session` (the rlimits mode, where orphans leave the tree)."""
    table: dict[int, tuple[int, int]] | None = None
    out, todo = set(), [root_pid]
    while todo:
        kids = _children(todo.pop())
        if kids is None:  # no children files: one scan of /proc instead
            table = _proc_table()
            by_parent: dict[int, list[int]] = {}
            for pid, (ppid, _) in table.items():
                by_parent.setdefault(ppid, []).append(pid)
            out, todo = set(), [root_pid]
            while todo:
                for c in by_parent.get(todo.pop(), []):
                    if c not in out:
                        out.add(c)
                        todo.append(c)
            break
        for c in kids:
            if c not in out:
                out.add(c)
                todo.append(c)
    if session is not None:
        table = table if table is not None else _proc_table()
        out |= {pid for pid, (_, sid) in table.items() if sid == session and pid != os.getpid()}
    elif table is None:
        out = {p for p in out if not _read(Path(f"/proc/{p}/stat")).split(") ")[-1].startswith(("Z", "X"))}
    return out


def kill_all(pids: set[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


# -- seccomp -----------------------------------------------------------------------------------

# Hand-assembled classic BPF: no maintained Python package writes seccomp programs without a C
# build (libseccomp's bindings are not on PyPI as wheels), and the program is a dozen instructions.
_AUDIT_ARCH = {"x86_64": (0xC000003E, 41), "aarch64": (0xC00000B7, 198)}   # arch, __NR_socket
_IO_URING = (425, 426, 427)   # io_uring_setup/enter/register: could open sockets past this filter
_SOCKET_FAMILIES_ALLOWED = (2, 10, 16)   # AF_INET, AF_INET6 (only loopback exists), AF_NETLINK
_RET_ALLOW, _RET_ERRNO = 0x7FFF0000, 0x00050000
_EACCES, _ENOSYS, _EPERM = 13, 38, 1


def seccomp_program() -> bytes | None:
    """A filter refusing socket() for every family but IP and netlink (so no AF_UNIX connect to a
    socket in a mounted path), io_uring, x32 and foreign-ABI syscalls. None on other architectures."""
    arch = _AUDIT_ARCH.get(platform.machine())
    if arch is None:
        return None
    audit, nr_socket = arch
    ld_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    prog: list[tuple[int, int, int, int]] = []
    deny_arch = _RET_ERRNO | _EPERM

    def emit(code: int, jt: int, jf: int, k: int) -> None:
        prog.append((code, jt, jf, k))

    emit(ld_abs, 0, 0, 4)                       # A = arch
    emit(jeq, 1, 0, audit)                      # native ABI: go on
    emit(ret, 0, 0, deny_arch)
    emit(ld_abs, 0, 0, 0)                       # A = syscall number
    if audit == 0xC000003E:
        emit(jge, 0, 1, 0x40000000)             # x32 ABI
        emit(ret, 0, 0, deny_arch)
    for nr in _IO_URING:
        emit(jeq, 0, 1, nr)
        emit(ret, 0, 0, _RET_ERRNO | _ENOSYS)
    emit(jeq, 1, 0, nr_socket)
    emit(ret, 0, 0, _RET_ALLOW)                 # any other syscall
    emit(ld_abs, 0, 0, 16)                      # A = low word of args[0]: the address family
    for fam in _SOCKET_FAMILIES_ALLOWED:
        emit(jeq, 0, 1, fam)
        emit(ret, 0, 0, _RET_ALLOW)
    emit(ret, 0, 0, _RET_ERRNO | _EACCES)
    return b"".join(struct.pack("=HBBI", *ins) for ins in prog)


# -- the git files the sandbox may see ---------------------------------------------------------

GIT_PARTS = ("HEAD", "objects", "refs", "packed-refs", "shallow", "commondir")


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


def _read_gitfile(dot: Path) -> Path | None:
    try:
        line = dot.read_text(errors="replace").strip()
    except OSError:
        return None
    if not line.startswith("gitdir:"):
        return None
    return (dot.parent / line[7:].strip()).resolve()


def _host_git_dir(work_tree: Path) -> Path | None:
    """What host git reports as the git directory of work_tree."""
    try:
        out = git.run(["rev-parse", "--absolute-git-dir"], work_tree, timeout=10, text=True)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = out.stdout.strip()
    return Path(text).resolve() if out.returncode == 0 and text else None


def _is_git_dir(d: Path) -> bool:
    return (d / "HEAD").is_file() and (((d / "objects").is_dir() and (d / "refs").is_dir()) or (d / "commondir").is_file())


def _points_back(gitdir: Path, work_tree: Path) -> bool:
    """A linked worktree's gitdir names the `.git` file that points at it; a submodule's git dir
    names its work tree in core.worktree. A `.git` file aimed anywhere else is refused."""
    back = gitdir / "gitdir"
    if back.is_file():
        try:
            target = (gitdir / back.read_text(errors="replace").strip()).resolve()
        except OSError:
            return False
        return target == work_tree / ".git"
    try:
        out = git.run(["config", "--file", str(gitdir / "config"), "--get", "core.worktree"], gitdir,
                      timeout=10, text=True)
    except (OSError, subprocess.TimeoutExpired):
        return False
    value = out.stdout.strip()
    return out.returncode == 0 and bool(value) and (gitdir / value).resolve() == work_tree


def git_dirs(root: Path, _depth: int = 0) -> list[Path]:
    """The git directories whose history `git_log`/`blame` read for the repository at `root`
    (resolved): its own `.git`, a linked worktree's or submodule's git dir and the common dir, or
    the `.git` of an enclosing work tree. Only a directory inside the repository, or one that host
    git reports for this work tree and that names this work tree back, is accepted."""
    root = root.resolve()
    dot = root / ".git"
    if _depth > 3:
        return []
    if not dot.exists() and not dot.is_symlink():
        top = git.toplevel(root)
        if top is None:
            return []
        top = top.resolve()
        if top == root or not _inside(root, top):
            return []
        return git_dirs(top, _depth + 1)
    if dot.is_dir():
        gitdir = dot.resolve()
        if not _inside(gitdir, root) or not _is_git_dir(gitdir):
            return []
        return [gitdir] if _depth == 0 else [dot, gitdir]
    gitdir = _read_gitfile(dot)
    if gitdir is None or not _is_git_dir(gitdir):
        return []
    if not _inside(gitdir, root):
        if _host_git_dir(root) != gitdir or not _points_back(gitdir, root):
            return []
    out = [gitdir] if _depth == 0 else [dot, gitdir]  # an enclosing tree's `.git` file is not mounted else
    common_file = gitdir / "commondir"
    if common_file.is_file():
        try:
            common = (gitdir / common_file.read_text(errors="replace").strip()).resolve()
        except OSError:
            return []
        if gitdir.parent != common / "worktrees" or not _is_git_dir(common):
            return []
        out.append(common)
    return out


def _object_format(gitdir: Path) -> str | None:
    """The repository's object format when it is not SHA-1: git must know it to read objects."""
    if not (gitdir / "config").is_file():
        return None
    try:  # `--file` reads that one file; includes are off
        out = git.run(["config", "--file", str(gitdir / "config"), "--get", "extensions.objectformat"], gitdir,
                      timeout=10, text=True)
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = out.stdout.strip().lower()
    return value if out.returncode == 0 and value in ("sha256",) else None


def git_view_args(dirs: list[Path], spare: Path) -> list[str]:
    """bwrap arguments showing only GIT_PARTS of each git dir, read-only; never `config` (it can
    hold tokens in http.extraheader or remote URLs), hooks or logs. A SHA-256 repository gets a
    config of our own that says only that (written into `spare`, a private folder)."""
    args: list[str] = []
    for i, d in enumerate(sorted(dirs, key=lambda p: len(str(p)))):
        if d.is_file():  # a `.git` file: only a pointer to its git dir
            args += ["--ro-bind", str(d), str(d)]
            continue
        args += ["--size", str(1024 * 1024), "--tmpfs", str(d)]
        for part in GIT_PARTS:
            p = d / part
            if p.exists() and not p.is_symlink():
                args += ["--ro-bind", str(p), str(p)]
        fmt = _object_format(d)
        if fmt is not None:
            own = spare / f"git-config-{i}"
            own.write_text(f"[core]\n\trepositoryformatversion = 1\n[extensions]\n\tobjectformat = {fmt}\n")
            args += ["--ro-bind", str(own), str(d / "config")]
    return args


# -- the sandboxes -----------------------------------------------------------------------------

class Sandbox:
    """Builds the command line and environment that start the worker inside the sandbox."""

    name = "none"

    def __init__(self, scratch: Path, ro_paths: list[Path], limits: Limits, git: list[Path] | None = None,
                 context_dir: Path | None = None):
        self.scratch, self.ro_paths, self.limits, self.git = scratch, ro_paths, limits, git or []
        self.context_dir = context_dir
        self.pass_fds: tuple[int, ...] = ()

    def context_path(self, name: str) -> str:
        """Where the worker finds a file of context_dir."""
        assert self.context_dir is not None
        return str(self.context_dir / name)

    def command(self, worker_argv: list[str]) -> tuple[list[str], dict[str, str], str]:
        raise NotImplementedError

    def close(self) -> None:
        for fd in self.pass_fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.pass_fds = ()


class BwrapSandbox(Sandbox):
    """bubblewrap: no network, no Unix sockets, a read-only root, a sized tmpfs for writes."""

    name = "bubblewrap"

    def command(self, worker_argv: list[str]) -> tuple[list[str], dict[str, str], str]:
        args = ["bwrap", "--unshare-all", "--unshare-user-try", "--die-with-parent", "--new-session",
                "--cap-drop", "ALL", "--dev", "/dev", "--proc", "/proc", "--clearenv"]
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
        in_git = {p for p in mounts if any(_inside(p, g) for g in self.git)}  # an --index inside .git
        for p in sorted(set(mounts) - in_git, key=lambda q: len(str(q))):
            args += ["--ro-bind", str(p), str(p)]
        args += git_view_args(self.git, self.scratch.parent)
        for p in sorted(in_git, key=lambda q: len(str(q))):
            args += ["--ro-bind", str(p), str(p)]
        if self.context_dir is not None:
            args += ["--ro-bind", str(self.context_dir), CONTEXT_MOUNT]
        args += ["--ro-bind", str(package_parent() / "repo_rlm"), f"{PKG_MOUNT}/repo_rlm",
                 "--size", str(self.limits.scratch_bytes), "--tmpfs", SCRATCH_MOUNT]
        if not any(_inside(p, Path("/tmp")) for p in mounts):
            args += ["--symlink", SCRATCH_MOUNT, "/tmp"]  # else /tmp holds those mounts, read-only
        for d in self.git:
            if d.is_dir():
                args += ["--remount-ro", str(d)]
        args += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", SCRATCH_MOUNT]
        program = seccomp_program()
        if program is not None:
            fd = os.memfd_create("repo-rlm-seccomp", 0)
            os.write(fd, program)
            os.lseek(fd, 0, os.SEEK_SET)
            self.close()
            self.pass_fds = (fd,)
            args += ["--seccomp", str(fd)]
        else:
            warn_once(f"no seccomp filter for {platform.machine()}: Unix sockets in mounted paths are reachable")
        env = _base_env(SCRATCH_MOUNT, os.pathsep.join([PKG_MOUNT, *site_dirs()]))
        for k, v in env.items():
            args += ["--setenv", k, v]
        return args + ["--", *worker_argv], env, str(self.scratch)

    def context_path(self, name: str) -> str:
        return f"{CONTEXT_MOUNT}/{name}"


class RlimitSandbox(Sandbox):
    """The opt-in fallback: scrubbed environment and rlimits only. Files and network are NOT isolated."""

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
                            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                            "--size", "65536", "--tmpfs", "/tmp", "--remount-ro", "/tmp", "true"],
                           capture_output=True, timeout=10)   # --size needs bubblewrap 0.6
        return r.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


_said: set[str] = set()


def warn_once(text: str) -> None:
    if text not in _said:
        _said.add(text)
        print(f"repo-rlm: warning: {text}", file=sys.stderr)


def sandbox_kind(kind: str | None = None) -> str:
    """"rlimits" when the user opted in (argument or REPO_RLM_SANDBOX), else "bubblewrap"."""
    kind = kind or os.environ.get("REPO_RLM_SANDBOX") or "bubblewrap"
    return "rlimits" if kind == "rlimits" else "bubblewrap"


def make_sandbox(scratch: Path, ro_paths: list[Path], limits: Limits, kind: str | None = None,
                 git: list[Path] | None = None, context_dir: Path | None = None) -> Sandbox:
    """bubblewrap, or the rlimits fallback only when asked for; raises SandboxUnavailable."""
    if sandbox_kind(kind) == "rlimits":
        warn_once("the rlimits sandbox was chosen: the REPL runs with rlimits and a scrubbed environment only; "
                  "model-written code can read your files and use the network")
        return RlimitSandbox(scratch, ro_paths, limits, git, context_dir)
    if not bwrap_works():
        raise SandboxUnavailable(INSTALL_HELP)
    return BwrapSandbox(scratch, ro_paths, limits, git, context_dir)
