"""The model layer: every model call of a run goes through one ModelClient.

Why one place: retries, the concurrency limit, token/USD accounting and the budget must see
every call of the run (root, sub-calls, child RLMs), and API keys stay in this process only.
litellm is imported lazily, so navigation commands never pay its ~3 s import.
"""
from __future__ import annotations

import asyncio
import ctypes
import hashlib
import json
import os
import re
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repo_rlm.agent.trace import private_dir, valid_text

# Must be set before litellm is imported anywhere: the remote price map is unreachable offline.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


# max_tokens of every call unless set: room for reasoning models, and a looping model still stops.
MAX_REPLY_TOKENS = 16_000


class ModelError(Exception):
    """A model call failed for good (after retries); the message is one line for the user."""


class BudgetExceeded(Exception):
    """The run's USD or token budget is spent; no further model call is made."""


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0
    cached_calls: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "cost_usd": round(self.cost_usd, 8)}


@dataclass
class Reply:
    text: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_s: float
    cached: bool = False
    finish_reason: str = "stop"  # "length": cut at max_tokens


def cache_dir() -> Path:
    import platformdirs
    return Path(os.environ.get("REPO_RLM_CACHE_DIR") or platformdirs.user_cache_dir("repo-rlm"))


# Environment variables that hold model-provider credentials: taken out of the environment.
SECRET_ENV_RE = re.compile(r"^(?:[A-Z0-9]+_)*API_KEY$|^AWS_SECRET_ACCESS_KEY$|^AWS_SESSION_TOKEN$|^AZURE_AD_TOKEN$")
_SECRET_KWARGS = {"AWS_SECRET_ACCESS_KEY": "aws_secret_access_key", "AWS_SESSION_TOKEN": "aws_session_token",
                  "AZURE_AD_TOKEN": "azure_ad_token"}


def take_api_keys() -> dict[str, str]:
    """Move every model-provider key out of this process's environment into the returned dict.

    Children (git, the REPL worker, anything a library starts) then never inherit them, and the
    process's original environment block, which /proc/<pid>/environ shows to any process of the
    same user, is overwritten in place so a REPL in the rlimits mode cannot read the keys there."""
    keys = {k: v for k, v in os.environ.items() if SECRET_ENV_RE.match(k) and v}
    for k in keys:
        del os.environ[k]
    if keys:
        _scrub_environ_block(set(keys))
    _TAKEN.update(keys)
    return dict(_TAKEN)


_TAKEN: dict[str, str] = {}   # every key taken so far: later configs of this process (the LSP) need them


def _scrub_environ_block(names: set[str]) -> None:
    try:
        stat = Path("/proc/self/stat").read_text()
        fields = stat[stat.rfind(")") + 2:].split()
        start, end = int(fields[47]), int(fields[48])   # env_start, env_end (fields 50 and 51)
    except (OSError, IndexError, ValueError):
        return
    if not 0 < start < end or end - start > 1 << 20:
        return
    block = ctypes.string_at(start, end - start)
    pos = 0
    for entry in block.split(b"\0"):
        name = entry.split(b"=", 1)[0].decode(errors="replace")
        if name in names and b"=" in entry:
            value_at = start + pos + len(name) + 1
            ctypes.memset(value_at, ord("x"), len(entry) - len(name) - 1)
        pos += len(entry) + 1


class ResponseCache:
    """Replies on disk keyed by model + messages, so re-asking about unchanged code is free."""

    def __init__(self, path: Path | None = None):
        self.path = path or cache_dir() / "responses.sqlite"
        private_dir(self.path.parent, narrow=path is None)
        os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        try:
            os.chmod(self.path, 0o600)
        except OSError:
            pass
        self._db = sqlite3.connect(str(self.path), timeout=5, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, reply TEXT, created REAL)")
        self._db.commit()

    @staticmethod
    def key(model: str, messages: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> str:
        blob = json.dumps([model, messages, extra or {}], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def get(self, key: str) -> str | None:
        row = self._db.execute("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, text: str) -> None:
        try:
            self._db.execute("INSERT OR REPLACE INTO replies VALUES (?, ?, ?)", (key, text, time.time()))
            self._db.commit()
        except sqlite3.Error:
            pass  # a full or locked cache must never fail a run

    def close(self) -> None:
        self._db.close()


def price(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    """USD from litellm's local price map; an unknown model costs 0 (tokens still count)."""
    import litellm
    try:
        p, c = litellm.cost_per_token(model=model, prompt_tokens=prompt_tokens,
                                      completion_tokens=completion_tokens)
        return float(p) + float(c)
    except Exception:
        return 0.0


def _retryable(exc: BaseException) -> bool:
    import litellm
    if isinstance(exc, (asyncio.TimeoutError, litellm.Timeout, litellm.RateLimitError,
                        litellm.InternalServerError, litellm.ServiceUnavailableError,
                        litellm.BadGatewayError, litellm.APIConnectionError)):
        return True
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status == 429 or status >= 500
    if isinstance(exc, (litellm.AuthenticationError, litellm.BadRequestError, litellm.NotFoundError,
                        litellm.PermissionDeniedError, litellm.ContextWindowExceededError)):
        return False
    # A malformed body surfaces as a generic APIError/JSON error: often a passing proxy fault.
    return isinstance(exc, (litellm.APIError, ValueError))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text[:300]}"


@dataclass
class ModelClient:
    """Async chat completions with retries, a concurrency cap, accounting, budget and cache."""

    api_base: str | None = None
    api_key: str | None = None
    max_concurrency: int = 16
    call_timeout_s: float = 120.0
    retries: int = 3
    backoff_s: float = 0.5
    budget_usd: float | None = None
    max_tokens_total: int | None = None
    max_reply_tokens: int = MAX_REPLY_TOKENS
    cache: ResponseCache | None = None
    secrets: dict[str, str] = field(default_factory=dict)   # from take_api_keys()
    usage: Usage = field(default_factory=Usage)
    in_flight: int = 0

    def __post_init__(self) -> None:
        self._sem = asyncio.Semaphore(self.max_concurrency)
        self._needed: dict[str, list[str]] = {}   # model -> the env names its provider reads

    def budget_left(self) -> bool:
        if self.budget_usd is not None and self.usage.cost_usd >= self.budget_usd:
            return False
        if self.max_tokens_total is not None and \
                self.usage.prompt_tokens + self.usage.completion_tokens >= self.max_tokens_total:
            return False
        return True

    def check_budget(self) -> None:
        if not self.budget_left():
            spent = f"${self.usage.cost_usd:.4f}, {self.usage.prompt_tokens + self.usage.completion_tokens} tokens"
            raise BudgetExceeded(f"budget reached ({spent})")

    async def complete(self, model: str, messages: list[dict[str, Any]], *, timeout_s: float | None = None,
                       enforce_budget: bool = True, max_tokens: int | None = None) -> Reply:
        """One chat completion of at most `max_tokens` (default: the client's max_reply_tokens);
        raises BudgetExceeded before spending past the budget."""
        if enforce_budget:
            self.check_budget()
        max_tokens = max(1, max_tokens or self.max_reply_tokens)
        key = ResponseCache.key(model, messages, {"api_base": self.api_base, "max_tokens": max_tokens}) \
            if self.cache else ""
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                self.usage.cached_calls += 1
                return Reply(hit, 0, 0, 0.0, 0.0, cached=True)
        async with self._sem:
            if enforce_budget:
                self.check_budget()  # another call may have spent it while we waited
            self.in_flight += 1
            try:
                reply = await self._with_retries(model, messages, timeout_s or self.call_timeout_s, max_tokens)
            finally:
                self.in_flight -= 1
        self.usage.calls += 1
        self.usage.prompt_tokens += reply.prompt_tokens
        self.usage.completion_tokens += reply.completion_tokens
        self.usage.cost_usd += reply.cost_usd
        if self.cache is not None and reply.text:
            self.cache.put(key, reply.text)
        return reply

    def _credentials(self, model: str) -> dict[str, str]:
        """The keys taken from the environment that this model's provider needs, as litellm kwargs."""
        if not self.secrets:
            return {}
        if model not in self._needed:
            import litellm
            try:
                self._needed[model] = list(litellm.validate_environment(model=model).get("missing_keys") or [])
            except Exception:  # noqa: BLE001 - an unknown provider: nothing to pass
                self._needed[model] = []
        needed = self._needed[model]
        out: dict[str, str] = {}
        for name in needed:
            if name in self.secrets:
                if name.endswith("API_KEY"):
                    out.setdefault("api_key", self.secrets[name])
                elif name in _SECRET_KWARGS:
                    out[_SECRET_KWARGS[name]] = self.secrets[name]
        if "aws_secret_access_key" in out and "AWS_SESSION_TOKEN" in self.secrets:
            out["aws_session_token"] = self.secrets["AWS_SESSION_TOKEN"]
        return out

    async def _with_retries(self, model: str, messages: list[dict[str, Any]], timeout_s: float,
                            max_tokens: int) -> Reply:
        import litellm
        litellm.suppress_debug_info = True
        kwargs: dict[str, Any] = {"model": model, "messages": messages, "timeout": timeout_s,
                                  "max_retries": 0, "num_retries": 0, "max_tokens": max_tokens}
        if self.api_base:
            kwargs["api_base"] = self.api_base
        kwargs.update(self._credentials(model))
        if self.api_key:
            kwargs["api_key"] = self.api_key
        elif "api_key" not in kwargs and self.api_base and model.startswith("openai/") \
                and not os.environ.get("OPENAI_API_KEY"):
            kwargs["api_key"] = "sk-no-key-required"  # local vLLM / llama.cpp servers take any key
        last: BaseException | None = None
        for attempt in range(self.retries + 1):
            start = time.monotonic()
            try:
                resp = await asyncio.wait_for(litellm.acompletion(**kwargs), timeout_s + 5)
                text = resp.choices[0].message.content
                if text is None:
                    text = ""
                if not isinstance(text, str):
                    raise ValueError("reply has no text content")
                text = valid_text(text)
                usage = getattr(resp, "usage", None)
                pt = int(getattr(usage, "prompt_tokens", 0) or 0)
                ct = int(getattr(usage, "completion_tokens", 0) or 0)
                finish = str(getattr(resp.choices[0], "finish_reason", None) or "stop")
                return Reply(text, pt, ct, price(model, pt, ct), time.monotonic() - start, finish_reason=finish)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - classified below
                last = exc
                if not _retryable(exc) or attempt == self.retries:
                    break
                await asyncio.sleep(self.backoff_s * (2 ** attempt))
        assert last is not None
        raise ModelError(f"model call to {model} failed: {_one_line(last)}")
