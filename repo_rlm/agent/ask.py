"""The ask service: configuration, the run (`ask_async`) and its result.

Every front end (the CLI in repo_rlm/cli/ask.py, the language server, the MCP server) goes
through `ask_async`, so cancellation (a cancelled task) stops model calls and kills the REPL
worker in one place.
"""
from __future__ import annotations

import asyncio
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

from repo_rlm.agent.models import MAX_REPLY_TOKENS

NO_MODEL_HELP = ("No model is configured. Set REPO_RLM_MODEL (e.g. `openai/gpt-5-mini` with OPENAI_API_KEY, "
                 "`anthropic/claude-sonnet-4-5` with ANTHROPIC_API_KEY, `ollama/qwen2.5-coder:7b`) or pass "
                 "--model; for any OpenAI-compatible server use `--model openai/NAME --api-base URL`.")


@dataclass
class AskConfig:
    model: str | None = None
    sub_model: str | None = None
    api_base: str | None = None
    api_key: str | None = field(default=None, repr=False)
    max_iterations: int = 30
    max_depth: int = 1
    max_sub_calls: int = 100
    budget_usd: float | None = 1.0
    max_tokens: int | None = None
    timeout_s: float = 900.0
    trace_path: Path | None = None
    use_cache: bool = True
    context_text: str | None = None
    cell_timeout_s: float = 60.0
    call_timeout_s: float = 180.0
    max_concurrency: int = 16
    retries: int = 3
    output_chars: int = 20_000
    sandbox: str | None = None  # None: REPO_RLM_SANDBOX, else bubblewrap (fails closed); "rlimits" opts in
    secrets: dict[str, str] = field(default_factory=dict, repr=False)  # provider keys taken from the env
    strategy: str = "rlm"  # auto | rlm | direct | rag (repo_rlm.agent.strategies)
    context_window: int | None = None  # tokens; None: litellm's model map, else unchecked
    max_reply_tokens: int = MAX_REPLY_TOKENS  # max_tokens of every model call

    @classmethod
    def from_env(cls, **overrides: Any) -> "AskConfig":
        from repo_rlm.agent.models import take_api_keys

        secrets = take_api_keys()  # out of os.environ in every mode: no child inherits them
        env = {"model": os.environ.get("REPO_RLM_MODEL"), "sub_model": os.environ.get("REPO_RLM_SUB_MODEL"),
               "api_base": os.environ.get("REPO_RLM_API_BASE"), "api_key": secrets.get("REPO_RLM_API_KEY"),
               "secrets": secrets,
               "context_window": int(os.environ["REPO_RLM_CONTEXT_WINDOW"])
               if os.environ.get("REPO_RLM_CONTEXT_WINDOW", "").isdigit() else None}
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in env.items() if v}
        values.update({k: v for k, v in overrides.items() if v is not None and k in known})
        return cls(**values)


@dataclass
class AskResult:
    answer: str
    citations: list[dict[str, Any]] = field(default_factory=list)
    stopped: str = "final"
    iterations: int = 0
    sub_calls: int = 0
    depth_reached: int = 0
    usage: dict[str, Any] = field(default_factory=lambda: {"prompt_tokens": 0, "completion_tokens": 0,
                                                           "cost_usd": 0.0})
    trace: str | None = None
    notes: list[str] = field(default_factory=list)
    strategy: str = "rlm"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def retrieval_only(repo: Any, question: str, context: str | None = None) -> AskResult:
    """SPEC's fallback without a model: the best search hits (or passages of the context text),
    labelled as retrieval only."""
    if repo is None:
        return _context_passages(context or "", question)
    hits = list(repo.search(question, 10))
    lines = [f"{i}. `{h.path}:{h.start_line}-{h.end_line}` {h.kind} {h.symbol}".rstrip() + f" (score {h.score:.2f})"
             for i, h in enumerate(hits, 1)]
    text = ("**Retrieval only (no model configured): these are search hits, not an answer.**\n\n"
            + ("\n".join(lines) or "No matching code found.") + f"\n\n{NO_MODEL_HELP}")
    cites = [{"path": h.path, "start_line": h.start_line, "end_line": h.end_line} for h in hits]
    return AskResult(text, cites, stopped="no_model")


def _context_passages(text: str, question: str) -> AskResult:
    from repo_rlm.query.search import passages

    lines = text.split("\n")
    found = passages(text, question)
    blocks = [f"Lines {s}-{e} (score {score:.2f}):\n\n" + "\n".join("    " + ln for ln in lines[s - 1:e])
              for s, e, score in found]
    body = "\n\n".join(blocks) or "No matching passage found."
    return AskResult("**Retrieval only (no model configured): these are the best matching passages of the "
                     f"context file, not an answer.**\n\n{body}\n\n{NO_MODEL_HELP}", stopped="no_model")


async def ask_async(repo: Any, question: str, config: AskConfig,
                    on_progress: Callable[[dict[str, Any]], None] | None = None) -> AskResult:
    """Run the RLM on `question` over `repo` (or over config.context_text when repo is None)."""
    if not config.model:
        return retrieval_only(repo, question, config.context_text)
    from repo_rlm.agent.citations import check_citations
    from repo_rlm.agent.engine import Engine, Shared
    from repo_rlm.agent.models import ModelClient, ModelError, ResponseCache
    from repo_rlm.agent.repl import ReplError
    from repo_rlm.agent.strategies import choose, plain_answer
    from repo_rlm.agent.trace import Trace, default_trace_path
    from repo_rlm.agent.window import WindowTooSmall

    cache = ResponseCache() if config.use_cache else None
    client = ModelClient(api_base=config.api_base, api_key=config.api_key, max_concurrency=config.max_concurrency,
                         call_timeout_s=config.call_timeout_s, retries=config.retries, budget_usd=config.budget_usd,
                         max_tokens_total=config.max_tokens, max_reply_tokens=config.max_reply_tokens, cache=cache,
                         secrets=config.secrets)
    trace_path = Path(config.trace_path) if config.trace_path else default_trace_path()
    trace = Trace(trace_path)
    shared = Shared(client, config, trace, time.monotonic() + config.timeout_s, on_progress)
    context = config.context_text if repo is None else None
    engine = Engine(shared, 0, repo=repo, context=context)
    strategy, why = choose(repo, config)
    trace.event("run_start", question=question, model=config.model, sub_model=config.sub_model,
                max_iterations=config.max_iterations, max_depth=config.max_depth,
                max_sub_calls=config.max_sub_calls, budget_usd=config.budget_usd, timeout_s=config.timeout_s,
                strategy=strategy, strategy_reason=why)
    notes: list[str] = []
    try:
        try:
            if strategy == "rlm":
                answer, stopped, iterations = await engine.run(question)
            else:
                answer, stopped, iterations = await plain_answer(shared, repo, question, strategy)
        except (ModelError, ReplError, WindowTooSmall) as exc:
            answer, stopped, iterations = f"Error: {exc}", "error", getattr(engine, "iterations", 0)
            notes.append(str(exc))
        replied = client.usage.calls + client.usage.cached_calls > 0
        if strategy == "rlm" and shared.code_turns == 0 and stopped != "error" and replied:  # blame it only if it answered
            notes.append("The model never produced code: it did not use the REPL, so this answer is not grounded "
                         "in the repository. Try a stronger root model.")
        notes += [e for e in shared.errors if e not in notes]
        citations: list[dict[str, Any]] = []
        if repo is not None:
            answer, citations = check_citations(answer, Path(repo.root), repo.files,
                                                deadline=max(shared.deadline, time.monotonic() + 2.0))
        result = AskResult(answer, citations, stopped, iterations, shared.sub_calls, shared.depth_reached,
                           client.usage.to_dict(), str(trace_path), notes, strategy)
        trace.event("run_end", **{k: v for k, v in result.to_dict().items() if k != "trace"})
    finally:  # also on cancellation: the engine has already killed its REPL worker
        if cache is not None:
            cache.close()
        trace.close()
    return result


def ask(repo: Any, question: str, config: AskConfig,
        on_progress: Callable[[dict[str, Any]], None] | None = None) -> AskResult:
    """Synchronous wrapper of ask_async."""
    return asyncio.run(ask_async(repo, question, config, on_progress))
