"""The REPL worker: a separate process that keeps one namespace across cells.

It runs inside the sandbox. The protocol is JSON lines: requests on stdin, replies on a
duplicate of the original stdout; fd 1 itself is pointed at stderr so that anything user code
or a subprocess writes at the fd level can never corrupt the protocol. Sub-calls
(llm_query, llm_query_batched, rlm_query) are relayed to the engine, which holds the keys,
budgets and the concurrency limit.
"""
from __future__ import annotations

import argparse
import ast
import io
import json
import os
import resource
import sys
import time
import traceback
from typing import Any

PROTOCOL_LINE_MAX = 16 * 1024 ** 2   # bytes a protocol message may take (the engine enforces it too)
MAX_NAMES = 200                      # variables listed back to the model after a cell
MAX_NAME_CHARS = 100                 # characters of one `name: type` entry

_PID = os.getpid()
_proto_out: Any = None
_proto_in: Any = None


class MessageTooLarge(ValueError):
    pass


def _send(msg: dict[str, Any]) -> None:
    if os.getpid() != _PID:  # a forked child of a cell must never speak the protocol
        os._exit(0)
    line = json.dumps(msg, default=str)
    if len(line) >= PROTOCOL_LINE_MAX:
        raise MessageTooLarge(f"this message is {len(line) / 1024 ** 2:.1f} MiB; the REPL passes at most "
                              f"{PROTOCOL_LINE_MAX // 1024 ** 2} MiB at once: send or return less")
    _proto_out.write(line + "\n")
    _proto_out.flush()


def _recv() -> dict[str, Any] | None:
    if os.getpid() != _PID:
        os._exit(0)
    line = _proto_in.readline()
    return json.loads(line) if line else None


class _CappedIO(io.TextIOBase):
    """Captures printed text, keeping at most `cap` characters (the rest is only counted)."""

    def __init__(self, cap: int):
        self.cap, self.parts, self.kept, self.dropped = cap, [], 0, 0

    def write(self, s: str) -> int:
        room = self.cap - self.kept
        if room > 0:
            self.parts.append(s[:room])
            self.kept += min(len(s), room)
        self.dropped += max(0, len(s) - max(room, 0))
        return len(s)

    def text(self) -> str:
        out = "".join(self.parts)
        if self.dropped:
            out += f"\n... [output truncated: {self.dropped} more characters not shown; print less, or slice]"
        return out


def _relay(op: str, **payload: Any) -> Any:
    _send({"type": "call", "op": op, **payload})
    msg = _recv()
    if msg is None:
        os._exit(0)
    if msg.get("error"):
        raise RuntimeError(msg["error"])
    return msg.get("result")


def _need_str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    return value


def llm_query(prompt: str) -> str:
    """Ask the sub model; `prompt` (a str) is sent verbatim as the user message."""
    return _relay("llm_query", prompt=_need_str(prompt, "llm_query's prompt"))


def llm_query_batched(prompts: list[str]) -> list[str]:
    """Ask the sub model many prompts (strs) concurrently; answers in input order (errors as text)."""
    if not isinstance(prompts, (list, tuple)):
        raise TypeError(f"llm_query_batched takes a list of str, not {type(prompts).__name__}")
    return _relay("llm_query_batched", prompts=[_need_str(p, "every prompt of llm_query_batched") for p in prompts])


def rlm_query(prompt: str, context: Any = None) -> str:
    """A child RLM with its own REPL over `context` (or the repository), one level deeper."""
    if context is not None and not isinstance(context, str):
        context = "\n".join(map(str, context)) if isinstance(context, (list, tuple)) else str(context)
    return _relay("rlm_query", prompt=_need_str(prompt, "rlm_query's prompt"), context=context)


def _set_limits(a: argparse.Namespace) -> None:
    def lim(kind: int, value: int) -> None:
        try:
            resource.setrlimit(kind, (value, value))
        except (ValueError, OSError):
            pass
    lim(resource.RLIMIT_CPU, a.cpu)
    lim(resource.RLIMIT_AS, a.mem)
    lim(resource.RLIMIT_FSIZE, a.fsize)
    nproc = a.nproc
    if a.count_user_procs:  # fallback mode: the limit counts every process of this user
        uid, n = os.getuid(), 0
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    n += os.stat(f"/proc/{d}").st_uid == uid
                except OSError:
                    pass
        nproc += n
    lim(resource.RLIMIT_NPROC, nproc)
    lim(resource.RLIMIT_CORE, 0)


def _namespace(a: argparse.Namespace, state: dict[str, Any]) -> dict[str, Any]:
    if a.context:
        with open(a.context, encoding="utf-8", errors="replace") as f:
            ns: dict[str, Any] = {"context": f.read()}
    else:
        from repo_rlm.query.helpers import namespace
        from repo_rlm.query.repo import Repo
        ns = namespace(Repo.open(a.root, index_path=a.index, update=False, readonly=True))

    def FINAL(answer: Any) -> None:  # noqa: N802 - the name the model is taught
        """End the run with `answer`."""
        state["final"] = str(answer)

    def FINAL_VAR(name: Any) -> None:  # noqa: N802
        """End the run with the value of the variable called `name`."""
        if isinstance(name, str) and name in ns:
            state["final"] = str(ns[name])
        elif isinstance(name, str) and name.isidentifier():
            raise NameError(f"FINAL_VAR: no variable named {name!r}; define it first, or call FINAL(text)")
        else:
            state["final"] = str(name)

    ns.update(llm_query=llm_query, llm_query_batched=llm_query_batched, rlm_query=rlm_query,
              FINAL=FINAL, FINAL_VAR=FINAL_VAR, __name__="__repl__")
    return ns


def _run_cell(code: str, ns: dict[str, Any], n: int, cap: int) -> tuple[str, str | None]:
    out = _CappedIO(cap)
    old = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = out
    error = None
    try:
        tree = ast.parse(code, filename=f"<cell-{n}>")
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, f"<cell-{n}>", "exec"), ns)
        if last is not None:
            value = eval(compile(ast.Expression(last.value), f"<cell-{n}>", "eval"), ns)
            if value is not None:
                print(repr(value) if not isinstance(value, list) else "\n".join(map(repr, value)) or "[]")
    except BaseException as exc:  # noqa: BLE001 - user code; report, never die
        if isinstance(exc, SystemExit):
            error = "SystemExit is not allowed in the REPL (use FINAL(answer) to finish)"
        else:
            frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.endswith("repl_worker.py")]
            lines = traceback.format_list(frames[-8:]) + traceback.format_exception_only(type(exc), exc)
            error = "Traceback (most recent call last):\n" + "".join(lines).rstrip()
            if len(error) > 4000:
                error = error[:2000] + "\n...\n" + error[-2000:]
    finally:
        sys.stdout, sys.stderr = old
    return out.text(), error


def _names(ns: dict[str, Any], base: set[str]) -> list[str]:
    out = []
    for k, v in list(ns.items()):
        if isinstance(k, str) and not k.startswith("_") and k not in base and not isinstance(v, type(sys)):
            out.append(f"{k[:60]}{'...' if len(k) > 60 else ''}: {type(v).__name__[:30]}")
            if len(out) == MAX_NAMES:
                break
    return out


def _reap() -> None:
    """Collect the exit status of children the last cell left (the engine killed them): zombies
    still count against the process limit."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main(argv: list[str] | None = None) -> int:
    global _proto_out, _proto_in
    p = argparse.ArgumentParser(prog="repl_worker")
    p.add_argument("--root")
    p.add_argument("--index")
    p.add_argument("--context")
    p.add_argument("--cpu", type=int, default=600)
    p.add_argument("--mem", type=int, default=4 * 1024 ** 3)
    p.add_argument("--nproc", type=int, default=64)
    p.add_argument("--fsize", type=int, default=64 * 1024 ** 2)
    p.add_argument("--output-chars", type=int, default=20_000)
    p.add_argument("--count-user-procs", action="store_true")
    a = p.parse_args(argv)
    _proto_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    _proto_in = sys.stdin
    os.dup2(2, 1)
    _set_limits(a)
    state: dict[str, Any] = {"final": None}
    try:
        ns = _namespace(a, state)
    except Exception as exc:  # noqa: BLE001
        _send({"type": "ready", "error": f"could not open the repository in the REPL: {type(exc).__name__}: {exc}"})
        return 1
    base = set(ns)
    _send({"type": "ready", "error": None, "names": sorted(k for k in base if not k.startswith("_"))})
    n = 0
    while True:
        msg = _recv()
        if msg is None or msg.get("type") == "exit":
            return 0
        if msg.get("type") != "exec":
            continue
        n += 1
        _reap()
        state["final"] = None
        start = time.monotonic()
        output, error = _run_cell(str(msg.get("code", "")), ns, n, a.output_chars)
        result = {"type": "result", "output": output, "error": error, "final": state["final"],
                  "names": _names(ns, base), "seconds": round(time.monotonic() - start, 4)}
        try:
            _send(result)
        except MessageTooLarge as exc:
            _send({**result, "final": None, "error": f"FINAL's answer could not be passed on: {exc}"})


if __name__ == "__main__":
    sys.exit(main())
