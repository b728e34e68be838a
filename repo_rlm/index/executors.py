"""Where extraction runs: in this process, a local process pool, or a Ray cluster.

Extraction is a pure function of blobs: a task gets a batch of (blob id, language, content) and
hands back each blob's facts encoded for the fact cache, so a task never touches the file
system or the index and can run on any machine. The index is assembled in this process.
Executors keep a bounded number of batches in flight, so memory does not grow with the tree.
While they wait for a task, they give the parent's own work a turn (`idle`).
"""
from __future__ import annotations

import os
import socket
import threading
from collections import deque
from typing import Callable, Iterable, Iterator

from . import factcache
from .parse import extract, text_facts

Batch = list[tuple[str, str, bytes]]  # (blob, lang, content)
Result = list[tuple[str, str, bytes]]  # (blob, lang, factcache.encode(facts))
Idle = Callable[[], bool] | None  # one piece of the parent's own work; False when none is left
EXECUTORS = ("auto", "process", "inprocess", "ray")


class ExecutorError(Exception):
    """The executor cannot run here (Ray missing or unreachable): a one-line message for the user."""


def extract_batch(batch: Batch) -> Result:
    """Task body: extract every blob of a batch. A grammar crash on one blob makes it a text file."""
    out = []
    for blob, lang, data in batch:
        try:
            facts = extract(lang, data, blob)
        except Exception:  # noqa: BLE001 - one bad file must not fail the batch
            facts = text_facts("", data, lang)
            facts.parse_error = True
        out.append((blob, lang, factcache.encode(facts)))
    return out


class InProcess:
    name = "inprocess"

    def map(self, batches: Iterable[Batch], idle: Idle = None) -> Iterator[Result]:
        for b in batches:  # nothing to wait for: the parent's own work is done when it is needed
            yield extract_batch(b) if b else []

    def close(self) -> None:
        pass


class ProcessPool:
    """multiprocessing on this machine (fork when no other thread runs, else spawn)."""

    name = "process"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or max(1, min(os.cpu_count() or 1, 8))
        self.pool = None  # started at the first batch: a build that finds everything cached needs none

    def map(self, batches: Iterable[Batch], idle: Idle = None) -> Iterator[Result]:
        window: deque = deque()

        def first():
            while idle is not None and not window[0].ready() and idle():
                pass
            return window.popleft().get()

        for b in batches:
            if not b:
                yield []
                continue
            if self.pool is None:
                import multiprocessing  # here: a re-check that finds nothing to extract starts faster without it

                method = "fork" if threading.active_count() == 1 else "spawn"
                self.pool = multiprocessing.get_context(method).Pool(self.workers)
            window.append(self.pool.apply_async(extract_batch, (b,)))
            while len(window) >= 2 * self.workers or (window and window[0].ready()):
                yield first()
        while window:
            yield first()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()


class RayExecutor:
    """Batches as Ray tasks on the cluster at RAY_ADDRESS (or a local one started here)."""

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        self.address = address if address is not None else os.environ.get("RAY_ADDRESS")
        where = self.address or "a local cluster"
        try:
            import ray
        except ImportError:
            raise ExecutorError("--executor ray needs Ray: pip install 'repo-rlm[ray]' "
                                f"(RAY_ADDRESS={self.address or 'unset'})") from None
        self.ray = ray
        self._started = False
        if self.address and not _reachable(self.address):  # ray.init retries an unreachable address for minutes
            raise ExecutorError(f"cannot reach the Ray cluster at {self.address} (RAY_ADDRESS); start it with "
                                "`ray start --head`, or install the extra where missing: pip install 'repo-rlm[ray]'")
        try:
            if not ray.is_initialized():
                kw = {"address": self.address} if self.address else {"num_cpus": num_cpus or os.cpu_count() or 1}
                ray.init(**kw, include_dashboard=False, log_to_driver=False, configure_logging=False)
                self._started = True
        except Exception as exc:  # noqa: BLE001 - ConnectionError, RuntimeError, ... all mean: unreachable
            first = (str(exc) or type(exc).__name__).splitlines()[0][:160]
            raise ExecutorError(f"cannot reach the Ray cluster at {where} ({first}); "
                                "check RAY_ADDRESS, or install the extra: pip install 'repo-rlm[ray]'") from None
        self.task = ray.remote(extract_batch)
        self.slots = max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))

    def map(self, batches: Iterable[Batch], idle: Idle = None) -> Iterator[Result]:
        ray, pending = self.ray, []

        def first():
            nonlocal pending
            done: list = []
            while idle is not None and not done:
                done, pending = ray.wait(pending, num_returns=1, timeout=0)
                if not done and not idle():
                    break
            if not done:
                done, pending = ray.wait(pending, num_returns=1)
            return ray.get(done[0])

        for b in batches:
            if not b:
                yield []
                continue
            pending.append(self.task.remote(b))
            while len(pending) >= self.slots:
                yield first()
        while pending:
            yield first()

    def close(self) -> None:
        if self._started:
            self.ray.shutdown()


def _reachable(address: str, timeout: float = 3.0) -> bool:
    """Whether something listens at a `host:port` or `ray://host:port` address (`auto`/`local`: Ray decides)."""
    hostport = address.split("://", 1)[-1]
    if ":" not in hostport:
        return True
    host, _, port = hostport.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def make(name: str, files: int, inprocess_below: int) -> InProcess | ProcessPool | RayExecutor:
    """The executor called `name` for up to `files` files; `auto`: a pool when there are enough files and CPUs."""
    if name == "ray":
        return RayExecutor()
    if name == "inprocess" or (name == "auto" and (files < inprocess_below or (os.cpu_count() or 1) < 2)):
        return InProcess()
    return ProcessPool()
