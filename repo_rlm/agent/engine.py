"""The RLM loop: one plain loop, like mini-swe-agent's default agent.

The root model sees metadata only; each reply's `repl` blocks run in the sandboxed worker and
their truncated output goes back. Sub-calls relayed by the worker are served here, so keys,
budgets, caps and concurrency stay in one process. `rlm_query` starts a child Engine one level
deeper, with its own REPL, sharing the run's limits.
"""
from __future__ import annotations

import ast
import asyncio
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from repo_rlm.agent.metadata import context_metadata, prompt, repo_metadata
from repo_rlm.agent.models import BudgetExceeded, ModelClient, ModelError
from repo_rlm.agent.repl import Repl
from repo_rlm.agent.replies import code_blocks, collapse_repeats, fences
from repo_rlm.agent.sandbox import Limits
from repo_rlm.agent.trace import Trace, valid_text
from repo_rlm.agent.window import check_first_prompt, count_tokens, fit_history, reply_budget

BLOCK_TAGS = ("repl",)                                              # only `repl` blocks run; `python` is text
FENCE_RE = re.compile(r"```[^\n]*\n.*?(?:```|\Z)", re.S)           # any fenced block: not prose
FINAL_START_RE = re.compile(r"^[ \t]*FINAL(?:_VAR)?\(", re.M)
MAX_FINAL_CHARS = 100_000   # a prose FINAL(...) longer than this is not parsed
CUT_NOTE = ("\n\n[Your previous reply was cut at the {n}-token reply limit{what}. Write shorter replies: "
            "one small `repl` block, no repetition.]")
@dataclass
class Shared:
    """State of one run, shared by the root engine and every child."""
    client: ModelClient
    config: Any  # repo_rlm.agent.ask.AskConfig
    trace: Trace
    deadline: float
    on_progress: Callable[[dict[str, Any]], None] | None = None
    sub_calls: int = 0
    in_flight: int = 0
    depth_reached: int = 0
    iteration: int = 0
    code_turns: int = 0
    stop: str | None = None
    errors: list[str] = field(default_factory=list)

    def progress(self, step: str) -> None:
        if self.on_progress:
            u = self.client.usage
            self.on_progress({"iteration": self.iteration, "max_iterations": self.config.max_iterations,
                              "step": step, "sub_calls": self.sub_calls, "sub_calls_in_flight": self.in_flight,
                              "prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
                              "cost_usd": u.cost_usd})

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


def parse_final_line(text: str) -> tuple[bool, str] | None:
    """A `FINAL(...)` / `FINAL_VAR(...)` written outside code blocks: (is_var, argument), only when
    the whole line (or lines, for a multi-line string) parses as exactly that call. FINAL's
    argument is a literal, or else its source text; FINAL_VAR's a name or a string."""
    prose = FENCE_RE.sub("", text)
    for n, m in enumerate(FINAL_START_RE.finditer(prose)):
        if n == 5:
            break
        seg, tries = "", 0
        for line in prose[m.start():m.start() + MAX_FINAL_CHARS + 1].split("\n"):
            seg = f"{seg}\n{line}" if seg else line
            if len(seg) > MAX_FINAL_CHARS or tries == 40:
                break
            if not line.rstrip().endswith(")"):
                continue
            tries += 1
            found = _final_call(seg.strip())
            if found is not None:
                return found
    return None


def _final_call(src: str) -> tuple[bool, str] | None:
    try:
        tree = ast.parse(src, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    call = tree.body
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in ("FINAL", "FINAL_VAR")
            and len(call.args) == 1 and not call.keywords):
        return None
    arg = call.args[0]
    is_var = call.func.id == "FINAL_VAR"
    if is_var:
        if isinstance(arg, ast.Name):
            return True, arg.id
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return True, arg.value
        return None
    try:
        value = ast.literal_eval(arg)
        return False, value if isinstance(value, str) else str(value)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        return False, ast.get_source_segment(src, arg) or ""


class Engine:
    def __init__(self, shared: Shared, depth: int = 0, repo: Any = None, context: str | None = None):
        self.s, self.depth, self.repo, self.context = shared, depth, repo, context
        self.cfg = shared.config
        self.messages: list[dict[str, str]] = []
        self.cell_errors: list[str] = []
        self.last_output = ""
        self.window: int | None = None
        self.last_cut: int | None = None  # max_tokens of the last reply when it was cut there

    def _system(self) -> str:
        subject = "a code repository" if self.context is None else "a long text input"
        short = "the repository" if self.context is None else "the input"
        can_recurse = self.depth + 1 < self.cfg.max_depth
        return prompt("root", subject=subject, subject_short=short, output_chars=f"{self.cfg.output_chars:,}",
                      helpers=prompt("helpers_repo" if self.context is None else "helpers_context"),
                      depth_note="" if can_recurse else " At this depth, `rlm_query` is a plain `llm_query`.",
                      max_iterations=self.cfg.max_iterations, max_sub_calls=self.cfg.max_sub_calls,
                      budget=f"a budget of ${self.cfg.budget_usd:g}" if self.cfg.budget_usd else "no USD budget",
                      cell_timeout=f"{self.cfg.cell_timeout_s:g}")

    async def run(self, question: str) -> tuple[str, str, int]:
        """Returns (answer, stopped, iterations)."""
        question = valid_text(question)
        self.question, self.iterations = question, 0
        repl = Repl(root=None if self.repo is None else Path(self.repo.root),
                    index_path=None if self.repo is None else Path(self.repo.index_path),
                    context_text=self.context, on_call=self._on_call, sandbox=self.cfg.sandbox,
                    limits=Limits(cell_timeout_s=self.cfg.cell_timeout_s, output_chars=self.cfg.output_chars))
        self.repl = repl
        conn = getattr(self.repo, "conn", None)
        if conn is not None:  # the worker reads the index read-only: fold the WAL into the main file first
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except Exception:  # noqa: BLE001 - a busy index is still readable through the WAL
                pass
        try:
            await repl.start()
            meta = valid_text(repo_metadata(self.repo) if self.context is None else context_metadata(self.context))
            short = "the repository" if self.context is None else "the input"
            self.messages = [{"role": "system", "content": self._system()},
                             {"role": "user", "content": prompt("first_turn", metadata=meta, question=question,
                                                                subject_short=short)}]
            self.window = check_first_prompt(self.cfg, self.messages)
            try:
                answer = await asyncio.wait_for(self._loop(), max(0.01, self.s.remaining()))
            except asyncio.TimeoutError:
                answer, self.s.stop = None, "timeout"
            except BudgetExceeded:
                answer, self.s.stop = None, "budget"
            if answer is not None:
                return answer, "final", self.iterations
            stopped = self.s.stop or "max_iterations"
            return await self._last_answer(stopped), stopped, self.iterations
        finally:
            repl.kill()
            await repl.close()

    async def _loop(self) -> str | None:
        short = "the repository" if self.context is None else "the input"
        for it in range(1, self.cfg.max_iterations + 1):
            if self.s.stop:
                return None
            self.iterations = it
            if self.depth == 0:
                self.s.iteration = it
            reply = await self._model(self.messages, f"turn {it}")
            self.messages.append({"role": "assistant", "content": reply})
            cut = self.last_cut
            blocks = code_blocks(reply, BLOCK_TAGS, cut=cut is not None)
            cut_note = "" if cut is None else CUT_NOTE.format(
                n=cut, what=", inside a code block: its unfinished last line was dropped" if blocks and
                fences(reply)[-1][2] is False else "")
            if not blocks:
                final = parse_final_line(reply)
                if final is not None and it > 1:
                    if not final[0]:
                        return final[1]
                    blocks = [f"FINAL_VAR({final[1]!r})"]
                else:
                    self.messages.append({"role": "user", "content": prompt("no_code", subject_short=short)
                                          + cut_note})
                    continue
            self.s.code_turns += 1
            outputs = []
            for i, code in enumerate(blocks, 1):
                self.s.progress(f"running cell {i}/{len(blocks)}")
                res = await self.repl.run_cell(code)
                self.s.trace.event("cell", self.depth, iteration=it, code=code, output=res.output, error=res.error,
                                   final=res.final, seconds=round(res.seconds, 4), reset=res.reset)
                text = res.output + (f"\n{res.error}" if res.error else "")
                if res.error:
                    self.cell_errors.append(res.error.strip().splitlines()[-1][:300])
                if res.final is not None:
                    return res.final
                outputs.append(f"[block {i} output]\n{text.strip() or '(no output)'}\n"
                               f"[variables] {', '.join(res.names) or '(none)'}")
            self.last_output = "\n\n".join(outputs)
            self.messages.append({"role": "user", "content": prompt(
                "turn", outputs=self.last_output, iteration=it, max_iterations=self.cfg.max_iterations,
                sub_calls=self.s.sub_calls, max_sub_calls=self.cfg.max_sub_calls, question=self.question)
                + cut_note})
        return None

    async def _last_answer(self, stopped: str) -> str:
        """One last request for the best answer from what was gathered (no model if the budget is spent)."""
        reason = {"max_iterations": "the turns ran out", "max_sub_calls": "the sub-call limit was reached",
                  "timeout": "the wall-time limit was reached", "budget": "the budget was spent"}.get(stopped, stopped)
        if stopped != "budget" and self.s.client.budget_left() and self.depth == 0 and len(self.messages) > 2:
            msgs = self.messages + [{"role": "user", "content": prompt("final", reason=reason, question=self.question)}]
            try:
                timeout = None if stopped != "timeout" else max(5.0, min(30.0, 0.2 * self.cfg.timeout_s))
                text = await self._model(msgs, "final answer", timeout=timeout)
                final = parse_final_line(text)
                return final[1] if final and not final[0] else text
            except (ModelError, BudgetExceeded, asyncio.TimeoutError) as exc:
                self.s.errors.append(str(exc))
        last = next((m["content"] for m in reversed(self.messages) if m["role"] == "assistant"), "")
        notes = last
        for tag, body, _ in fences(last):
            if tag in BLOCK_TAGS:
                notes = notes.replace(body, "")
        return (f"_Partial answer: the run stopped ({reason}) before the model gave its answer._\n\n"
                f"{notes.strip()[:3000]}\n\n{self.last_output[-3000:]}").strip()

    async def _model(self, messages: list[dict[str, str]], step: str, timeout: float | None = None) -> str:
        self.s.progress(step)
        call_timeout = timeout or max(1.0, min(self.cfg.call_timeout_s, self.s.remaining()))
        need = fit_history(self.cfg.model, messages, self.window, min(256, reply_budget(self.cfg, None, 0)))
        max_tokens = reply_budget(self.cfg, self.window, need)
        reply = await self.s.client.complete(self.cfg.model, messages, timeout_s=call_timeout, max_tokens=max_tokens)
        cut = reply.finish_reason == "length"
        self.last_cut = max_tokens if cut else None
        text = collapse_repeats(reply.text) if cut else reply.text  # loops run until max_tokens
        self.s.trace.event("model_call", self.depth, model=self.cfg.model, step=step, messages=messages,
                           reply=text, prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens,
                           cost_usd=reply.cost_usd, latency_s=round(reply.latency_s, 4), cached=reply.cached,
                           max_tokens=max_tokens, finish_reason=reply.finish_reason)
        self.s.progress(step)
        return text

    def _reserve(self, n: int) -> int:
        take = max(0, min(n, self.cfg.max_sub_calls - self.s.sub_calls))
        self.s.sub_calls += take
        if take < n:
            self.s.stop = self.s.stop or "max_sub_calls"
        return take

    async def _on_call(self, op: str, msg: dict[str, Any]) -> Any:
        """Serve a sub-call from the worker. The worker runs model-written code, so nothing it sends
        is trusted: prompts must be strings (a content-part list could make litellm or the provider
        fetch URLs), and a batch is checked against the sub-calls left before anything is built."""
        limit_msg = (f"sub-call limit reached ({self.cfg.max_sub_calls} used); no more sub-calls in this run: "
                     "call FINAL with what you have")
        if op == "llm_query_batched":
            prompts = msg.get("prompts")
            if not isinstance(prompts, list):
                raise TypeError(f"llm_query_batched takes a list of str, not {type(prompts).__name__}")
            left = max(0, self.cfg.max_sub_calls - self.s.sub_calls)
            if len(prompts) > left:
                if left == 0:
                    self.s.stop = self.s.stop or "max_sub_calls"
                    raise RuntimeError(limit_msg)
                raise RuntimeError(f"llm_query_batched got {len(prompts)} prompts but only {left} sub-calls are "
                                   f"left in this run (limit {self.cfg.max_sub_calls}); nothing was sent: send "
                                   "fewer, or finish with what you have")
            bad = next((p for p in prompts if not isinstance(p, str)), None)
            if bad is not None:
                raise TypeError(f"every prompt of llm_query_batched must be a str, not {type(bad).__name__}")
            take = self._reserve(len(prompts))
            results = await asyncio.gather(*(self._sub(valid_text(p)) for p in prompts[:take]),
                                           return_exceptions=True)
            return [r if isinstance(r, str) else f"ERROR: {' '.join(str(r).split())}" for r in results]
        if op not in ("llm_query", "rlm_query"):
            raise ValueError(f"unknown sub-call {op[:40]!r}")
        prompt_text, context = msg.get("prompt"), msg.get("context")
        if not isinstance(prompt_text, str):
            raise TypeError(f"{op}'s prompt must be a str, not {type(prompt_text).__name__}")
        if context is not None and not isinstance(context, str):
            raise TypeError(f"rlm_query's context must be a str or None, not {type(context).__name__}")
        if not self._reserve(1):
            raise RuntimeError(limit_msg)
        if op == "rlm_query" and self.depth + 1 < self.cfg.max_depth:
            return await self._child(valid_text(prompt_text), None if context is None else valid_text(context))
        return await self._sub(valid_text(prompt_text))

    async def _sub(self, text: str) -> str:
        depth = self.depth + 1
        self.s.depth_reached = max(self.s.depth_reached, depth)
        self.s.in_flight += 1
        self.s.progress("sub-calls")
        try:
            remaining = max(1.0, min(self.cfg.call_timeout_s, self.s.remaining()))
            msgs = [{"role": "system", "content": prompt("sub")}, {"role": "user", "content": text}]
            window = self.window if not self.cfg.sub_model else None
            need = count_tokens(self.cfg.sub_model or self.cfg.model, msgs) if window else 0
            if window and need + 64 > window:  # the server would refuse it: say so, spend nothing
                raise RuntimeError(f"sub-call prompt of about {need:,} tokens does not fit the model's "
                                   f"{window:,}-token window: send a smaller chunk")
            max_tokens = reply_budget(self.cfg, window, need)
            reply = await self.s.client.complete(self.cfg.sub_model or self.cfg.model, msgs, timeout_s=remaining,
                                                 max_tokens=max_tokens)
        except BudgetExceeded as exc:
            self.s.stop = self.s.stop or "budget"
            raise RuntimeError(str(exc)) from None
        finally:
            self.s.in_flight -= 1
        reply_text = collapse_repeats(reply.text) if reply.finish_reason == "length" else reply.text
        self.s.trace.event("sub_call", depth, model=self.cfg.sub_model or self.cfg.model, prompt=text,
                           reply=reply_text, finish_reason=reply.finish_reason, max_tokens=max_tokens, prompt_tokens=reply.prompt_tokens,
                           completion_tokens=reply.completion_tokens, cost_usd=reply.cost_usd,
                           latency_s=round(reply.latency_s, 4), cached=reply.cached)
        self.s.progress("sub-calls")
        return reply_text

    async def _child(self, question: str, context: str | None) -> str:
        depth = self.depth + 1
        self.s.depth_reached = max(self.s.depth_reached, depth)
        self.s.trace.event("rlm_query_start", depth, prompt=question, has_context=context is not None)
        child = Engine(self.s, depth, None if context is not None else self.repo,
                       context if context is not None else self.context)
        self.s.in_flight += 1
        try:
            answer, stopped, iterations = await child.run(question)
        finally:
            self.s.in_flight -= 1
        self.s.trace.event("rlm_query_end", depth, answer=answer, stopped=stopped, iterations=iterations,
                           cell_errors=child.cell_errors)
        notes = []
        if stopped != "final":
            notes.append(f"stopped early ({stopped}) after {iterations} turns")
        if child.cell_errors:
            notes.append(f"{len(child.cell_errors)} of its cells raised errors, last: {child.cell_errors[-1]}")
        return (f"[child RLM at depth {depth}: {'; '.join(notes)}]\n" if notes else "") + answer
