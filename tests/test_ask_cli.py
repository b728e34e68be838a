"""`repo-rlm ask` and `show` as a new user meets them: bad flags, retrieval over a context file,
binary files, a model error said once, citations past the end of a file, and answers that are
not wrapped when piped. Runs the installed command against tests/fakellm.py."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fakellm import MODEL, Delay, Fault, Script, fake_llm, repl  # noqa: F401
from repo_rlm.agent.ask import AskConfig, ask_async
from repo_rlm.agent.citations import check_citations

ROOT = Path(__file__).resolve().parent.parent
PYAPP = ROOT / "fixtures" / "pyapp"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
NOTES = "\n".join(f"line {i}: the secret number is {i * 7}" if i == 42 else f"line {i}: filler text"
                  for i in range(1, 201))


def cli(tmp_path: Path, *args: str, repo: Path = PYAPP, **env: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "repo-rlm"
    full = {k: v for k, v in os.environ.items() if not k.startswith("REPO_RLM_")}
    full.update(REPO_RLM_CACHE_DIR=str(tmp_path / "cache"), **env)
    return subprocess.run([str(exe), "--repo", str(repo), "--index", str(tmp_path / "cli.db"), *args],
                          capture_output=True, text=True, env=full, timeout=180)


def one_line_error(p: subprocess.CompletedProcess, code: int = 2) -> str:
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    assert p.stdout == "" and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "Traceback" not in p.stderr
    return p.stderr.strip()


@pytest.mark.parametrize("args, says", [
    (["q", "--budget", "-1"], "--budget must be more than 0"),
    (["q", "--max-iterations", "0"], "--max-iterations must be at least 1"),
    (["q", "--timeout", "-3"], "--timeout must be more than 0"),
    (["q", "--max-depth", "0"], "--max-depth must be at least 1"),
    (["", "--model", MODEL], "the question is empty"),
    (["   "], "the question is empty"),
])
def test_ask_rejects_bad_limits_and_an_empty_question(tmp_path, args, says):
    assert says in one_line_error(cli(tmp_path, "ask", *args))


async def test_no_blame_for_the_model_when_it_never_replied(fake_llm, tmp_path):
    fake_llm.handler = Script([Delay(repl('FINAL("late")'), 20)])
    config = AskConfig(model=MODEL, api_base=fake_llm.api_base, api_key="dummy", use_cache=False, retries=1,
                       trace_path=tmp_path / "t.jsonl", timeout_s=1.5, call_timeout_s=1.5, context_text=NOTES)
    result = await ask_async(None, "what is the secret number?", config)
    assert result.stopped == "timeout" and result.usage["completion_tokens"] == 0  # no reply came
    assert not any("stronger root model" in n for n in result.notes), result.notes
    # and when the model did reply, without ever using the REPL, it is blamed
    fake_llm.handler = Script(["FINAL(42)"])
    result = await ask_async(None, "what is the secret number?", AskConfig(**{**config.__dict__, "timeout_s": 60}))
    assert any("stronger root model" in n for n in result.notes), result.notes


def test_context_without_a_model_answers_with_passages(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text(NOTES)
    p = cli(tmp_path, "ask", "what is the secret number?", "--context", str(notes))
    assert p.returncode == 0, p.stderr
    assert "Retrieval only" in p.stdout and "passages of the context file" in p.stdout
    assert "line 42: the secret number is 294" in p.stdout and "line 120:" not in p.stdout
    assert "stopped: no_model" in p.stderr


def test_binary_files_are_refused_by_show_and_context(tmp_path):
    repo = tmp_path / "proj"
    shutil.copytree(PYAPP, repo)
    (repo / "logo.png").write_bytes(PNG * 40)
    assert "logo.png is a binary file" in one_line_error(cli(tmp_path, "show", "logo.png", repo=repo))
    assert "binary file" in one_line_error(cli(tmp_path, "ask", "what is it?", "--context", str(repo / "logo.png")))
    p = cli(tmp_path, "show", "src/shop/audit.py:4", repo=repo)
    assert p.returncode == 0 and "def record(event):" in p.stdout


def test_a_model_error_is_said_once(fake_llm, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text(NOTES)
    fake_llm.handler = lambda req: Fault("500")
    p = cli(tmp_path, "ask", "what is the secret number?", "--context", str(notes), "--no-cache",
            REPO_RLM_MODEL=MODEL, REPO_RLM_API_BASE=fake_llm.api_base, REPO_RLM_API_KEY="dummy")
    assert p.returncode == 1, p.stderr
    both = " ".join((p.stdout + p.stderr).split())  # a wrapped copy counts too
    assert both.count("model call to") == 1, both
    assert p.stderr.strip().splitlines()[-1].startswith("repo-rlm ask: ")


def test_a_citation_past_the_end_of_a_file_is_dropped(tmp_path):
    (tmp_path / "a.py").write_text("one\ntwo\nthree\n")
    text, cites = check_citations("See a.py:2, a.py:7-9 and a.py:3-12.", tmp_path)
    assert cites == [{"path": "a.py", "start_line": 2, "end_line": 2}, {"path": "a.py", "start_line": 3, "end_line": 3}]
    assert "a.py:7-9" in text  # left as written, not presented as a source


def test_piped_answers_are_not_wrapped(fake_llm, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text(NOTES)
    name = "repo_rlm.query.search.passages_of_a_context_file_with_a_long_name"
    sentence = f"The passage is found by {name} in src/shop/auth/decorators.py:7-13, " + "and more words " * 12
    fake_llm.handler = Script([repl(f"print(1)"), repl(f"FINAL({('# Heading ' + chr(10) + chr(10) + sentence)!r})")])
    p = cli(tmp_path, "ask", "how?", "--context", str(notes), "--no-cache",
            REPO_RLM_MODEL=MODEL, REPO_RLM_API_BASE=fake_llm.api_base, REPO_RLM_API_KEY="dummy")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert sentence.strip() in lines, p.stdout  # one line, whole
    assert "Heading" in lines and "#" not in p.stdout  # rendered, left-aligned, not padded
