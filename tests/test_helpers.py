"""The helper registry is the one list of helpers: the REPL namespace, the prompt, the README table
and SPEC's helper names agree with it; every list takes `limit` and says when it was cut.
Also the shared name rules (Unicode identifiers) through the Repo on a small repository."""
from __future__ import annotations

import inspect
import re
import subprocess
from pathlib import Path

import pytest

from repo_rlm.agent.metadata import prompt
from repo_rlm.query.helpers import HELPERS, HelperError, markdown_table, namespace, prompt_list
from repo_rlm.query.repo import Repo

ROOT = Path(__file__).resolve().parents[1]
SPEC = next((p for p in (ROOT.parent / "shared" / "SPEC.md", ROOT.parent.parent / "shared" / "SPEC.md") if p.exists()),
            ROOT.parent / "shared" / "SPEC.md")


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Repo:
    tmp = tmp_path_factory.mktemp("helpers")
    src = tmp / "app"
    src.mkdir()
    (src / "cafe.py").write_text("def café(x):\n    return x\n\n\ndef main():\n    café(1)\n    café(2)\n    café(3)\n",
                                 encoding="utf-8")
    subprocess.run(["git", "init", "-q"], cwd=src, check=True)
    r = Repo.open(src, index_path=tmp / "index.db")
    yield r
    r.close()


def test_the_repl_namespace_is_the_registry(repo: Repo) -> None:
    ns = namespace(repo)
    assert list(ns) == ["repo", *HELPERS]
    for name, helper in HELPERS.items():
        params = list(inspect.signature(ns[name]).parameters)
        assert params == [p.name for p in helper.params] + (["limit"] if helper.many else [])
        assert ns[name].__doc__.startswith(helper.doc)


def test_every_list_helper_takes_limit_and_reports_the_cut(repo: Repo) -> None:
    ns = namespace(repo)
    assert all(h.many == ("limit" in h.input_schema()["properties"]) for h in HELPERS.values())
    calls = ns["callers_of"]("café")
    assert [c.line for c in calls] == [6, 7, 8] and not calls.truncated
    cut = ns["callers_of"]("café", limit=2)
    assert [c.line for c in cut] == [6, 7] and cut.truncated and cut.more == 1
    assert repr(cut).splitlines()[-1] == "(truncated, 1 more: showing 2; pass a larger limit to see more)"
    refs = ns["references"]("café", 2)  # positional, as the signature says
    assert len(refs) == 2 and refs.truncated and refs.more is None  # references stop early: not counted
    assert ns["read_span"]("cafe.py", 1, 1) == "def café(x):"
    with pytest.raises(TypeError, match="find_defs: .*it takes find_defs\\(name, kind=None, path=None, limit=None\\)"):
        ns["find_defs"]()
    with pytest.raises(HelperError, match="limit must be an integer from 1"):
        ns["find_defs"]("x", limit=0)


def test_word_at_sees_unicode_identifiers(repo: Repo) -> None:
    assert repo.word_at("cafe.py", 6, 8) == ("café", 5)  # on the "é"
    assert repo.word_at("cafe.py", 6, 9) == ("café", 5)  # just after it
    (d,) = repo.definition_at("cafe.py", 6, 6)
    assert d.qualname == "cafe.café" and d.start_line == 1


def test_the_prompt_lists_the_registry() -> None:
    text = prompt("helpers_repo")
    assert prompt_list() in text and "{{" not in text
    for helper in HELPERS.values():
        assert f"`{helper.signature()}`" in text


def test_the_readme_table_is_the_registry() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme, "README's helper table is stale: paste `python -m repo_rlm.query.helpers`"


@pytest.mark.skipif(not SPEC.exists(), reason="shared/SPEC.md is beside the checkout only in the project's workplace")
def test_specs_helpers_are_all_in_the_registry() -> None:
    section = SPEC.read_text(encoding="utf-8").split("## The REPL that the model writes code in")[1].split("- `llm_query")[0]
    named = set(re.findall(r"`(\w+)\(", section)) - {"files", "read", "tree", "to_dict"}
    assert named and named <= set(HELPERS)


def test_cli_limit_cuts_the_list_and_says_so_on_stderr_only(repo: Repo) -> None:
    import json
    import sys

    cmd = [sys.executable, "-m", "repo_rlm.cli", "--repo", str(repo.root), "--index", str(repo.index_path)]
    full = subprocess.run([*cmd, "callers", "café", "--json"], capture_output=True, text=True, check=True)
    cut = subprocess.run([*cmd, "callers", "café", "--json", "--limit", "2"], capture_output=True, text=True, check=True)
    assert json.loads(cut.stdout) == json.loads(full.stdout)[:2] and len(json.loads(full.stdout)) == 3
    assert cut.stderr.strip() == "repo-rlm: truncated, 1 more: showing 2; raise --limit to see more" and full.stderr == ""
    bad = subprocess.run([*cmd, "defs", "x", "--limit", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip() == "repo-rlm: error: --limit must be at least 1"
    bad = subprocess.run([*cmd[:4], str(repo.root / "nope"), "mcp"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("repo-rlm mcp: error: repository path does not exist")
