"""`[review]` in `.repo-rlm.toml`: the repository's own review rules.

Read from the *base* revision, so a pull request cannot change the rules it is reviewed under
(e.g. add `ignore = ["**"]`). A repository's file never chooses executables, endpoints or the
sandbox: there are no such keys, and `model` is accepted only when the user has configured a
model, names the same litellm provider as the user's model, and is a plain model name (no URL,
no `@`, no `//`): the endpoint, key and provider stay the user's. `budget` can only lower the
user's budget.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

SETTINGS_FILE = ".repo-rlm.toml"
SEVERITY_RANK = {"error": 0, "warning": 1, "note": 2}
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")


@dataclass
class ReviewSettings:
    rules: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    max_findings: int = 10
    min_severity: str = "note"
    model: str | None = None
    budget_usd: float | None = None
    max_symbols: int = 50  # changed symbols the model reviews (the most impactful first)
    notes: list[str] = field(default_factory=list)


def load(checkout: Path) -> ReviewSettings:
    """The settings of one checkout; a bad file or bad value is a note, never a failure of the review."""
    s = ReviewSettings()
    path = checkout / SETTINGS_FILE
    if not path.is_file() or path.is_symlink():
        return s
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (tomllib.TOMLDecodeError, OSError) as exc:
        s.notes.append(f"{SETTINGS_FILE}: ignored ({' '.join(str(exc).split())[:200]})")
        return s
    sec = data.get("review", {})
    if not isinstance(sec, dict):
        return s

    def take(key: str, typ: type, ok=lambda v: True):
        v = sec.get(key)
        if v is None:
            return None
        if typ is float and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if not isinstance(v, typ) or isinstance(v, bool) or not ok(v):
            s.notes.append(f"{SETTINGS_FILE}: [review] {key} ignored (bad value)")
            return None
        return v

    strs = lambda v: all(isinstance(x, str) for x in v)  # noqa: E731
    s.rules = [r[:500] for r in (take("rules", list, strs) or [])][:50]
    s.ignore = (take("ignore", list, strs) or [])[:200]
    def keep(v, default):  # 0 is a value, not "unset"
        return default if v is None else v

    s.max_findings = keep(take("max_findings", int, lambda v: 0 <= v <= 1000), s.max_findings)
    s.min_severity = keep(take("min_severity", str, lambda v: v in SEVERITY_RANK), s.min_severity)
    s.model = take("model", str)
    s.budget_usd = take("budget", float, lambda v: v >= 0)
    s.max_symbols = keep(take("max_symbols", int, lambda v: 0 <= v <= 10_000), s.max_symbols)
    return s


def choose_model(user_model: str | None, from_flag: bool, repo_model: str | None) -> tuple[str | None, str | None]:
    """(model to use, note). The repository's model is taken only within the user's provider."""
    if not repo_model or from_flag:
        return user_model, None
    if not user_model:
        return None, f"{SETTINGS_FILE}: model {repo_model!r} ignored: configure a model yourself to enable model review"
    same_provider = "/" in user_model and repo_model.split("/", 1)[0] == user_model.split("/", 1)[0]
    if not _MODEL_NAME.match(repo_model) or "//" in repo_model or not same_provider:
        return user_model, (f"{SETTINGS_FILE}: model {repo_model!r} ignored: a repository may only pick a model "
                            f"of the configured provider ({user_model.split('/', 1)[0]}/...)")
    return repo_model, None
