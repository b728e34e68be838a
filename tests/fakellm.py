"""A fake OpenAI-compatible /v1/chat/completions server on 127.0.0.1 for tests and the bench.

Tests reach it through the real litellm HTTP path (model `openai/gpt-4o-mini`, api_base
pointing here), so retries, token counting and pricing are exercised for real.

A handler maps each request body to a reply: a string (the content), or a Fault.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable

try:
    import pytest
except ImportError:  # the bench uses the server without pytest
    pytest = None  # type: ignore[assignment]

MODEL = "openai/gpt-4o-mini"


@dataclass
class Fault:
    kind: str  # "429", "500", "hang", "malformed"
    seconds: float = 30.0


@dataclass
class Delay:
    """Reply `text` after `seconds` (overrides the server's latency)."""
    text: str
    seconds: float


@dataclass
class Cut:
    """Reply `text` as if cut at max_tokens (finish_reason "length")."""
    text: str


Handler = Callable[[dict[str, Any]], Any]


class FakeLLM:
    def __init__(self, handler: Handler | None = None, latency: float = 0.0):
        self.handler: Handler = handler or (lambda req: "ok")
        self.latency = latency
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str] = []   # the Authorization header of each request
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.in_flight = 0
        self.max_in_flight = 0
        fake = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else headers and body wait on delayed ACKs (40 ms)

            def log_message(self, *a: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with fake._lock:
                    fake.requests.append(body)
                    fake.auth.append(self.headers.get("Authorization", ""))
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    fake._serve(self, body)
                finally:
                    with fake._lock:
                        fake.in_flight -= 1

        self.server = _Server(("127.0.0.1", 0), _H)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.api_base = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "FakeLLM":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def _serve(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        try:
            out = self.handler(body)
        except Exception as exc:  # a broken script shows up as a 500 with the reason
            out = Fault("500")
            out.reason = repr(exc)  # type: ignore[attr-defined]
        delay = self.latency
        if isinstance(out, Delay):
            delay, out = out.seconds, out.text
        if isinstance(out, Fault):
            if out.kind == "hang":
                self._release.wait(out.seconds)
                return _send(h, 500, b'{"error": {"message": "hung"}}')
            if out.kind == "malformed":
                return _send(h, 200, b'{"id": "x", "choices": [ this is not json')
            code = int(out.kind)
            msg = {"429": "rate limited", "500": "internal error"}.get(out.kind, "error")
            return _send(h, code, json.dumps({"error": {"message": msg, "type": "fault", "code": code}}).encode())
        if delay:
            time.sleep(delay)
        finish = "length" if isinstance(out, Cut) else "stop"
        text = out.text if isinstance(out, Cut) else str(out)
        prompt_tokens = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4 + 1
        completion_tokens = len(text) // 4 + 1
        payload = {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "gpt-4o-mini"),
            "choices": [{"index": 0, "finish_reason": finish,
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }
        _send(h, 200, json.dumps(payload).encode())


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default backlog of 5 drops SYNs under a 16-way fan-out (1 s retransmits)
    daemon_threads = True


def _send(h: BaseHTTPRequestHandler, code: int, data: bytes) -> None:
    try:
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
    except OSError:
        pass  # the client gave up (timeout test)


# --- helpers to script sessions -------------------------------------------------------------

def is_root(req: dict[str, Any]) -> bool:
    """Root (RLM) requests carry the REPL system prompt; sub-calls do not."""
    msgs = req.get("messages", [])
    return bool(msgs) and msgs[0].get("role") == "system" and "```repl" in str(msgs[0].get("content", ""))


def last_user(req: dict[str, Any]) -> str:
    for m in reversed(req.get("messages", [])):
        if m.get("role") == "user":
            return str(m.get("content", ""))
    return ""


def repl(code: str) -> str:
    return f"```repl\n{code.strip()}\n```"


class Script:
    """Root replies in order (the last one repeats); sub-calls answered by `sub`."""

    def __init__(self, root: Iterable[Any], sub: Callable[[str], Any] | None = None):
        self.root = list(root)
        self.sub = sub or (lambda prompt: f"SUB[{prompt[:40]}]")
        self.i = 0
        self._lock = threading.Lock()

    def __call__(self, req: dict[str, Any]) -> Any:
        if is_root(req):
            with self._lock:
                out = self.root[min(self.i, len(self.root) - 1)]
                self.i += 1
            return out(req) if callable(out) else out
        return self.sub(last_user(req))


def _fake_llm():
    server = FakeLLM().start()
    try:
        yield server
    finally:
        server.stop()


if pytest is not None:
    fake_llm = pytest.fixture(_fake_llm, name="fake_llm")
