"""The model and limit flags that every command with a model part takes (ask, review, report),
defined once so they keep one name, one destination and one meaning (AskConfig's fields)."""
from __future__ import annotations

import argparse


def add_model_flags(p: argparse.ArgumentParser, whole: str, sub_calls: str = "sub-calls") -> None:
    """--model, --sub-model, --api-base, --max-sub-calls, --budget, --max-tokens, --timeout,
    --no-cache. `whole`: what the limits bound ("run", "review", "report"); `sub_calls`: what
    the sub-model answers."""
    p.add_argument("--model", help="root model, litellm name (env REPO_RLM_MODEL)")
    p.add_argument("--sub-model", help=f"model for {sub_calls} (env REPO_RLM_SUB_MODEL; default: the root model)")
    p.add_argument("--api-base", help="base URL of an OpenAI-compatible server (env REPO_RLM_API_BASE)")
    p.add_argument("--max-sub-calls", type=int, help=f"{sub_calls} in the whole {whole} (default 100)")
    p.add_argument("--budget", type=float, dest="budget_usd", help=f"USD for the whole {whole} (default 1.0)")
    p.add_argument("--max-tokens", type=int, help=f"tokens for the whole {whole} (default: no limit)")
    p.add_argument("--timeout", type=float, dest="timeout_s", help=f"wall-time seconds of the {whole}'s model work "
                   "(default 900)")
    p.add_argument("--no-cache", action="store_true", help="bypass the on-disk model reply cache")
