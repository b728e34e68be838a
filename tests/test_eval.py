"""The evaluation harness end to end on the fake model server: known answers per strategy, so
every accuracy is known exactly; the three formats; a repository at a base commit."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from repo_rlm.eval.datasets import DatasetError, gold_from_patch, load
from repo_rlm.eval.harness import mcq_letter, predicted_files
from tests.fakellm import MODEL, fake_llm, is_root, repl  # noqa: F401

EXAMPLES = Path(__file__).resolve().parents[1] / "bench" / "eval" / "examples"
MCQ = {r["_id"]: r for r in map(json.loads, (EXAMPLES / "mcq.jsonl").read_text().splitlines())}
QA = {r["id"]: r for r in map(json.loads, (EXAMPLES / "qa.jsonl").read_text().splitlines())}
LOC = {r["instance_id"]: r for r in map(json.loads, (EXAMPLES / "loc.jsonl").read_text().splitlines())}
WRONG = {"A": "B", "B": "C", "C": "D", "D": "A"}
# What the scripted model knows, per strategy: which questions it answers right.
RIGHT = {"direct": {"pyapp-mcq-1", "pyapp-mcq-2", "pyapp-mcq-3", "pyapp-mcq-4", "pyapp-qa-1", "pyapp-qa-2",
                    "pyapp-qa-3"},
         "rag": {"pyapp-mcq-3", "pyapp-qa-2", "pyapp-loc-1"},
         "rlm": {"pyapp-mcq-1", "pyapp-mcq-2", "pyapp-loc-1", "pyapp-loc-2", "pyapp-loc-3", "pyapp-qa-3"}}


def _which(text: str) -> tuple[str, dict]:
    for table in (MCQ, QA):
        for rid, r in table.items():
            if r["question"] in text:
                return rid, r
    for rid, r in LOC.items():
        if r["problem_statement"] in text:
            return rid, r
    raise AssertionError("unknown question: " + text[-300:])


def _reply(rid: str, r: dict, right: bool) -> str:
    if rid in MCQ:
        return f"The correct answer is ({r['answer'] if right else WRONG[r['answer']]})"
    if rid in QA:
        return "GOOD-ANSWER " + r["answer"] if right else "I could not find this."
    return ("Change " + r["gold_files"][0] + ":1-3") if right else "Change src/shop/cli.py"


def handler(req):
    msgs = req["messages"]
    text = msgs[-1]["content"]
    if "You grade answers" in text:
        return "The facts match.\nVERDICT: CORRECT" if "GOOD-ANSWER" in text else "Missing.\nVERDICT: INCORRECT"
    if is_root(req):  # the RLM: one probe, then the answer
        rid, r = _which(msgs[1]["content"])
        if len(msgs) == 2:
            return repl("print(search('login', 3))")
        return repl(f"FINAL({_reply(rid, r, rid in RIGHT['rlm'])!r})")
    rid, r = _which(text)
    direct = all(f"### {p}" in text for p in ("README.md:1-", "src/shop/cli.py:1-13", "src/shop/audit.py:1-9"))
    return _reply(rid, r, rid in RIGHT["direct" if direct else "rag"])


def _cli(args, tmp_path, fake):
    exe = Path(sys.executable).parent / "repo-rlm"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPO_RLM_")}
    env.update(REPO_RLM_CACHE_DIR=str(tmp_path / "cache"), REPO_RLM_API_KEY="dummy")
    return subprocess.run([str(exe), "eval", *args, "--model", MODEL, "--api-base", fake.api_base,
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=600)


def test_eval_on_the_examples_with_known_accuracy(fake_llm, tmp_path):
    fake_llm.handler = handler
    p = _cli([str(EXAMPLES / "mcq.jsonl"), str(EXAMPLES / "qa.jsonl"), str(EXAMPLES / "loc.jsonl")], tmp_path, fake_llm)
    assert p.returncode == 0, p.stderr
    out = json.loads((tmp_path / "out" / "results.json").read_text())
    got = {(s["format"], s["strategy"]): (s["correct"], s["questions"]) for s in out["summary"]}
    want = {}
    for fmt, ids, strategies in (("mcq", MCQ, ["auto", "rlm", "direct", "rag"]),
                                 ("qa", QA, ["auto", "rlm", "direct", "rag"]), ("loc", LOC, ["rag", "rlm"])):
        for st in strategies:
            right = RIGHT["direct" if st == "auto" else st]  # auto answers directly on this small repository
            want[(fmt, st)] = (sum(i in right for i in ids), len(ids))
    assert got == want
    rows = out["rows"]
    assert {r["chosen"] for r in rows if r["strategy"] == "auto"} == {"direct"}
    assert all(r["stopped"] == "final" and r["prompt_tokens"] > 0 and r["cost_usd"] > 0 for r in rows)
    assert all(Path(r["trace"]).is_file() for r in rows)
    # the table on stdout: one line per format and strategy, with the exact accuracy
    assert "| mcq | rag | 4 | 25% (1/4) |" in p.stdout and "| loc | rlm | 3 | 100% (3/3) |" in p.stdout
    assert "| qa | direct | 3 | 100% (3/3) |" in p.stdout and len(re.findall(r"^\| (mcq|qa|loc) ", p.stdout, re.M)) == 10
    png = (tmp_path / "out" / "eval.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    judged = [q for q in fake_llm.requests if "You grade answers" in q["messages"][-1]["content"]]
    assert len(judged) == 4 * len(QA) and all(q.get("max_tokens") for q in fake_llm.requests)


def test_longbench_context_records_and_base_commits(fake_llm, tmp_path):
    """LongBench-v2 records carry the repository as `context` text and a domain; SWE-bench records a
    repository, a base commit and a patch."""
    repo = tmp_path / "proj"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    (repo / "old_module.py").write_text("def parse_config(path):\n    return open(path).read()\n")
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    base = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    (repo / "old_module.py").unlink()
    (repo / "new_module.py").write_text("def other():\n    pass\n")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "two"], check=True)
    patch = "diff --git a/old_module.py b/old_module.py\n--- a/old_module.py\n+++ b/old_module.py\n@@ -1 +1 @@\n"
    (tmp_path / "loc.jsonl").write_text(json.dumps({"instance_id": "x-1", "repo": "proj", "base_commit": base,
                                                    "problem_statement": "parse_config leaks a file handle",
                                                    "patch": patch}) + "\n")
    (tmp_path / "lb.json").write_text(json.dumps([
        {"_id": "lb-1", "domain": "Code Repository Understanding", "question": "What does f return?",
         "choice_A": "1", "choice_B": "2", "choice_C": "3", "choice_D": "4", "answer": "C",
         "context": "def f():\n    return 3\n"},
        {"_id": "lb-2", "domain": "Single-Document QA", "question": "skip me", "choice_A": "a", "choice_B": "b",
         "choice_C": "c", "choice_D": "d", "answer": "A", "context": "text"}]))

    def h(req):
        text = req["messages"][-1]["content"]
        if "leaks a file handle" in text:  # rag saw the file of the base commit
            return "Fix old_module.py:1-2" if "### old_module.py:1-2" in text else "nothing found"
        return "The correct answer is (C)" if "return 3" in text else "The correct answer is (A)"
    fake_llm.handler = h
    p = _cli([str(tmp_path / "lb.json"), str(tmp_path / "loc.jsonl"), "--strategies", "rag,direct"], tmp_path, fake_llm)
    assert p.returncode == 0, p.stderr
    out = json.loads((tmp_path / "out" / "results.json").read_text())
    got = {(s["format"], s["strategy"]): s["correct"] for s in out["summary"]}
    assert got == {("mcq", "rag"): 1, ("mcq", "direct"): 1, ("loc", "rag"): 1, ("loc", "direct"): 1}
    assert [r["id"] for r in out["rows"]] == ["lb-1", "lb-1", "x-1", "x-1"]  # lb-2 is another domain


def test_scoring_helpers_and_bad_input(tmp_path, fake_llm):
    assert mcq_letter("The correct answer is (B).") == "B" and mcq_letter("**C**) because") == "C"
    assert mcq_letter("no idea") is None
    files = ["src/a.py", "src/pkg/b.py", "README.md"]
    assert predicted_files("see `pkg/b.py:3` and src/a.py, not c.py", [], files) == ["src/pkg/b.py", "src/a.py"]
    assert gold_from_patch("diff --git a/x/y.py b/x/y.py\n+1\ndiff --git a/z.c b/z.c\n") == ["x/y.py", "z.c"]
    (tmp_path / "bad.jsonl").write_text('{"question": "q"}\n')
    with pytest.raises(DatasetError, match="cannot tell the format"):
        load(tmp_path / "bad.jsonl")
    (tmp_path / "norepo.jsonl").write_text('{"question": "q", "answer": "a", "repo": "nowhere"}\n')
    p = _cli([str(tmp_path / "norepo.jsonl")], tmp_path, fake_llm)
    assert p.returncode == 2 and p.stdout == "" and len(p.stderr.strip().splitlines()) == 1
    assert "not found" in p.stderr
    p = _cli([str(EXAMPLES / "mcq.jsonl"), "--strategies", "rag,magic"], tmp_path, fake_llm)
    assert p.returncode == 2 and "unknown strategy" in p.stderr
