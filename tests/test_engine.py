"""The RLM engine end to end: scripted models on the fake server, the real litellm path,
the real sandboxed REPL worker."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from repo_rlm.agent.ask import AskConfig, ask_async
from repo_rlm.agent.citations import check_citations
from tests.fakellm import MODEL, Delay, Fault, Script, fake_llm, is_root, last_user, repl  # noqa: F401

TEXT = "\n".join(f"line {i}: the secret number is {i * 7}" if i == 42 else f"line {i}: filler" for i in range(1, 201))


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("REPO_RLM_CACHE_DIR", str(tmp_path / "cache"))


def cfg(fake, tmp_path, **kw) -> AskConfig:
    base = dict(model=MODEL, api_base=fake.api_base, api_key="dummy", use_cache=False, retries=1,
                trace_path=tmp_path / "trace.jsonl", cell_timeout_s=5, call_timeout_s=5, timeout_s=60,
                context_text=TEXT)
    base.update(kw)
    return AskConfig(**base)


def trace_events(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


async def test_context_session_probes_then_final(fake_llm, tmp_path):
    fake_llm.handler = Script([
        repl("hits = [l for l in context.splitlines() if 'secret' in l]\nprint(len(context), hits)"),
        repl("FINAL('The number is ' + hits[0].split()[-1])"),
    ])
    events = []
    r = await ask_async(None, "What is the secret number?", cfg(fake_llm, tmp_path), events.append)
    assert r.answer == "The number is 294" and r.stopped == "final" and r.iterations == 2
    assert r.usage["prompt_tokens"] > 0 and r.usage["cost_usd"] > 0
    # the root never saw the content, only metadata; the guard is on the first turn
    first = fake_llm.requests[0]["messages"]
    assert "is 294" not in json.dumps(first) and "do not answer now" in first[1]["content"]
    assert "line 42: the secret number is 294" in fake_llm.requests[1]["messages"][-1]["content"]
    assert {"iteration", "sub_calls_in_flight", "cost_usd"} <= set(events[-1])
    kinds = [e["event"] for e in trace_events(tmp_path / "trace.jsonl")]
    assert kinds[0] == "run_start" and kinds[-1] == "run_end" and "model_call" in kinds and "cell" in kinds


async def test_batched_sub_calls_run_concurrently(fake_llm, tmp_path):
    fake_llm.handler = Script(
        [repl("out = llm_query_batched([f'chunk {i}' for i in range(16)])\nprint(out)"), repl("FINAL_VAR('out')")],
        sub=lambda p: Delay(f"answer to {p}", 0.5))
    start = time.monotonic()
    r = await ask_async(None, "q", cfg(fake_llm, tmp_path))
    elapsed = time.monotonic() - start
    assert r.stopped == "final" and r.sub_calls == 16 and r.depth_reached == 1
    assert "answer to chunk 15" in r.answer and r.answer.index("chunk 0") < r.answer.index("chunk 15")
    assert elapsed < 4.0, elapsed  # sequential would take 8 s
    assert fake_llm.max_in_flight >= 8


def _depth2_handler(req):
    if not is_root(req):
        return "leaf says 7"
    first = req["messages"][1]["content"]
    if "Question: count the lines" in first:  # the child RLM's conversation
        if len(req["messages"]) == 2:
            return repl("n = len(context.splitlines())\nleaf = llm_query('hi')\nprint(n, leaf)")
        return repl("FINAL(f'{n} lines; {leaf}')")
    if len(req["messages"]) == 2:
        return repl("child = rlm_query('count the lines', context='a\\nb\\nc')\nprint(child)")
    return repl("FINAL(child)")


async def test_rlm_query_starts_child_at_depth_2(fake_llm, tmp_path):
    fake_llm.handler = _depth2_handler
    r = await ask_async(None, "q", cfg(fake_llm, tmp_path, max_depth=2))
    assert r.answer == "3 lines; leaf says 7" and r.depth_reached == 2 and r.sub_calls == 2
    depths = {e["depth"] for e in trace_events(tmp_path / "trace.jsonl") if e["event"] == "cell"}
    assert depths == {0, 1}


async def test_depth_limit_makes_rlm_query_a_plain_call(fake_llm, tmp_path):
    fake_llm.handler = _depth2_handler
    r = await ask_async(None, "q", cfg(fake_llm, tmp_path, max_depth=1))
    assert r.answer == "leaf says 7" and r.depth_reached == 1
    assert sum(is_root(q) for q in fake_llm.requests) == 2  # no child conversation


async def test_child_errors_are_surfaced_to_parent(fake_llm, tmp_path):
    def handler(req):
        first = req["messages"][1]["content"]
        if "Question: broken" in first:
            return repl("undefined_name + 1") if len(req["messages"]) == 2 else repl("FINAL('gave up')")
        return repl("c = rlm_query('broken')\nprint(c)") if len(req["messages"]) == 2 else repl("FINAL(c)")
    fake_llm.handler = handler
    r = await ask_async(None, "q", cfg(fake_llm, tmp_path, max_depth=2))
    assert r.answer.startswith("[child RLM at depth 1:") and "NameError" in r.answer and "gave up" in r.answer


async def test_iteration_limit_then_one_final_request(fake_llm, tmp_path):
    def handler(req):
        if "The run has stopped" in last_user(req):
            return "Best effort: see `context`."
        return repl("print('still looking')")
    fake_llm.handler = handler
    r = await ask_async(None, "q", cfg(fake_llm, tmp_path, max_iterations=3))
    assert r.stopped == "max_iterations" and r.iterations == 3
    assert r.answer == "Best effort: see `context`." and len(fake_llm.requests) == 4


async def test_sub_call_limit(fake_llm, tmp_path):
    """A batch larger than the sub-calls left is refused whole (nothing sent); the run stops when a
    sub-call is asked for with none left."""
    fake_llm.handler = Script([repl("r = llm_query_batched(['a','b','c','d','e'])\nprint(r)"),
                               repl("r = llm_query_batched(['a','b','c'])\nprint(r)"),
                               repl("print(llm_query('one more'))"), "unused"],
                              sub=lambda p: "ok " + p)
    fake_llm.handler.root[3] = lambda req: "partial answer" if "sub-call limit" in last_user(req) else "??"
    r = await ask_async(None, "q", cfg(fake_llm, tmp_path, max_sub_calls=3))
    assert r.stopped == "max_sub_calls" and r.sub_calls == 3 and r.answer == "partial answer"
    assert sum(not is_root(q) for q in fake_llm.requests) == 3
    roots = [q for q in fake_llm.requests if is_root(q)]
    assert "got 5 prompts but only 3 sub-calls are left" in roots[1]["messages"][-1]["content"]
    assert "['ok a', 'ok b', 'ok c']" in roots[2]["messages"][-1]["content"]
    assert "sub-call limit reached" in roots[3]["messages"][-1]["content"] or \
        "sub-call limit reached" in json.dumps(roots[3])


@pytest.mark.parametrize("limit", [{"budget_usd": 1e-7}, {"max_tokens": 50}])
async def test_budget_limits_stop_without_another_call(fake_llm, tmp_path, limit):
    fake_llm.handler = lambda req: repl("print('looking at ' + context[:20])")
    r = await ask_async(None, "q", cfg(fake_llm, tmp_path, **limit))
    assert r.stopped == "budget" and len(fake_llm.requests) == 1
    assert "Partial answer" in r.answer and "looking at line 1" in r.answer


async def test_wall_time_limit(fake_llm, tmp_path):
    fake_llm.handler = lambda req: (Delay("Out of time; partial.", 0.05) if "The run has stopped" in last_user(req)
                                    else Delay(repl("print(1)"), 0.4))
    start = time.monotonic()
    r = await ask_async(None, "q", cfg(fake_llm, tmp_path, timeout_s=1.5))
    assert r.stopped == "timeout" and r.answer == "Out of time; partial."
    assert time.monotonic() - start < 8


async def test_429_then_success_and_hang_then_success(fake_llm, tmp_path):
    faults = [Fault("429"), Fault("hang")]
    script = Script([repl("x = 1"), repl("FINAL('done')")])
    fake_llm.handler = lambda req: faults.pop(0) if faults else script(req)
    r = await ask_async(None, "q", cfg(fake_llm, tmp_path, call_timeout_s=0.6, retries=2))
    assert r.stopped == "final" and r.answer == "done" and len(fake_llm.requests) == 4


@pytest.mark.parametrize("fault", ["500", "malformed"])
async def test_persistent_fault_ends_with_error(fake_llm, tmp_path, fault):
    fake_llm.handler = lambda req: Fault(fault)
    r = await ask_async(None, "q", cfg(fake_llm, tmp_path))
    assert r.stopped == "error" and r.answer.startswith("Error: model call")
    assert "\n" not in r.notes[0] and len(fake_llm.requests) == 2  # one retry


async def test_model_that_never_writes_code(fake_llm, tmp_path):
    fake_llm.handler = lambda req: "I think the answer is 42."
    r = await ask_async(None, "q", cfg(fake_llm, tmp_path, max_iterations=2))
    assert r.stopped == "max_iterations" and any("never produced code" in n for n in r.notes)
    assert "no `repl` code block" in fake_llm.requests[1]["messages"][-1]["content"]


async def test_final_line_outside_code_is_accepted_after_first_turn(fake_llm, tmp_path):
    fake_llm.handler = Script(["FINAL('too early')", repl("print(len(context))"), 'Done.\nFINAL("it is 294")'])
    r = await ask_async(None, "q", cfg(fake_llm, tmp_path))
    assert r.answer == "it is 294" and r.iterations == 3


async def test_runaway_cell_is_killed_and_the_run_goes_on(fake_llm, tmp_path):
    fake_llm.handler = Script([repl("keep = 1\nwhile True:\n    pass"), repl("print('keep' in globals())"),
                               repl("FINAL('recovered')")])
    r = await ask_async(None, "q", cfg(fake_llm, tmp_path, cell_timeout_s=1))
    assert r.answer == "recovered"
    second = fake_llm.requests[1]["messages"][-1]["content"]
    assert "wall-time limit" in second and "namespace was reset" in second
    assert "False" in fake_llm.requests[2]["messages"][-1]["content"]


def _parent(pid: str) -> str:
    stat = (Path("/proc") / pid / "stat").read_text()
    return stat.rsplit(")", 1)[1].split()[1]


def _workers() -> set[int]:
    """REPL workers descended from this test process (other sessions' workers on the machine are not ours)."""
    me, found = str(os.getpid()), set()
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if b"repo_rlm.agent.repl_worker" not in (d / "cmdline").read_bytes():
                    continue
                pid = d.name
                while pid not in ("0", "1", me):
                    pid = _parent(pid)
                if pid == me:
                    found.add(int(d.name))
            except (OSError, IndexError):
                pass
    return found


async def test_cancel_stops_the_run_and_kills_the_worker(fake_llm, tmp_path):
    fake_llm.handler = Script([repl("import time\ntime.sleep(30)")])
    task = asyncio.ensure_future(ask_async(None, "q", cfg(fake_llm, tmp_path, cell_timeout_s=60)))
    for _ in range(600):  # a loaded machine may take seconds to start the sandbox
        await asyncio.sleep(0.05)
        if _workers() and fake_llm.requests:
            break
    await asyncio.sleep(0.3)
    assert _workers()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):  # SIGKILL is sent at once; a loaded machine may take a moment to reap
        await asyncio.sleep(0.1)
        if not _workers():
            break
    assert not _workers()


async def test_cache_makes_a_repeat_run_free(fake_llm, tmp_path):
    fake_llm.handler = Script([repl("print(1)"), repl("FINAL('cached answer')")])
    c = cfg(fake_llm, tmp_path, use_cache=True)
    first = await ask_async(None, "q", c)
    n = len(fake_llm.requests)
    fake_llm.handler.i = 0
    second = await ask_async(None, "q", c)
    assert second.answer == first.answer == "cached answer" and len(fake_llm.requests) == n
    assert second.usage["cost_usd"] == 0 and first.usage["cost_usd"] > 0


def test_citations_are_checked_mended_or_dropped(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "auth.py").write_text("a\nb\nc\nd\n")
    (tmp_path / "README.md").write_text("x\n")
    answer = ("See `pkg/auth.py:2-3`, also auth.py:3-99 and pkg/auth.py:9, "
              "nope.py:1-2, README.md:1 and http://example.com:80.")
    text, cites = check_citations(answer, tmp_path)
    assert cites == [{"path": "pkg/auth.py", "start_line": 2, "end_line": 3},
                     {"path": "pkg/auth.py", "start_line": 3, "end_line": 4},
                     {"path": "README.md", "start_line": 1, "end_line": 1}]  # pkg/auth.py:9 is past the end
    assert "pkg/auth.py:3-4" in text and "nope.py:1-2" in text and "pkg/auth.py:9" in text


# --- over a real repository (the pyapp fixture, indexed into tmp) -----------------------------

PYAPP = Path(__file__).resolve().parent.parent / "fixtures" / "pyapp"


@pytest.fixture
def pyapp(tmp_path):
    from repo_rlm.query.repo import Repo
    repo = Repo.open(PYAPP, index_path=tmp_path / "index.db")
    yield repo
    repo.close()


ROOT_SESSION = [
    repl("d = find_defs('login_required')\nprint(d)\nprint(callers_of('check_session'))"),
    repl("span = read_span(d[0].path, d[0].start_line, d[0].end_line)\n"
         "notes = llm_query_batched(['Explain:\\n' + span, 'Who calls it?\\n' + str(callers_of('login_required'))])\n"
         "print(span)\nprint(notes)"),
    repl("FINAL(f'`login_required` wraps views ({d[0].path}:{d[0].start_line}-{d[0].end_line}), "
         "see decorators.py:16-99 and views.py:8; not ghost.py:1-2.')"),
]


async def test_root_session_uses_helpers_on_a_fixture(fake_llm, tmp_path, pyapp):
    fake_llm.handler = Script(ROOT_SESSION, sub=lambda p: "it checks the session")
    r = await ask_async(pyapp, "How is login enforced?", cfg(fake_llm, tmp_path, context_text=None))
    assert r.stopped == "final" and r.iterations == 3 and r.sub_calls == 2
    assert r.citations == [{"path": "src/shop/auth/decorators.py", "start_line": 7, "end_line": 13},
                           {"path": "src/shop/auth/decorators.py", "start_line": 16, "end_line": 20},
                           {"path": "src/shop/views.py", "start_line": 8, "end_line": 8}]
    assert "src/shop/auth/decorators.py:16-20" in r.answer and "ghost.py:1-2" in r.answer
    first = fake_llm.requests[0]["messages"]
    meta = first[1]["content"]
    assert "python" in meta and "src/" in meta and "pyproject.toml" in meta  # metadata and layout
    assert "check_session(request)" not in json.dumps(first)  # never the content
    cell_out = fake_llm.requests[1]["messages"][-1]["content"]
    assert "src/shop/auth/decorators.py:7-13" in cell_out and "check_session" in cell_out
    subs = [q for q in fake_llm.requests if not is_root(q)]
    assert len(subs) == 2 and any("def login_required(view):" in last_user(q) for q in subs)  # concurrent: any order


async def test_no_model_is_retrieval_only(pyapp, tmp_path):
    r = await ask_async(pyapp, "login required", AskConfig(model=None))
    assert r.stopped == "no_model" and "Retrieval only" in r.answer and "REPO_RLM_MODEL" in r.answer
    assert r.citations and r.citations[0]["path"] == "src/shop/auth/decorators.py"


def _cli(args: list[str], tmp_path: Path, **env) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "repo-rlm"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("REPO_RLM_")}
    full_env.update(REPO_RLM_CACHE_DIR=str(tmp_path / "cache"), **env)
    return subprocess.run([str(exe), "--repo", str(PYAPP), "--index", str(tmp_path / "cli.db"), *args],
                          capture_output=True, text=True, env=full_env, timeout=120)


def test_cli_ask_json_end_to_end(fake_llm, tmp_path):
    fake_llm.handler = Script(ROOT_SESSION, sub=lambda p: "it checks the session")
    trace = tmp_path / "cli-trace.jsonl"
    p = _cli(["ask", "How is login enforced?", "--model", MODEL, "--api-base", fake_llm.api_base, "--json",
              "--trace", str(trace)], tmp_path, REPO_RLM_API_KEY="dummy")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert set(out) >= {"answer", "citations", "stopped", "iterations", "sub_calls", "depth_reached", "usage", "trace"}
    assert out["stopped"] == "final" and out["citations"][0]["path"] == "src/shop/auth/decorators.py"
    assert out["usage"]["cost_usd"] > 0 and out["trace"] == str(trace) and trace.exists()
    auth = [q for q in fake_llm.requests if q.get("model") == "gpt-4o-mini"]
    assert auth, "requests reached the fake server through litellm"


def test_cli_ask_without_model_and_bad_input(tmp_path):
    p = _cli(["ask", "login required", "--json"], tmp_path)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["stopped"] == "no_model"
    p = _cli(["ask", "q", "--context", str(tmp_path / "missing.txt"), "--model", MODEL], tmp_path)
    assert p.returncode == 2 and p.stdout == "" and len(p.stderr.strip().splitlines()) == 1


def test_cli_context_mode_renders_markdown(fake_llm, tmp_path):
    doc = tmp_path / "notes.txt"
    doc.write_text(TEXT)
    fake_llm.handler = Script([repl("print(sum('secret' in l for l in context.splitlines()))"),
                               repl("FINAL('# Result\\n\\nOne **secret** line.')")])
    p = _cli(["ask", "How many secret lines?", "--context", str(doc), "--no-cache"], tmp_path,
             REPO_RLM_MODEL=MODEL, REPO_RLM_API_BASE=fake_llm.api_base, REPO_RLM_API_KEY="dummy")
    assert p.returncode == 0, p.stderr
    assert "Result" in p.stdout and "**" not in p.stdout  # rendered, not raw Markdown
    assert "stopped: final" in p.stderr and "iteration" in p.stderr  # progress and summary on stderr
    assert "1\n" in json.dumps(fake_llm.requests[1]) or "[block 1 output]\\n1" in json.dumps(fake_llm.requests[1])
