"""The one way the host runs git: repository config that would run a program is switched off.

A repository is hostile input. Its `.git/config` (an archive someone downloaded, a branch
checked out for review) can name programs that plain read commands start: `core.fsmonitor`
runs on `ls-files`/`diff-files`, `filter.<x>.clean` on `blame` and whenever git hashes a
work-tree file (chosen through `.gitattributes`), `diff.<x>.textconv` on `blame`, hooks,
pagers, external diffs, `gpg.program` under `log.showSignature`, transports and credential
helpers on a lazy fetch. Every call here overrides those keys on the command line (which
beats every config file), and also overrides the filter and diff drivers that the config
defines, whatever their names.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Sequence

# Keys that start programs (or read files) in the commands we run; set to values that don't.
SAFE_CONFIG: tuple[tuple[str, str], ...] = (
    ("core.fsmonitor", "false"),
    ("core.hooksPath", "/dev/null"),
    ("core.pager", "cat"),
    ("core.editor", "false"),
    ("sequence.editor", "false"),
    ("core.askPass", ""),
    ("core.sshCommand", "false"),
    ("core.gitProxy", ""),
    ("core.alternateRefsCommand", ""),
    ("credential.helper", ""),
    ("diff.external", ""),
    ("log.showSignature", "false"),
    ("gpg.program", "false"),
    ("gpg.openpgp.program", "false"),
    ("gpg.ssh.program", "false"),
    ("gpg.x509.program", "false"),
    ("protocol.allow", "never"),  # no transport at all: a lazy fetch of a partial clone cannot start one
    ("blame.ignoreRevsFile", ""),  # a path the repository chooses
    ("uploadpack.packObjectsHook", ""),
)
# Per-driver keys, overridden for every driver name the config defines.
DRIVER_KEYS = {"filter": (("clean", ""), ("smudge", ""), ("process", ""), ("required", "false")),
               "diff": (("textconv", ""), ("command", ""))}
# Subcommands that take diff options.
_DIFF_LIKE = {"log", "show", "diff", "diff-files", "diff-index", "diff-tree", "whatchanged"}
# The caller's git environment that is kept; any other GIT_* variable (GIT_DIR, GIT_EXTERNAL_DIFF,
# GIT_SSH_COMMAND, GIT_CONFIG_PARAMETERS, ...) would redirect or extend what git does.
_KEEP_ENV = {"GIT_CONFIG_GLOBAL", "GIT_CEILING_DIRECTORIES", "GIT_DISCOVERY_ACROSS_FILESYSTEM", "GIT_EXEC_PATH",
             "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE", "GIT_COMMITTER_NAME",
             "GIT_COMMITTER_EMAIL", "GIT_COMMITTER_DATE"}


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in _KEEP_ENV}
    env.pop("SSH_ASKPASS", None)
    env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0",
                "GIT_NO_LAZY_FETCH": "1", "GIT_PAGER": "cat", "PAGER": "cat"})
    if extra:
        env.update(extra)
    return env


def _prefix() -> list[str]:
    out = ["git", "--no-pager"]
    for key, value in SAFE_CONFIG:
        out += ["-c", f"{key}={value}"]
    return out


def _driver_overrides(cwd: Path, env: dict[str, str]) -> dict[str, str]:
    """GIT_CONFIG_COUNT/KEY/VALUE entries that empty every filter and diff driver the config defines.

    Passed through the environment, not `-c`, because a driver's name may contain `=`."""
    try:
        out = subprocess.run([*_prefix(), "config", "-z", "--get-regexp", r"^(filter|diff)\..*\."],
                             cwd=cwd, env=env, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    drivers: set[tuple[str, str]] = set()
    for rec in out.stdout.split(b"\0"):
        key = rec.split(b"\n", 1)[0].decode("utf-8", "surrogateescape")
        section, _, rest = key.partition(".")
        name = rest.rpartition(".")[0]
        if section.lower() in DRIVER_KEYS and name:
            drivers.add((section.lower(), name))
    pairs = [(f"{section}.{name}.{k}", v) for section, name in sorted(drivers) for k, v in DRIVER_KEYS[section]]
    extra = {"GIT_CONFIG_COUNT": str(len(pairs))}
    for i, (k, v) in enumerate(pairs):
        extra[f"GIT_CONFIG_KEY_{i}"] = k
        extra[f"GIT_CONFIG_VALUE_{i}"] = v
    return extra if pairs else {}


def command(args: Sequence[str], config: Sequence[tuple[str, str]] = ()) -> list[str]:
    """The full argv for `git ARGS` with the overrides (drivers aside: they need the environment);
    `config`: harmless settings of the caller's own (`core.quotePath=false`), before ours."""
    args = list(args)
    sub = args[0] if args else ""
    extra = []
    if sub in _DIFF_LIKE:
        extra = ["--no-ext-diff", "--no-textconv"]
    elif sub in ("blame", "annotate"):
        extra = ["--no-textconv"]
    mine = [a for key, value in config for a in ("-c", f"{key}={value}")]
    return [_prefix()[0], *mine, *_prefix()[1:], sub, *extra, *args[1:]]


def run(args: Sequence[str], cwd: str | os.PathLike, *, check: bool = False, input: bytes | str | None = None,
        timeout: float | None = 60, text: bool = False, config: Sequence[tuple[str, str]] = (),
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `git ARGS` in cwd with stdout and stderr captured. `config` and `env` add the caller's
    own harmless settings (ours win). Raises OSError when git is missing, subprocess.TimeoutExpired,
    and with check=True subprocess.CalledProcessError."""
    cwd = Path(cwd)
    env = {**(env or {}), **_env()}
    sub = args[0] if args else ""
    if sub not in ("rev-parse", "config", "version"):  # those never convert content
        env.update(_driver_overrides(cwd, env))
    if isinstance(input, str) and not text:
        input = input.encode()
    return subprocess.run(command(args, config), cwd=cwd, env=env, capture_output=True, check=check, input=input,
                          timeout=timeout, text=text, stdin=None if input is not None else subprocess.DEVNULL,
                          **({"encoding": "utf-8", "errors": "surrogateescape"} if text else {}))


def toplevel(path: str | os.PathLike) -> Path | None:
    """The top of the git work tree containing path, or None (no git, not a work tree, git failed)."""
    try:
        out = run(["rev-parse", "--show-toplevel"], path, timeout=10, text=True)
    except (OSError, subprocess.TimeoutExpired):
        return None
    top = out.stdout.strip()
    return Path(top) if out.returncode == 0 and top else None
