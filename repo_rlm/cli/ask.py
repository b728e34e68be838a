"""`repo-rlm ask` on the command line: its flags, live progress on stderr, and the answer
rendered for a terminal or as JSON. The run itself is the agent layer's `ask`."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..agent.ask import AskConfig, AskResult, ask
from ..agent.flags import add_model_flags
from ..agent.models import MAX_REPLY_TOKENS
from ..index.discovery import looks_binary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("question", metavar="QUESTION", help="the question to answer")
    add_model_flags(parser, "run")
    parser.add_argument("--max-iterations", type=int, help="root turns (default 30)")
    parser.add_argument("--max-depth", type=int, help="recursion depth; 2 lets rlm_query start child RLMs (default 1)")
    parser.add_argument("--trace", type=Path, dest="trace_path", help="JSONL trace file (default: in the user cache dir)")
    parser.add_argument("--context", type=Path, dest="context_file", help="answer about this text file instead of the repository")
    parser.add_argument("--strategy", choices=["auto", "rlm", "direct", "rag"],
                        help="rlm (default): the recursive agent; direct: the question with as much code as fits "
                             "the window; rag: the top search hits; auto: direct when the input fits, else rlm")
    parser.add_argument("--context-window", type=int, help="the model's window in tokens (env REPO_RLM_CONTEXT_WINDOW; "
                        "default: litellm's model map)")
    parser.add_argument("--max-reply-tokens", type=int, help=f"max_tokens of each model call (default {MAX_REPLY_TOKENS}, "
                        "less when the window has less room)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--sandbox", choices=["bubblewrap", "rlimits"],
                        help="bubblewrap (default; ask stops if it cannot run) or rlimits: run model-written code "
                             "with resource limits only, unisolated (env REPO_RLM_SANDBOX)")


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


# flag -> (attribute, smallest allowed value, whether the smallest value itself is allowed)
LIMITS = {"--max-iterations": ("max_iterations", 1, True), "--max-depth": ("max_depth", 1, True),
          "--max-sub-calls": ("max_sub_calls", 0, True), "--budget": ("budget_usd", 0, False),
          "--max-tokens": ("max_tokens", 1, True), "--timeout": ("timeout_s", 0, False),
          "--context-window": ("context_window", 1, True), "--max-reply-tokens": ("max_reply_tokens", 1, True)}


def _bad_input(args: argparse.Namespace) -> str | None:
    """One line about the first flag or question that cannot start a run, else None."""
    if not str(getattr(args, "question", "") or "").strip():
        return "the question is empty"
    for flag, (attr, low, inclusive) in LIMITS.items():
        value = getattr(args, attr, None)
        if value is None:
            continue
        if value != value or (value < low if inclusive else value <= low):  # NaN too
            return f"{flag} must be {'at least' if inclusive else 'more than'} {low}, got {value:g}"
    return None


def run(args: argparse.Namespace) -> int:
    """The `ask` command. Exit 0 on an answer (also partial or retrieval-only), 2 on bad input, 1 on errors."""
    bad = _bad_input(args)
    if bad:
        return _fail(bad, 2)
    overrides = {k: getattr(args, k, None) for k in ("model", "sub_model", "api_base", "max_iterations", "max_depth",
                                                     "max_sub_calls", "budget_usd", "max_tokens", "timeout_s",
                                                     "trace_path", "sandbox", "strategy", "context_window",
                                                     "max_reply_tokens")}
    config = AskConfig.from_env(**overrides)
    config.use_cache = not getattr(args, "no_cache", False)
    repo = None
    context_file = getattr(args, "context_file", None)
    try:
        if context_file is not None:
            data = Path(context_file).read_bytes()
            if looks_binary(data):
                return _fail(f"{context_file} is a binary file, not text", 2)
            config.context_text = data.decode("utf-8", "replace")
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
    elif result.stopped != "error":  # an error is said once, below
        _render(result)
    if result.stopped == "error":
        print(f"repo-rlm ask: {result.notes[0] if result.notes else result.answer}", file=sys.stderr)
        return 1
    return 0


UNWRAPPED_WIDTH = 100_000  # "no wrapping": wider than any line of an answer


def _print_markdown(text: str) -> None:
    """Rendered Markdown on stdout: wrapped to a terminal, never wrapped when piped (a name
    or path broken across lines cannot be searched or copied)."""
    from rich.console import Console
    from rich.markdown import Heading, HorizontalRule, Markdown
    from rich.text import Text

    out = Console()
    if out.is_terminal:
        out.print(Markdown(text, hyperlinks=False))  # links show their address: the text may quote hostile code
        return

    class LeftHeading(Heading):
        def __rich_console__(self, console, options):
            yield Text(self.text.plain, style=self.text.style, justify="left")

    class ShortRule(HorizontalRule):
        def __rich_console__(self, console, options):
            yield Text("-" * 40)

    class Unwrapped(Markdown):
        elements = {**Markdown.elements, "heading_open": LeftHeading, "hr": ShortRule}

    wide = Console(width=UNWRAPPED_WIDTH, no_color=True, highlight=False)
    with wide.capture() as captured:
        wide.print(Unwrapped(text, hyperlinks=False))
    sys.stdout.write("\n".join(line.rstrip() for line in captured.get().split("\n")))


def _render(result: AskResult) -> None:
    from rich.console import Console

    from ..query.escape import escape_controls as e
    out, err = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)
    _print_markdown(e(result.answer, newlines=True))  # control characters of hostile text never reach the terminal
    if result.citations:
        out.print()
        out.print("Sources: " + ", ".join(f"{e(c['path'])}:{c['start_line']}" + (f"-{c['end_line']}" if c["end_line"] != c["start_line"] else "")
                                          for c in result.citations),
                  highlight=False, soft_wrap=True, markup=False)
    for note in result.notes:
        err.print(f"note: {e(note)}", highlight=False, style="yellow", markup=False)
    u = result.usage
    err.print(f"stopped: {result.stopped} · {result.iterations} iterations · {result.sub_calls} sub-calls · "
              f"{u['prompt_tokens'] + u['completion_tokens']:,} tokens · ${u['cost_usd']:.4f}"
              + (f" · trace {result.trace}" if result.trace else ""), highlight=False, style="dim")
