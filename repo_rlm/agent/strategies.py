"""The ways `ask` can answer: `rlm` (the engine), `direct`, `rag`, and `auto` choosing between them.

Why more than the RLM: when the input fits the model's window, a plain call over it beats an
RLM (field notes); `rag` is the retrieval baseline the evaluation harness compares against.
`direct` sends the question with as much of the input as fits, most relevant files first;
`rag` sends the top search hits; both are one model call.
"""
from __future__ import annotations

import asyncio
from typing import Any

from repo_rlm.agent.metadata import prompt
from repo_rlm.agent.models import BudgetExceeded
from repo_rlm.agent.replies import collapse_repeats
from repo_rlm.agent.window import MIN_REPLY, WindowTooSmall, context_window, count_tokens

STRATEGIES = ("auto", "rlm", "direct", "rag")
ASSUMED_WINDOW = 32_000  # when neither the user nor litellm knows the model's window
AUTO_SHARE = 0.5  # auto answers directly when the whole input takes at most this share of the window
CHARS_PER_TOKEN = 3.0  # conservative for code: packing must not overflow the window
RAG_HITS = 12
RAG_CONTEXT_LINES = 3


def _numbered(path: str, start: int, lines: list[str]) -> str:
    width = len(str(start + len(lines)))
    body = "\n".join(f"{i:>{width}}| {line}" for i, line in enumerate(lines, start))
    return f"### {path}:{start}-{start + len(lines) - 1}\n{body}\n"


def _input_tokens(repo: Any, context: str | None) -> int:
    size = len(context or "") if repo is None else int(repo.stats.get("bytes", 0))
    return int(size / CHARS_PER_TOKEN)


def choose(repo: Any, config: Any) -> tuple[str, str]:
    """The strategy to run and why (recorded in the trace)."""
    if config.strategy != "auto":
        return config.strategy, "chosen by the user"
    window = context_window(config) or ASSUMED_WINDOW
    need = _input_tokens(repo, config.context_text if repo is None else None)
    if need <= AUTO_SHARE * window:
        return "direct", f"the input (~{need:,} tokens) fits comfortably in the {window:,}-token window"
    return "rlm", f"the input (~{need:,} tokens) does not fit comfortably in the {window:,}-token window"


def _context_chunks(text: str, size: int = 60) -> list[tuple[str, int, list[str]]]:
    lines = text.split("\n")
    return [("context", i + 1, lines[i:i + size]) for i in range(0, len(lines), size)]


def _rank_context(chunks: list[tuple[str, int, list[str]]], question: str) -> list[tuple[str, int, list[str]]]:
    from repo_rlm.query.search import terms
    words = terms(question)

    def score(chunk: tuple[str, int, list[str]]) -> int:
        low = "\n".join(chunk[2]).lower()
        return sum(low.count(w) for w in words)
    return sorted(chunks, key=lambda c: -score(c))


def _lines(repo: Any, path: str) -> list[str]:
    try:
        lines = repo.read(path).split("\n")
    except Exception:  # noqa: BLE001 - an unreadable file is skipped
        return []
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _direct_material(repo: Any, context: str | None, question: str) -> list[tuple[str, int, list[str]]]:
    """The whole input, most relevant first: files with search hits, then the rest."""
    if repo is None:
        return _context_chunks(context or "", 10 ** 9)
    order: list[str] = []
    for h in repo.search(question, 50):
        if h.path not in order:
            order.append(h.path)
    order += [f for f in repo.files() if f not in order]
    return [(path, 1, lines) for path in order if (lines := _lines(repo, path))]


def _rag_material(repo: Any, context: str | None, question: str) -> list[tuple[str, int, list[str]]]:
    if repo is None:
        return _rank_context(_context_chunks(context or ""), question)[:RAG_HITS]
    out = []
    for h in repo.search(question, RAG_HITS):
        lines = _lines(repo, h.path)
        if not lines:
            continue
        s = max(1, h.start_line - RAG_CONTEXT_LINES)
        e = min(len(lines), h.end_line + RAG_CONTEXT_LINES)
        out.append((h.path, s, lines[s - 1:e]))
    return out


def pack(material: list[tuple[str, int, list[str]]], budget_tokens: int) -> tuple[str, int, int]:
    """As many numbered pieces as fit `budget_tokens`; a piece that does not fit whole is cut.
    Returns (text, pieces included whole, pieces in all)."""
    budget = int(budget_tokens * CHARS_PER_TOKEN)
    parts, whole = [], 0
    for path, start, lines in material:
        text = _numbered(path, start, lines)
        if len(text) <= budget:
            parts.append(text)
            budget -= len(text)
            whole += 1
            continue
        keep, used = [], 0
        for line in lines:
            used += len(line) + 8
            if used > budget:
                break
            keep.append(line)
        if keep:
            parts.append(_numbered(path, start, keep) + f"[... cut: {len(lines) - len(keep)} more lines]\n")
        break
    return "\n".join(parts), whole, len(material)


async def plain_answer(shared: Any, repo: Any, question: str, strategy: str) -> tuple[str, str, int]:
    """One call for `direct` or `rag`. Returns (answer, stopped, iterations)."""
    cfg = shared.config
    context = cfg.context_text if repo is None else None
    window = context_window(cfg) or ASSUMED_WINDOW
    reply_cap = min(int(cfg.max_reply_tokens), max(MIN_REPLY, window // 4))
    system = prompt("plain", subject="a code repository" if repo is not None else "a long text input")
    skeleton = [{"role": "system", "content": system},
                {"role": "user", "content": prompt("plain_user", question=question, material="")}]
    room = window - count_tokens(cfg.model, skeleton) - reply_cap
    if room < MIN_REPLY:
        raise WindowTooSmall(f"the model's context window ({window:,} tokens) is too small for the question "
                             f"and a reply; use a model with a larger window (or set --context-window)")
    material = (_direct_material if strategy == "direct" else _rag_material)(repo, context, question)
    text, whole, total = pack(material, room)
    shared.trace.event("strategy_input", 0, strategy=strategy, pieces=whole, of=total, chars=len(text),
                       window=window)
    if strategy == "direct" and whole < total:
        shared.errors.append(f"direct: {whole} of {total} files fit the model's window; the rest were not sent")
    messages = [skeleton[0], {"role": "user", "content": prompt("plain_user", question=question,
                                                                  material=text or "(no matching code found)")}]
    shared.iteration = 1
    shared.progress(f"{strategy} call")
    try:
        reply = await asyncio.wait_for(
            shared.client.complete(cfg.model, messages, timeout_s=max(1.0, min(cfg.call_timeout_s, shared.remaining())),
                                   max_tokens=reply_cap), max(0.01, shared.remaining()))
    except asyncio.TimeoutError:
        return "_No answer: the wall-time limit was reached._", "timeout", 1
    except BudgetExceeded as exc:
        return f"_No answer: {exc}._", "budget", 0
    answer = reply.text
    if reply.finish_reason == "length":
        answer = collapse_repeats(answer)
        shared.errors.append(f"the reply was cut at the {reply_cap}-token reply limit")
    shared.trace.event("model_call", 0, model=cfg.model, step=f"{strategy} call", messages=messages, reply=answer,
                       prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens,
                       cost_usd=reply.cost_usd, latency_s=round(reply.latency_s, 4), cached=reply.cached,
                       max_tokens=reply_cap, finish_reason=reply.finish_reason)
    shared.progress(f"{strategy} call")
    return answer, "final", 1

