"""The model's context window: how big it is, what a prompt costs in it, and what to do when full.

The window comes from `--context-window` (REPO_RLM_CONTEXT_WINDOW), else litellm's model map;
local servers are unknown to litellm, so without the setting nothing is checked. Counting uses
litellm's token counter (the model's tokenizer when litellm knows it, else cl100k), with a
margin because local models tokenise differently.
"""
from __future__ import annotations

from typing import Any

MARGIN = 1.15  # cl100k counts fewer tokens than small models' tokenizers
MIN_REPLY = 256  # a window that leaves less than this for the reply is too small


class WindowTooSmall(Exception):
    """The first prompt does not fit the model's window (the message is one line)."""


def context_window(config: Any) -> int | None:
    if getattr(config, "context_window", None):
        return int(config.context_window)
    try:
        import litellm
        info = litellm.get_model_info(config.model)
        n = info.get("max_input_tokens") or info.get("max_tokens")
        return int(n) if n else None
    except Exception:  # noqa: BLE001 - an unknown model: no check
        return None


def count_tokens(model: str, messages: list[dict[str, Any]]) -> int:
    try:
        import litellm
        n = litellm.token_counter(model=model, messages=messages)
    except Exception:  # noqa: BLE001 - fall back to characters
        n = sum(len(str(m.get("content", ""))) for m in messages) // 4
    return int(n * MARGIN) + 8


def reply_budget(config: Any, window: int | None, prompt_tokens: int) -> int:
    """max_tokens for a call: the configured cap, less if the window has less room left."""
    from repo_rlm.agent.models import MAX_REPLY_TOKENS
    cap = int(getattr(config, "max_reply_tokens", 0) or MAX_REPLY_TOKENS)
    return cap if window is None else max(1, min(cap, window - prompt_tokens))


def check_first_prompt(config: Any, messages: list[dict[str, Any]]) -> int | None:
    """Raises WindowTooSmall when the first prompt leaves too little room; returns the window."""
    window = context_window(config)
    if window is None:
        return None
    need = count_tokens(config.model, messages)
    reply = min(MIN_REPLY, int(getattr(config, "max_reply_tokens", 0) or MIN_REPLY))
    if need + reply > window:
        raise WindowTooSmall(
            f"the model's context window ({window:,} tokens) is too small: the first prompt needs about "
            f"{need:,} tokens plus {reply} for the reply; use a model with a larger window (or set "
            f"--context-window if {window:,} is wrong)")
    return window


def fit_history(model: str, messages: list[dict[str, Any]], window: int | None, reserve: int) -> int:
    """Elide the oldest turn outputs (never the system prompt, the question or the last exchange)
    until the conversation plus `reserve` reply tokens fits `window`. Returns the prompt's tokens
    (0 when the window is unknown: nothing to fit, nothing counted)."""
    if window is None:
        return 0
    need = count_tokens(model, messages)
    for i in range(2, len(messages) - 2):
        if need + reserve <= window:
            break
        m = messages[i]
        if m["role"] == "user" and not m["content"].startswith("[elided"):
            m["content"] = "[elided to fit the context window: an earlier turn's output]"
            need = count_tokens(model, messages)
    return need
