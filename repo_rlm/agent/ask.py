"""`repo-rlm ask`: configuration, the run, and its terminal / JSON presentation.

The CLI and the language server both go through `ask_async`, so cancellation (a cancelled
task) stops model calls and kills the REPL worker in one place.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
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
    api_key: str | None = None
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
    sandbox: str | None = None  # None: bubblewrap when usable; "rlimits" forces the fallback
    strategy: str = "rlm"  # auto | rlm | direct | rag (repo_rlm.agent.strategies)
    context_window: int | None = None  # tokens; None: litellm's model map, else unchecked
    max_reply_tokens: int = MAX_REPLY_TOKENS  # max_tokens of every model call

    @classmethod
    def from_env(cls, **overrides: Any) -> "AskConfig":
        env = {"model": os.environ.get("REPO_RLM_MODEL"), "sub_model": os.environ.get("REPO_RLM_SUB_MODEL"),
               "api_base": os.environ.get("REPO_RLM_API_BASE"), "api_key": os.environ.get("REPO_RLM_API_KEY"),
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


def retrieval_only(repo: Any, question: str) -> AskResult:
    """SPEC's fallback without a model: the best search hits, labelled as retrieval only."""
    if repo is None:
        return AskResult(f"**Retrieval only (no model configured).**\n\n{NO_MODEL_HELP}", stopped="no_model")
    hits = list(repo.search(question, 10))
    lines = [f"{i}. `{h.path}:{h.start_line}-{h.end_line}` {h.kind} {h.symbol}".rstrip() + f" (score {h.score:.2f})"
             for i, h in enumerate(hits, 1)]
    text = ("**Retrieval only (no model configured): these are search hits, not an answer.**\n\n"
            + ("\n".join(lines) or "No matching code found.") + f"\n\n{NO_MODEL_HELP}")
    cites = [{"path": h.path, "start_line": h.start_line, "end_line": h.end_line} for h in hits]
    return AskResult(text, cites, stopped="no_model")


async def ask_async(repo: Any, question: str, config: AskConfig,
                    on_progress: Callable[[dict[str, Any]], None] | None = None) -> AskResult:
    """Run the RLM on `question` over `repo` (or over config.context_text when repo is None)."""
    if not config.model:
        return retrieval_only(repo, question)
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
                         max_tokens_total=config.max_tokens, max_reply_tokens=config.max_reply_tokens, cache=cache)
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
        if strategy == "rlm" and shared.code_turns == 0 and stopped != "error":
            notes.append("The model never produced code: it did not use the REPL, so this answer is not grounded "
                         "in the repository. Try a stronger root model.")
        notes += [e for e in shared.errors if e not in notes]
        citations: list[dict[str, Any]] = []
        if repo is not None:
            answer, citations = check_citations(answer, Path(repo.root), repo.files)
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("question", metavar="QUESTION", help="the question to answer")
    parser.add_argument("--model", help="root model, litellm name (env REPO_RLM_MODEL)")
    parser.add_argument("--sub-model", help="model for sub-calls (env REPO_RLM_SUB_MODEL; default: the root model)")
    parser.add_argument("--api-base", help="base URL of an OpenAI-compatible server (env REPO_RLM_API_BASE)")
    parser.add_argument("--max-iterations", type=int, help="root turns (default 30)")
    parser.add_argument("--max-depth", type=int, help="recursion depth; 2 lets rlm_query start child RLMs (default 1)")
    parser.add_argument("--max-sub-calls", type=int, help="sub-calls in the whole run (default 100)")
    parser.add_argument("--budget", type=float, dest="budget_usd", help="USD for the whole run (default 1.0)")
    parser.add_argument("--max-tokens", type=int, help="tokens for the whole run (default: no limit)")
    parser.add_argument("--timeout", type=float, dest="timeout_s", help="wall-time seconds (default 900)")
    parser.add_argument("--trace", type=Path, dest="trace_path", help="JSONL trace file (default: in the user cache dir)")
    parser.add_argument("--no-cache", action="store_true", help="bypass the on-disk response cache")
    parser.add_argument("--context", type=Path, dest="context_file", help="answer about this text file instead of the repository")
    parser.add_argument("--strategy", choices=["auto", "rlm", "direct", "rag"],
                        help="rlm (default): the recursive agent; direct: the question with as much code as fits "
                             "the window; rag: the top search hits; auto: direct when the input fits, else rlm")
    parser.add_argument("--context-window", type=int, help="the model's window in tokens (env REPO_RLM_CONTEXT_WINDOW; "
                        "default: litellm's model map)")
    parser.add_argument("--max-reply-tokens", type=int, help=f"max_tokens of each model call (default {MAX_REPLY_TOKENS}, "
                        "less when the window has less room)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


class _Progress:
    """Live progress on stderr: iteration, sub-calls in flight, tokens, cost."""

    def __init__(self) -> None:
        from rich.console import Console
        self.console = Console(stderr=True)
        self.status = None
        self.last = ""
        if self.console.is_terminal:
            self.status = self.console.status("starting")
            self.status.start()

    def __call__(self, ev: dict[str, Any]) -> None:
        text = (f"iteration {ev['iteration']}/{ev['max_iterations']} · {ev['step']} · sub-calls {ev['sub_calls']}"
                f" ({ev['sub_calls_in_flight']} in flight) · tokens {ev['prompt_tokens'] + ev['completion_tokens']:,}"
                f" · ${ev['cost_usd']:.4f}")
        if self.status is not None:
            self.status.update(text)
        elif text.split(" · ")[0] != self.last.split(" · ")[0]:
            self.console.print(text, highlight=False)
        self.last = text

    def stop(self) -> None:
        if self.status is not None:
            self.status.stop()


def _fail(msg: str, code: int) -> int:
    print(f"repo-rlm ask: {msg}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    """The `ask` command. Exit 0 on an answer (also partial or retrieval-only), 2 on bad input, 1 on errors."""
    overrides = {k: getattr(args, k, None) for k in ("model", "sub_model", "api_base", "max_iterations", "max_depth",
                                                     "max_sub_calls", "budget_usd", "max_tokens", "timeout_s",
                                                     "trace_path", "strategy", "context_window",
                                                     "max_reply_tokens")}
    config = AskConfig.from_env(**overrides)
    config.use_cache = not getattr(args, "no_cache", False)
    repo = None
    context_file = getattr(args, "context_file", None)
    try:
        if context_file is not None:
            config.context_text = Path(context_file).read_text(encoding="utf-8", errors="replace")
        else:
            from repo_rlm.query.repo import Repo
            repo = Repo.open(getattr(args, "repo", None), index_path=getattr(args, "index", None))
    except Exception as exc:  # noqa: BLE001 - RepoError is bad input: exit 2
        if type(exc).__name__ != "RepoError" and not isinstance(exc, (OSError, ValueError)):
            return _fail(f"{type(exc).__name__}: {' '.join(str(exc).split())}", 1)
        if isinstance(exc, FileNotFoundError):
            return _fail(f"no such file or directory: {exc.filename or exc}", 2)
        return _fail(" ".join(str(exc).split()) or type(exc).__name__, 2)
    progress = _Progress() if config.model else None
    try:
        result = ask(repo, args.question, config, progress)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except Exception as exc:  # noqa: BLE001
        return _fail(f"{type(exc).__name__}: {' '.join(str(exc).split())}", 1)
    finally:
        if progress is not None:
            progress.stop()
    if getattr(args, "json", False):
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        _render(result)
    if result.stopped == "error":
        print(f"repo-rlm ask: {result.notes[0] if result.notes else result.answer}", file=sys.stderr)
        return 1
    return 0


def _render(result: AskResult) -> None:
    from rich.console import Console
    from rich.markdown import Markdown
    out, err = Console(), Console(stderr=True)
    out.print(Markdown(result.answer))
    if result.citations:
        out.print()
        out.print("Sources: " + ", ".join(f"{c['path']}:{c['start_line']}" + (f"-{c['end_line']}" if c["end_line"] != c["start_line"] else "")
                                          for c in result.citations),
                  highlight=False, soft_wrap=True)
    for note in result.notes:
        err.print(f"note: {note}", highlight=False, style="yellow")
    u = result.usage
    err.print(f"stopped: {result.stopped} · {result.iterations} iterations · {result.sub_calls} sub-calls · "
              f"{u['prompt_tokens'] + u['completion_tokens']:,} tokens · ${u['cost_usd']:.4f}"
              + (f" · trace {result.trace}" if result.trace else ""), highlight=False, style="dim")
