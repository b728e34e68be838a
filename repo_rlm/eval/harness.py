"""`repo-rlm eval`: every strategy on the same questions; a table of accuracy, cost, tokens and
latency, a JSON file of every answer, a PNG plot, and one trace per run.

Scoring: `mcq` takes the letter after "The correct answer is" (LongBench-v2's own template);
`qa` asks a judge model with the prompt in prompts/judge.md; `loc` counts a hit when every gold
file is among the first LOC_K repository files the answer names (file-level Acc@5).
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable

from repo_rlm.agent.ask import AskConfig, ask_async
from repo_rlm.agent.strategies import STRATEGIES
from repo_rlm.eval.datasets import FORMATS, DatasetError, Item, load

LOC_K = 5
DEFAULT_STRATEGIES = {"mcq": STRATEGIES, "qa": STRATEGIES, "loc": ("rag", "rlm")}
LETTER_RES = [re.compile(r"correct answer is\W{0,3}\(?([ABCD])\b", re.I), re.compile(r"\(([ABCD])\)"),
              re.compile(r"^\s*\**([ABCD])[).:\s*]", re.M)]
PATH_RE = re.compile(r"[\w@+.-]+(?:/[\w@+.-]+)*\.[A-Za-z0-9_]+")
VERDICT_RE = re.compile(r"VERDICT:\s*(CORRECT|INCORRECT)", re.I)


def _prompt(name: str, **values: Any) -> str:
    text = (Path(__file__).parent / "prompts" / f"{name}.md").read_text(encoding="utf-8").strip()
    for k, v in values.items():
        text = text.replace("{{" + k + "}}", str(v))
    return text


def question_text(item: Item) -> str:
    if item.format == "mcq":
        return _prompt("mcq", question=item.question, **{c: item.choices[c] for c in "ABCD"})
    if item.format == "loc":
        return _prompt("loc", problem=item.question, k=LOC_K)
    return item.question


def mcq_letter(answer: str) -> str | None:
    for rx in LETTER_RES:
        m = rx.search(answer)
        if m:
            return m.group(1).upper()
    return None


def predicted_files(answer: str, citations: list[dict[str, Any]], files: list[str]) -> list[str]:
    """Repository files the answer names, in order of first mention (cited or written as a path)."""
    known, out = set(files), []
    for c in citations:
        if c["path"] in known and c["path"] not in out:
            out.append(c["path"])
    for m in PATH_RE.finditer(answer):
        raw = m.group(0).lstrip("./")
        hits = [raw] if raw in known else [f for f in files if f.endswith("/" + raw)]
        if len(hits) == 1 and hits[0] not in out:
            out.append(hits[0])
    return out


@dataclass
class Row:
    format: str
    id: str
    strategy: str
    chosen: str  # what auto chose
    correct: bool
    predicted: Any
    stopped: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_s: float
    trace: str | None
    answer: str
    judge_reply: str = ""


class Judge:
    """A model that grades open answers against the reference (SWE-QA)."""

    def __init__(self, config: AskConfig, model: str | None):
        from repo_rlm.agent.models import ModelClient
        self.model = model or config.model
        self.client = ModelClient(api_base=config.api_base, api_key=config.api_key, retries=config.retries,
                                  call_timeout_s=config.call_timeout_s, max_reply_tokens=256)

    async def grade(self, item: Item, answer: str) -> tuple[bool, str]:
        msgs = [{"role": "user", "content": _prompt("judge", question=item.question, reference=item.answer,
                                                     answer=answer[:12000])}]
        reply = await self.client.complete(self.model, msgs, enforce_budget=False)
        m = VERDICT_RE.search(reply.text)
        return bool(m and m.group(1).upper() == "CORRECT"), reply.text


class Repos:
    """Each repository (at its base commit) indexed once and shared by every strategy."""

    def __init__(self, index_dir: Path):
        self.index_dir, self.open = index_dir, {}
        self._tmp: list[tempfile.TemporaryDirectory] = []

    def get(self, path: Path, commit: str | None) -> Any:
        from repo_rlm.query.repo import Repo
        key = (str(path), commit)
        if key not in self.open:
            root = path if commit is None else self._checkout(path, commit)
            name = hashlib.sha1(repr(key).encode()).hexdigest()[:12]
            self.open[key] = Repo.open(root, index_path=self.index_dir / f"{path.name}-{name}.db")
        return self.open[key]

    def _checkout(self, path: Path, commit: str) -> Path:
        tmp = tempfile.TemporaryDirectory(prefix="repo-rlm-eval-")
        self._tmp.append(tmp)
        archive = subprocess.run(["git", "-C", str(path), "archive", "--format=tar", commit],
                                 capture_output=True, timeout=600)
        if archive.returncode != 0:
            raise DatasetError(f"cannot check out {commit} of {path}: "
                               f"{' '.join(archive.stderr.decode(errors='replace').split())[:200]}")
        subprocess.run(["tar", "-x", "-C", tmp.name], input=archive.stdout, check=True, timeout=600)
        return Path(tmp.name)

    def close(self) -> None:
        for r in self.open.values():
            r.close()
        for t in self._tmp:
            t.cleanup()


async def run_eval(items: list[Item], strategies: list[str] | None, config: AskConfig, out_dir: Path,
                   judge_model: str | None = None, index_dir: Path | None = None,
                   on_row: Callable[[Row], None] | None = None) -> list[Row]:
    """Every item with every strategy, one after the other (so latencies do not interfere)."""
    import litellm  # noqa: F401 - its ~3 s import must not count as the first question's latency
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "traces").mkdir(exist_ok=True)
    repos = Repos(index_dir or out_dir / "indexes")
    judge = Judge(config, judge_model) if any(i.format == "qa" for i in items) else None
    rows: list[Row] = []
    try:
        for item in items:
            repo = repos.get(item.repo, item.base_commit) if item.repo is not None else None
            files = repo.files() if repo is not None else []
            for strategy in strategies or DEFAULT_STRATEGIES[item.format]:
                safe = re.sub(r"[^\w.-]+", "_", item.id)[:80]
                cfg = replace(config, strategy=strategy, trace_path=out_dir / "traces" / f"{safe}-{strategy}.jsonl",
                              context_text=item.context if repo is None else None)
                start = time.monotonic()
                result = await ask_async(repo, question_text(item), cfg)
                latency = time.monotonic() - start
                judge_reply = ""
                if item.format == "mcq":
                    predicted: Any = mcq_letter(result.answer)
                    correct = predicted == item.answer
                elif item.format == "loc":
                    predicted = predicted_files(result.answer, result.citations, files)[:LOC_K]
                    correct = set(item.gold_files) <= set(predicted)
                else:
                    correct, judge_reply = await judge.grade(item, result.answer) if result.stopped != "error" \
                        else (False, "")
                    predicted = "correct" if correct else "incorrect"
                u = result.usage
                row = Row(item.format, item.id, strategy, result.strategy, correct, predicted, result.stopped,
                          u["prompt_tokens"], u["completion_tokens"], u["cost_usd"], round(latency, 3),
                          result.trace, result.answer, judge_reply)
                rows.append(row)
                if on_row:
                    on_row(row)
    finally:
        repos.close()
    return rows


def summarize(rows: list[Row]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        groups.setdefault((r.format, r.strategy), []).append(r)
    out = []
    for (fmt, strategy), rs in groups.items():
        n = len(rs)
        out.append({"format": fmt, "strategy": strategy, "questions": n, "correct": sum(r.correct for r in rs),
                    "accuracy": sum(r.correct for r in rs) / n,
                    "cost_usd": sum(r.cost_usd for r in rs) / n,
                    "tokens": sum(r.prompt_tokens + r.completion_tokens for r in rs) / n,
                    "latency_s": sum(r.latency_s for r in rs) / n,
                    "errors": sum(r.stopped == "error" for r in rs)})
    return out


def table(summary: list[dict[str, Any]]) -> str:
    """A Markdown table: per format and strategy, means per question."""
    lines = ["| format | strategy | questions | accuracy | cost/question | tokens/question | latency/question | errors |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for s in summary:
        lines.append(f"| {s['format']} | {s['strategy']} | {s['questions']} | {s['accuracy']:.0%} "
                     f"({s['correct']}/{s['questions']}) | ${s['cost_usd']:.5f} | {s['tokens']:,.0f} | "
                     f"{s['latency_s']:.2f} s | {s['errors']} |")
    return "\n".join(lines)


def plot(summary: list[dict[str, Any]], png: Path) -> bool:
    """Accuracy, tokens and latency per strategy, one group per format. False without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    formats = list(dict.fromkeys(s["format"] for s in summary))
    strategies = list(dict.fromkeys(s["strategy"] for s in summary))
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    width = 0.8 / max(1, len(strategies))
    for ax, (key, label) in zip(axes, [("accuracy", "accuracy"), ("tokens", "tokens / question"),
                                       ("latency_s", "latency / question (s)")]):
        for j, st in enumerate(strategies):
            xs, ys = [], []
            for i, fmt in enumerate(formats):
                s = next((x for x in summary if x["format"] == fmt and x["strategy"] == st), None)
                if s is not None:
                    xs.append(i + j * width)
                    ys.append(s[key])
            ax.bar(xs, ys, width, label=st)
        ax.set_xticks([i + width * (len(strategies) - 1) / 2 for i in range(len(formats))], formats)
        ax.set_title(label)
        if key == "accuracy":
            ax.set_ylim(0, 1)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return True


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("datasets", nargs="+", type=Path, metavar="DATASET", help="JSON or JSONL question files")
    p.add_argument("--format", choices=FORMATS, help="the datasets' format (default: told by each record's fields)")
    p.add_argument("--strategies", help="comma-separated (default: auto,rlm,direct,rag; rag,rlm for loc)")
    p.add_argument("--repos-dir", type=Path, help="where the datasets' repositories are checked out")
    p.add_argument("--limit", type=int, help="at most N questions per dataset")
    p.add_argument("--out", type=Path, default=Path("eval-out"), help="results, plot and traces (default eval-out/)")
    p.add_argument("--model", help="model under test (env REPO_RLM_MODEL)")
    p.add_argument("--judge-model", help="model grading open answers (default: the model under test)")
    p.add_argument("--api-base", help="OpenAI-compatible server (env REPO_RLM_API_BASE)")
    p.add_argument("--context-window", type=int, help="the model's window in tokens")
    p.add_argument("--max-reply-tokens", type=int, help="max_tokens of each model call (default 16000)")
    p.add_argument("--max-iterations", type=int, help="RLM turns per question (default 30)")
    p.add_argument("--budget", type=float, dest="budget_usd", help="USD per question (default 1.0)")
    p.add_argument("--timeout", type=float, dest="timeout_s", help="seconds per question (default 900)")
    p.add_argument("--cache", action="store_true", help="reuse cached replies (off by default: they hide cost)")


def run(args: argparse.Namespace) -> int:
    def fail(msg: str) -> int:
        print(f"repo-rlm eval: {msg}", file=sys.stderr)
        return 2
    strategies = [s.strip() for s in args.strategies.split(",")] if args.strategies else None
    if strategies and any(s not in STRATEGIES for s in strategies):
        return fail(f"unknown strategy in {args.strategies!r} (use {', '.join(STRATEGIES)})")
    config = AskConfig.from_env(**{k: getattr(args, k) for k in ("model", "api_base", "context_window",
                                                                  "max_reply_tokens", "max_iterations",
                                                                  "budget_usd", "timeout_s")})
    config.use_cache = args.cache
    if not config.model:
        return fail("no model configured: pass --model or set REPO_RLM_MODEL")
    try:
        items = [i for d in args.datasets for i in load(d, args.format, args.repos_dir, args.limit)]
    except DatasetError as exc:
        return fail(" ".join(str(exc).split()))

    def progress(r: Row) -> None:
        print(f"{r.format} {r.id} {r.strategy}{'->' + r.chosen if r.chosen != r.strategy else ''}: "
              f"{'correct' if r.correct else 'wrong'} ({r.stopped}, {r.latency_s:.1f} s)", file=sys.stderr)
    try:
        rows = asyncio.run(run_eval(items, strategies, config, args.out, args.judge_model, on_row=progress))
    except DatasetError as exc:
        return fail(" ".join(str(exc).split()))
    summary = summarize(rows)
    (args.out / "results.json").write_text(json.dumps({"summary": summary, "rows": [asdict(r) for r in rows]},
                                                      indent=1, ensure_ascii=False, default=str))
    print(table(summary))
    png = args.out / "eval.png"
    if plot(summary, png):
        print(f"plot: {png}", file=sys.stderr)
    else:
        print("plot skipped: install the extra `pip install 'repo-rlm[eval]'` for matplotlib", file=sys.stderr)
    print(f"results: {args.out / 'results.json'}; traces: {args.out / 'traces'}", file=sys.stderr)
    return 0
