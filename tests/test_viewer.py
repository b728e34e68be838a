"""`repo-rlm trace view`: a real trace (fake model server, real sandboxed REPL) rendered as a page
and opened in headless Chromium."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from repo_rlm.agent.ask import AskConfig, ask_async
from tests.chromium import colour_variety, dump_dom, screenshot
from tests.fakellm import MODEL, fake_llm, is_root, repl  # noqa: F401

HOSTILE = '<img src=x onerror="document.body.dataset.pwned=1"></pre><script>document.body.dataset.pwned=2</script>'
QUESTION = "Which line holds the <secret> number?"


def _handler(req):
    if not is_root(req):
        return "sub says: line 42"
    first = req["messages"][1]["content"]
    n = len(req["messages"])
    if "Question: count lines" in first:  # the child RLM
        return repl("FINAL(str(len(context.splitlines())))")
    if n == 2:
        return repl("hits = [l for l in context.splitlines() if 'secret' in l]\nprint(hits)\n"
                    f"print({HOSTILE!r})")
    if n == 4:
        return repl("notes = llm_query_batched(['where?', 'really?'])\nchild = rlm_query('count lines', "
                    "context='a\\nb')\nprint(notes, child)\nundefined_name")
    return repl("FINAL('It is on line 42, child counted ' + child)")


@pytest.fixture
def trace_file(fake_llm, tmp_path, monkeypatch):
    monkeypatch.setenv("REPO_RLM_CACHE_DIR", str(tmp_path / "cache"))
    fake_llm.handler = _handler
    text = "\n".join("line 42: the secret number is 294" if i == 42 else f"line {i}" for i in range(1, 100))
    path = tmp_path / "run.jsonl"
    cfg = AskConfig(model=MODEL, api_base=fake_llm.api_base, api_key="dummy", use_cache=False, retries=0,
                    trace_path=path, cell_timeout_s=10, timeout_s=60, context_text=text, max_depth=2)
    import asyncio
    r = asyncio.run(ask_async(None, QUESTION, cfg))
    assert r.stopped == "final" and "child counted 2" in r.answer
    return path


def _cli(*args: str, **kw) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "repo-rlm"
    return subprocess.run([str(exe), "trace", *args], capture_output=True, text=True, timeout=60, **kw)


def test_trace_page_in_chromium(trace_file, tmp_path):
    out = tmp_path / "page.html"
    p = _cli("view", str(trace_file), "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == str(out)
    events = [json.loads(x) for x in trace_file.read_text().splitlines()]
    cells = [e for e in events if e["event"] == "cell"]
    page = out.read_text()
    assert "http://" not in page and "https://" not in page and "src=" not in page.replace("src=x", "")
    dom = dump_dom(out)
    assert 'data-ready="1"' in dom  # the page's script ran
    assert f'data-cells="{len(cells)}"' in dom and len(cells) == 4  # root 3 cells + the child's one
    assert "data-pwned" not in dom  # hostile trace text stays text
    q = re.search(r'<div class="question" id="question">(.*?)</div>', dom, re.S)
    assert q and q.group(1) == "Which line holds the &lt;secret&gt; number?"
    for c in cells:  # every cell's code is on the page
        first_line = c["code"].strip().splitlines()[0]
        assert first_line.replace("'", "&#x27;").replace("<", "&lt;").replace('"', "&quot;")[:30] in page
    assert "NameError" in dom and 'class="node depth-1"' in dom and "child RLM at depth 1" in dom
    assert dom.count('class="bar bar-sub_call"') == 2 and "sub says: line 42" in dom
    assert "It is on line 42, child counted 2" in dom and "running" not in dom.split("<h2>Answer")[0]
    colours, top_share = colour_variety(screenshot(out, tmp_path / "page.png"))
    assert colours > 10 and top_share < 0.98  # not a blank page


def test_follow_rewrites_until_the_run_ends(trace_file, tmp_path):
    lines = trace_file.read_text().splitlines()
    live = tmp_path / "live.jsonl"
    live.write_text("\n".join(lines[:-1]) + "\n{\"event\": \"cell\", \"dep")  # mid-run, cut mid-line
    out = tmp_path / "live.html"
    proc = subprocess.Popen([str(Path(sys.executable).parent / "repo-rlm"), "trace", "view", str(live), "--out",
                             str(out), "--follow"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        page = out.read_text()
        assert 'http-equiv="refresh"' in page and "The run has not ended yet" in page and "not JSON" in page
        assert proc.poll() is None
        time.sleep(1.1)
        live.write_text("\n".join(lines) + "\n")
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "following" in stderr
    page = out.read_text()
    assert 'http-equiv="refresh"' not in page and "It is on line 42" in page


def test_bad_input_is_one_line_exit_2(tmp_path):
    p = _cli("view", str(tmp_path / "missing.jsonl"))
    assert p.returncode == 2 and p.stdout == "" and len(p.stderr.strip().splitlines()) == 1
    p = _cli()
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
