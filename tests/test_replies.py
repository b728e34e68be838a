"""Replies as real models send them (cut at max_tokens, unclosed fences, repetition), the context
window check, and the strategies, on the fake server through the real litellm path and REPL."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from repo_rlm.agent.ask import AskConfig, ask_async
from repo_rlm.agent.replies import code_blocks, collapse_repeats, unclosed_fence
from tests.fakellm import MODEL, Cut, Script, fake_llm, is_root, last_user, repl  # noqa: F401

PYAPP = Path(__file__).resolve().parent.parent / "fixtures" / "pyapp"
TEXT = "\n".join(f"line {i}" for i in range(1, 400))


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("REPO_RLM_CACHE_DIR", str(tmp_path / "cache"))


def cfg(fake, tmp_path, **kw) -> AskConfig:
    base = dict(model=MODEL, api_base=fake.api_base, api_key="dummy", use_cache=False, retries=0,
                trace_path=tmp_path / "trace.jsonl", cell_timeout_s=10, call_timeout_s=10, timeout_s=60,
                context_text=TEXT)
    base.update(kw)
    return AskConfig(**base)


def events(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_block_parsing_and_repetition():
    reply = "Plan.\n```repl\nx = 1\n```\nthen\n```python\nprint(x)\nprint('cut here"
    assert code_blocks(reply, ("repl",)) == ["x = 1\n"]
    assert code_blocks(reply, ("repl", "python")) == ["x = 1\n", "print(x)\nprint('cut here"]
    assert code_blocks(reply, ("repl", "python"), cut=True) == ["x = 1\n", "print(x)"]
    assert unclosed_fence(reply) and not unclosed_fence("```repl\nx\n```")
    assert code_blocks("```\nplain\n```\n```repl\ny = 2\n```", ("repl",)) == ["y = 2\n"]
    loop = "Answer:\n" + "I will look at the code.\n" * 50 + "I will look at the co"
    short = collapse_repeats(loop)
    assert short.count("I will look at the code.") == 1 and "repeated 49 more times" in short
    assert collapse_repeats("a\nb\na\nb\n") == "a\nb\na\nb\n"  # two copies are content, not a loop
    words = collapse_repeats("so " + "the loop " * 40)
    assert words.count("the loop") == 1 and "repeated" in words


async def test_cut_reply_with_unclosed_fence_still_runs(fake_llm, tmp_path):
    fake_llm.handler = Script([Cut("Let me look.\n```repl\nx = 41 + 1\nprint('value', x)\nprint('unfini"),
                               repl("FINAL(f'x is {x}')")])
    r = await ask_async(None, "q", cfg(fake_llm, tmp_path, max_reply_tokens=300))
    assert r.stopped == "final" and r.answer == "x is 42"
    second = fake_llm.requests[1]["messages"][-1]["content"]
    assert "value 42" in second and "cut at the 300-token reply limit" in second and "dropped" in second
    assert all(q["max_tokens"] <= 300 for q in fake_llm.requests)
    calls = [e for e in events(tmp_path / "trace.jsonl") if e["event"] == "model_call"]
    assert calls[0]["finish_reason"] == "length" and calls[0]["max_tokens"] == 300


async def test_repetition_loop_is_collapsed_in_the_history(fake_llm, tmp_path):
    loop = "I need to find the answer.\n" * 300
    fake_llm.handler = Script([Cut(loop), repl("print(len(context))"), repl("FINAL('done')")])
    r = await ask_async(None, "q", cfg(fake_llm, tmp_path))
    assert r.stopped == "final" and r.answer == "done"
    history = fake_llm.requests[1]["messages"]
    assert history[2]["role"] == "assistant" and len(history[2]["content"]) < 200
    assert "repeated 299 more times" in history[2]["content"]
    assert "no `repl` code block" in history[3]["content"] and "cut at" in history[3]["content"]


async def test_window_too_small_is_said_before_any_call(fake_llm, tmp_path):
    r = await ask_async(None, "q", cfg(fake_llm, tmp_path, context_window=1000))
    assert r.stopped == "error" and "context window (1,000 tokens) is too small" in r.notes[0]
    assert fake_llm.requests == []
    r = await ask_async(None, "q", cfg(fake_llm, tmp_path, context_window=600, strategy="direct"))
    assert r.stopped == "error" and "too small" in r.notes[0] and fake_llm.requests == []


async def test_history_is_elided_to_fit_and_big_sub_calls_are_refused(fake_llm, tmp_path):
    fake_llm.handler = Script([repl("print(context[:6000])"), repl("print(context[:6000])"),
                               repl("out = llm_query_batched(['x' * 40000, 'small'])\nprint(out)"),
                               repl("FINAL(out[0][:120] + ' | ' + out[1])")], sub=lambda p: "sub ok")
    r = await ask_async(None, "q", cfg(fake_llm, tmp_path, context_window=5000, max_reply_tokens=500))
    assert r.stopped == "final"
    assert r.answer.startswith("ERROR: sub-call prompt of about") and r.answer.endswith("| sub ok")
    last = fake_llm.requests[-1]["messages"]
    assert any(m["content"].startswith("[elided to fit") for m in last)
    assert last[0]["role"] == "system" and "Question: q" in last[1]["content"]


async def test_strategies_direct_rag_auto(fake_llm, tmp_path):
    from repo_rlm.query.repo import Repo
    repo = Repo.open(PYAPP, index_path=tmp_path / "index.db")
    try:
        fake_llm.handler = lambda req: "See src/shop/auth/decorators.py:7-13." if not is_root(req) else repl("x=1")
        direct = await ask_async(repo, "Where is login enforced?", cfg(fake_llm, tmp_path, context_text=None,
                                                                      strategy="direct"))
        sent = fake_llm.requests[-1]["messages"][-1]["content"]
        assert direct.strategy == "direct" and direct.stopped == "final" and direct.iterations == 1
        assert direct.citations == [{"path": "src/shop/auth/decorators.py", "start_line": 7, "end_line": 13}]
        assert sent.index("### src/shop/auth/decorators.py:1-20") < sent.index("### src/shop/models.py:1-38")
        assert "16| def check_session(request):" in sent and sent.count("### ") == sum(bool(repo.read(f).strip()) for f in repo.files())
        rag = await ask_async(repo, "Where is login enforced?", cfg(fake_llm, tmp_path, context_text=None,
                                                                   strategy="rag"))
        sent = fake_llm.requests[-1]["messages"][-1]["content"]
        assert rag.strategy == "rag" and "login_required" in sent and sent.count("### ") <= 12
        assert "### src/shop/audit.py" not in sent  # only hits, not the whole repository
        auto = await ask_async(repo, "q", cfg(fake_llm, tmp_path, context_text=None, strategy="auto"))
        assert auto.strategy == "direct"
        start = events(tmp_path / "trace.jsonl")
        assert [e["strategy"] for e in start if e["event"] == "run_start"] == ["direct", "rag", "direct"]
        # a window the repository does not fit comfortably: auto runs the RLM
        fake_llm.handler = Script([repl("print(1)"), repl("FINAL('rlm answer')")])
        auto = await ask_async(repo, "q", cfg(fake_llm, tmp_path, context_text=None, strategy="auto",
                                              context_window=3000))
        assert auto.strategy == "rlm" and auto.answer == "rlm answer"
        # direct with a window smaller than the repository: what did not fit is said
        fake_llm.handler = lambda req: "partial"
        small = await ask_async(repo, "login", cfg(fake_llm, tmp_path, context_text=None, strategy="direct",
                                                   context_window=1200, max_reply_tokens=200))
        assert small.stopped == "final" and any("fit the model's window" in n for n in small.notes)
        assert "[... cut:" in fake_llm.requests[-1]["messages"][-1]["content"]
    finally:
        repo.close()


def test_cli_strategy_flag_and_json_field(fake_llm, tmp_path):
    import os
    import subprocess
    import sys
    fake_llm.handler = lambda req: "It is src/shop/auth/decorators.py:16-20."
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPO_RLM_")}
    env.update(REPO_RLM_CACHE_DIR=str(tmp_path / "cache"), REPO_RLM_API_KEY="dummy")
    p = subprocess.run([str(Path(sys.executable).parent / "repo-rlm"), "--repo", str(PYAPP), "--index",
                        str(tmp_path / "i.db"), "ask", "Where is the session checked?", "--strategy", "rag",
                        "--model", MODEL, "--api-base", fake_llm.api_base, "--max-reply-tokens", "100",
                        "--context-window", "8000", "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["strategy"] == "rag" and out["stopped"] == "final" and out["iterations"] == 1
    assert out["citations"] == [{"path": "src/shop/auth/decorators.py", "start_line": 16, "end_line": 20}]
    assert fake_llm.requests[-1]["max_tokens"] == 100
