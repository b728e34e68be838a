"""The three question formats the harness reads, from files the user provides.

- `mcq`: LongBench-v2 (`question`, `choice_A`..`choice_D`, `answer` a letter, `context` the
  repository as text; only `domain == "Code Repository Understanding"` is kept when present).
- `qa`: SWE-QA (`question`, `answer` the reference; graded by a model judge).
- `loc`: SWE-bench localization (`problem_statement`, `base_commit`, `patch` or `gold_files`).

Each item names its input: `context` (text), or `repo`, a path (relative to the dataset file, or
under --repos-dir: `owner/name` is looked up as `owner__name`, then `name`).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMATS = ("mcq", "qa", "loc")
CODE_DOMAIN = "Code Repository Understanding"
DIFF_FILE_RE = re.compile(r"^diff --git a/(\S+) b/(\S+)", re.M)


class DatasetError(Exception):
    """Bad dataset input (the message is one line)."""


@dataclass
class Item:
    format: str
    id: str
    question: str
    repo: Path | None = None
    context: str | None = None
    choices: dict[str, str] = field(default_factory=dict)
    answer: str = ""  # mcq: the letter; qa: the reference answer
    gold_files: list[str] = field(default_factory=list)
    base_commit: str | None = None


def detect(rec: dict[str, Any]) -> str:
    if "choice_A" in rec:
        return "mcq"
    if "problem_statement" in rec:
        return "loc"
    if "question" in rec and "answer" in rec:
        return "qa"
    raise DatasetError(f"cannot tell the format of a record with keys {sorted(rec)[:8]}")


def _records(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        if text.lstrip().startswith("["):
            recs = json.loads(text)
        else:
            recs = [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError as exc:
        raise DatasetError(f"{path} is neither a JSON array nor JSON lines: {exc}") from None
    if not all(isinstance(r, dict) for r in recs):
        raise DatasetError(f"{path}: every record must be a JSON object")
    return recs


def _repo_path(value: str, dataset: Path, repos_dir: Path | None) -> Path:
    candidates = [dataset.parent / value]
    if repos_dir is not None:
        candidates += [repos_dir / value, repos_dir / value.replace("/", "__"), repos_dir / value.split("/")[-1]]
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    raise DatasetError(f"repository {value!r} not found (looked in {', '.join(str(c) for c in candidates)}); "
                       "check it out there or pass --repos-dir")


def gold_from_patch(patch: str) -> list[str]:
    out: list[str] = []
    for a, b in DIFF_FILE_RE.findall(patch or ""):
        for p in (a, b):
            if p not in out and p != "/dev/null":
                out.append(p)
                break
    return out


def load(path: Path, fmt: str | None = None, repos_dir: Path | None = None, limit: int | None = None) -> list[Item]:
    path = Path(path)
    items: list[Item] = []
    for i, rec in enumerate(_records(path)):
        kind = fmt or detect(rec)
        if kind == "mcq" and rec.get("domain") not in (None, CODE_DOMAIN):
            continue
        rid = str(rec.get("_id") or rec.get("id") or rec.get("instance_id") or f"{path.stem}-{i + 1}")
        repo = _repo_path(str(rec["repo"]), path, repos_dir) if rec.get("repo") and not rec.get("context") else None
        context = rec.get("context") if isinstance(rec.get("context"), str) else None
        if repo is None and context is None:
            raise DatasetError(f"{path}: record {rid} has neither `repo` nor `context`")
        try:
            if kind == "mcq":
                choices = {k: str(rec[f"choice_{k}"]) for k in "ABCD"}
                item = Item(kind, rid, str(rec["question"]), repo, context, choices, str(rec["answer"]).strip().upper())
            elif kind == "qa":
                item = Item(kind, rid, str(rec["question"]), repo, context, answer=str(rec["answer"]))
            elif kind == "loc":
                gold = list(rec.get("gold_files") or gold_from_patch(str(rec.get("patch", ""))))
                if not gold:
                    raise DatasetError(f"{path}: record {rid} has neither `gold_files` nor a `patch`")
                item = Item(kind, rid, str(rec["problem_statement"]), repo, context, gold_files=gold,
                            base_commit=rec.get("base_commit") or None)
            else:
                raise DatasetError(f"unknown format {kind!r} (use one of {', '.join(FORMATS)})")
        except KeyError as exc:
            raise DatasetError(f"{path}: record {rid} lacks the field {exc.args[0]!r} of the {kind} format") from None
        items.append(item)
        if limit and len(items) >= limit:
            break
    if not items:
        raise DatasetError(f"{path}: no questions")
    return items
