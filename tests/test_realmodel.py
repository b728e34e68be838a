"""A real model end to end: SmolLM2-135M on llama.cpp's server (tests/localmodel.py).

The model is tiny and often wrong, so these tests assert what the engine must do with a real
model (real tokenisation, chat template, replies cut at max_tokens, unclosed fences, repetition,
a server that runs one request at a time), never what the model knows.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from repo_rlm.agent.ask import AskConfig, ask_async
from tests.fakellm import FakeLLM, is_root, repl
from tests.localmodel import MODEL, N_CTX, LocalModel

ROOT = Path(__file__).resolve().parent.parent
PYAPP = ROOT / "fixtures" / "pyapp"
STOPPED = {"final", "max_iterations", "max_sub_calls", "budget", "timeout"}


@pytest.fixture(scope="module")
def local_model(tmp_path_factory):
    server = LocalModel(tmp_path_factory.mktemp("llama") / "server.log").start()
    yield server
    server.stop()


@pytest.fixture
def pyapp(tmp_path):
    from repo_rlm.query.repo import Repo
    repo = Repo.open(PYAPP, index_path=tmp_path / "index.db")
    yield repo
    repo.close()


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("REPO_RLM_CACHE_DIR", str(tmp_path / "cache"))


def cfg(api_base: str, tmp_path: Path, **kw) -> AskConfig:
    base = dict(model=MODEL, api_base=api_base, use_cache=False, retries=1, trace_path=tmp_path / "trace.jsonl",
                context_window=N_CTX, max_reply_tokens=160, max_iterations=3, timeout_s=240, call_timeout_s=120,
                cell_timeout_s=20, budget_usd=None)
    base.update(kw)
    return AskConfig(**base)


def events(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def assert_clean_run(r, trace: Path, limit_s: float, elapsed: float) -> list[dict]:
    assert r.stopped in STOPPED, (r.stopped, r.notes)
    assert r.usage["prompt_tokens"] > 0 and r.usage["completion_tokens"] > 0
    assert elapsed < limit_s + 30
    evs = events(trace)
    assert evs[0]["event"] == "run_start" and evs[-1]["event"] == "run_end"
    calls = [e for e in evs if e["event"] in ("model_call", "sub_call")]
    assert calls and all(e["completion_tokens"] <= e.get("max_tokens", 10 ** 9) for e in calls)
    for c in r.citations:  # every citation names lines that exist
        lines = (PYAPP / c["path"]).read_text().count("\n")
        assert 1 <= c["start_line"] <= c["end_line"] <= max(lines, 1)
    assert "Traceback" not in r.answer
    return evs


async def test_rlm_on_a_fixture_repository(local_model, pyapp, tmp_path):
    start = time.monotonic()
    r = await ask_async(pyapp, "Where is authentication enforced?", cfg(local_model.api_base, tmp_path,
                                                                         max_iterations=2))
    evs = assert_clean_run(r, tmp_path / "trace.jsonl", 240, time.monotonic() - start)
    first = next(e for e in evs if e["event"] == "model_call")
    # the server's own count of the first prompt: well inside an 8k window, with room for the turns
    assert 500 < first["prompt_tokens"] < N_CTX // 2, first["prompt_tokens"]
    assert all(e["max_tokens"] <= 160 for e in evs if e["event"] == "model_call")
    assert r.strategy == "rlm" and r.iterations >= 1


async def test_replies_cut_at_max_tokens(local_model, pyapp, tmp_path):
    """A 12-token reply limit cuts every reply: fences stay open, lines end mid-way; the run still
    ends properly and the model is told its reply was cut."""
    start = time.monotonic()
    r = await ask_async(pyapp, "List the classes in models.py with their methods.",
                        cfg(local_model.api_base, tmp_path, max_reply_tokens=12, max_iterations=2))
    evs = assert_clean_run(r, tmp_path / "trace.jsonl", 240, time.monotonic() - start)
    calls = [e for e in evs if e["event"] == "model_call"]
    assert calls[0]["finish_reason"] == "length" and calls[0]["completion_tokens"] == 12
    second = calls[1]["messages"][-1]["content"]
    assert "cut at the 12-token reply limit" in second


async def test_batched_sub_calls_on_a_one_at_a_time_server(local_model, tmp_path):
    """Root turns scripted (fake server), sub-calls forwarded to the real server, which serves one
    request at a time: all complete, and each answer sits at its prompt's position."""
    prompts = ["Say the word apple.", "Say the word river.", "Say the word seven.", "Say the word green."]
    served = []  # (max_tokens sent, completion tokens the real server counted)

    def forward(req):
        body = json.dumps({**req, "model": "local"}).encode()
        rq = urllib.request.Request(local_model.api_base + "/chat/completions", body,
                                    {"Content-Type": "application/json"})
        with urllib.request.urlopen(rq, timeout=120) as resp:
            data = json.loads(resp.read())
        served.append((req.get("max_tokens"), data["usage"]["completion_tokens"]))
        return data["choices"][0]["message"]["content"]

    def handler(req):
        if not is_root(req):
            return forward(req)
        if len(req["messages"]) == 2:
            return repl(f"out = llm_query_batched({prompts!r})\nprint(len(out))")
        return repl("import json\nFINAL(json.dumps(out))")

    proxy = FakeLLM(handler).start()
    try:
        r = await ask_async(None, "q", AskConfig(
            model="openai/gpt-4o-mini", api_base=proxy.api_base, api_key="dummy", use_cache=False, retries=0,
            trace_path=tmp_path / "trace.jsonl", context_text="x", max_reply_tokens=24, timeout_s=240,
            call_timeout_s=120, cell_timeout_s=200))
    finally:
        proxy.stop()
    assert r.stopped == "final" and r.sub_calls == 4
    out = json.loads(r.answer)
    subs = {e["prompt"]: e for e in events(tmp_path / "trace.jsonl") if e["event"] == "sub_call"}
    assert out == [subs[p]["reply"] for p in prompts]
    assert len(served) == 4 and all(sent == 24 and used <= 24 for sent, used in served)
    assert proxy.max_in_flight >= 2  # sent concurrently; the real server answered them one by one


@pytest.mark.parametrize("strategy", ["direct", "rag"])
async def test_direct_and_rag(local_model, pyapp, tmp_path, strategy):
    start = time.monotonic()
    r = await ask_async(pyapp, "Which function raises PermissionError?",
                        cfg(local_model.api_base, tmp_path, strategy=strategy))
    evs = assert_clean_run(r, tmp_path / "trace.jsonl", 240, time.monotonic() - start)
    assert r.stopped == "final" and r.strategy == strategy
    sent = next(e for e in evs if e["event"] == "model_call")["messages"][-1]["content"]
    assert "raise PermissionError" in sent  # the relevant code was sent, numbered
    assert next(e for e in evs if e["event"] == "run_start")["strategy"] == r.strategy


async def test_unknown_window_overflow_is_an_error_not_a_traceback(local_model, tmp_path):
    """Without --context-window the window of a local model is unknown: direct assumes 32k tokens,
    the 8k server refuses, and the run stops with `error` and a one-line reason."""
    text = "\n".join(f"def f{i}(x):\n    return x + {i}" for i in range(4000))
    r = await ask_async(None, "What does f7 return?", cfg(local_model.api_base, tmp_path, context_window=None,
                                                          strategy="direct", context_text=text))
    assert r.stopped == "error" and r.notes and "\n" not in r.notes[0]
    assert "context" in r.notes[0].lower() or "token" in r.notes[0].lower()


@pytest.mark.timeout(1200)
def test_eval_harness_runs_to_completion(local_model, tmp_path):
    """The three formats, every default strategy, on small inputs (prompt processing is the cost)."""
    ex = ROOT / "bench" / "eval" / "examples"
    small = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
    (tmp_path / "mcq.jsonl").write_text(json.dumps({
        "_id": "m1", "domain": "Code Repository Understanding", "question": "What does sub return?",
        "choice_A": "a + b", "choice_B": "a - b", "choice_C": "a * b", "choice_D": "b", "answer": "B",
        "context": small}) + "\n")
    (tmp_path / "qa.jsonl").write_text(json.dumps({"id": "q1", "question": "What does add do?",
                                                   "answer": "It returns the sum a + b.", "context": small}) + "\n")
    exe = Path(sys.executable).parent / "repo-rlm"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPO_RLM_")}
    env.update(REPO_RLM_CACHE_DIR=str(tmp_path / "cache"))
    start = time.monotonic()
    p = subprocess.run([str(exe), "eval", str(tmp_path / "mcq.jsonl"), str(tmp_path / "qa.jsonl"),
                        str(ex / "loc.jsonl"), "--limit", "1", "--model", MODEL, "--api-base", local_model.api_base,
                        "--context-window", str(N_CTX), "--max-reply-tokens", "48", "--max-iterations", "1",
                        "--timeout", "300", "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, env=env, timeout=1150)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [(r["format"], r["strategy"]) for r in out["rows"]] == [
        ("mcq", "auto"), ("mcq", "rlm"), ("mcq", "direct"), ("mcq", "rag"), ("qa", "auto"), ("qa", "rlm"),
        ("qa", "direct"), ("qa", "rag"), ("loc", "rag"), ("loc", "rlm")]
    assert all(r["stopped"] in STOPPED and r["prompt_tokens"] > 0 for r in out["rows"])
    assert all(r["judge_reply"] for r in out["rows"] if r["format"] == "qa")  # the judge ran on each
    assert len(re.findall(r"^\| (mcq|qa|loc) ", p.stdout, re.M)) == 10
    assert (tmp_path / "out" / "eval.png").read_bytes()[:4] == b"\x89PNG"
    print(f"\neval on the local model: {time.monotonic() - start:.0f} s\n{p.stdout}")
