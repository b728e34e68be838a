"""`repo-rlm mcp` end to end over stdio, driven by the official MCP SDK's own client, on a copy of
fixtures/pyapp (known answers in fixtures/pyapp/EXPECTED.md); `ask` against tests/fakellm.py.
The MCP Inspector's CLI, an independent client from npm, is run too when npx can get it."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from fakellm import MODEL, FakeLLM, Script, repl
from repo_rlm.query.helpers import HELPERS

ROOT = Path(__file__).resolve().parents[1]
PYAPP = ROOT / "fixtures" / "pyapp"


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=cwd, check=True,
                   capture_output=True)


@pytest.fixture()
def app(tmp_path: Path) -> Path:
    dst = tmp_path / "pyapp"
    shutil.copytree(PYAPP, dst)
    _git(dst, "init", "-q")
    _git(dst, "add", "-A")
    _git(dst, "commit", "-qm", "fixture")
    return dst


def server_params(root: Path, extra_env: dict[str, str] | None = None) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPO_RLM_")}
    env.update(XDG_CACHE_HOME=str(root.parent / "cache"), PYTHONUNBUFFERED="1", **(extra_env or {}))
    return StdioServerParameters(command=sys.executable, env=env,
                                 args=["-m", "repo_rlm.cli", "--repo", str(root), "--index", str(root.parent / "index.db"), "mcp"])


@asynccontextmanager
async def connect(root: Path, extra_env: dict[str, str] | None = None):
    """A client on a server whose background index build has finished."""
    async with Client(server_params(root, extra_env), read_timeout_seconds=60) as client:
        deadline = time.monotonic() + 60
        while True:
            r = await client.call_tool("find_defs", {"name": "main"})
            if "still being built" not in r.content[0].text and r.structured_content["results"]:
                break
            assert time.monotonic() < deadline, "the index build never finished"
            await anyio.sleep(0.05)
        yield client


def rows(result, *keys: str) -> list[tuple]:
    assert not result.is_error, result.content[0].text
    return [tuple(item[k] for k in keys) for item in result.structured_content["results"]]


async def test_tools_are_the_registry_helpers_and_answer_exactly(app: Path) -> None:
    async with connect(app) as c:
        listed = {t.name: t for t in (await c.list_tools()).tools}
        assert list(listed) == [*HELPERS, "ask"]
        for name, helper in HELPERS.items():
            schema = listed[name].input_schema
            assert schema == helper.input_schema(50 if helper.many else None)
            assert ("limit" in schema["properties"]) == helper.many
            assert listed[name].output_schema == helper.output_schema()
        assert listed["ask"].input_schema["required"] == ["question"]

        r = await c.call_tool("find_defs", {"name": "slugify"})
        assert rows(r, "qualname", "path", "start_line", "end_line") == [
            ("shop.services.slugify", "src/shop/services.py", 11, 13),
            ("shop.util.helpers.slugify", "src/shop/util/helpers.py", 5, 6)]
        assert r.content[0].text.splitlines()[0] == "<function shop.services.slugify src/shop/services.py:11-13>"

        r = await c.call_tool("callers_of", {"symbol": "shop.util.helpers.slugify"})
        assert rows(r, "caller", "path", "line", "resolution") == [
            ("shop.cli.main", "src/shop/cli.py", 8, "resolved"),
            ("shop.views.outer.inner", "src/shop/views.py", 27, "resolved")]

        r = await c.call_tool("callees_of", {"symbol": "shop.views.profile"})
        assert rows(r, "callee", "line", "resolution") == [
            ("shop.models.User.__init__", 10, "resolved"), ("shop.models.User.save", 11, "resolved"),
            ("shop.services.notify", 12, "resolved"), ("shop.util.helpers.format_name", 13, "resolved")]

        r = await c.call_tool("references", {"name": "record"})
        assert rows(r, "path", "line", "column", "kind") == [
            ("src/shop/audit.py", 4, 5, "definition"), ("src/shop/cli.py", 7, 16, "call"),
            ("src/shop/models.py", 23, 15, "call"), ("src/shop/services.py", 7, 11, "call")]

        r = await c.call_tool("outline", {"path": "src/shop/models.py"})
        tree = [(i["name"], [ch["name"] for ch in i["children"]]) for i in r.structured_content["results"]]
        assert tree == [("Base", ["save", "validate"]), ("User", ["__init__", "save", "display"]), ("Admin", ["save", "grant"])]
        assert r.content[0].text.splitlines()[1] == "  <method shop.models.Base.save 8-10 (0 children)>"

        r = await c.call_tool("read_span", {"path": "src/shop/audit.py", "start_line": 4, "end_line": 5})
        assert r.structured_content == {"path": "src/shop/audit.py", "start_line": 4, "end_line": 5,
                                        "text": "def record(event):\n    return _write(event)"}
        assert r.content[0].text == "src/shop/audit.py:4-5\ndef record(event):\n    return _write(event)"

        r = await c.call_tool("grep", {"pattern": r"raise \w+Error"})
        assert rows(r, "path", "line") == [("src/shop/auth/decorators.py", 19)]

        r = await c.call_tool("search", {"query": "check_session", "k": 3})
        assert rows(r, "symbol")[0] == ("shop.auth.decorators.check_session",)

        r = await c.call_tool("imports_of", {"path": "src/shop/cli.py"})
        assert rows(r, "line", "module", "alias", "resolved") == [
            (1, "shop.audit", "", "shop"), (2, "shop.util.helpers", "helpers2", "shop.util.helpers"),
            (3, "shop.views", "", "shop.views.outer")]

        r = await c.call_tool("importers_of", {"module": "shop.audit"})
        assert {p for p, in rows(r, "path")} == {"src/shop/cli.py", "src/shop/models.py", "src/shop/services.py"}

        r = await c.call_tool("git_log", {})
        assert rows(r, "subject", "author") == [("fixture", "t")]

        r = await c.call_tool("blame", {"path": "src/shop/audit.py", "start_line": 4, "end_line": 5})
        assert rows(r, "line", "text") == [(4, "def record(event):"), (5, "    return _write(event)")]


async def test_every_list_is_bounded_and_says_how_much_was_cut(app: Path) -> None:
    async with connect(app) as c:
        r = await c.call_tool("callers_of", {"symbol": "slugify", "limit": 1})
        assert r.structured_content["truncated"] is True and r.structured_content["more"] == 2
        assert len(r.structured_content["results"]) == 1
        assert "truncated, 2 more: showing 1" in r.content[0].text
        # no limit given: the default (50) applies; grep stops early, so the rest is not counted
        r = await c.call_tool("grep", {"pattern": "."})
        assert len(r.structured_content["results"]) == 50
        assert r.structured_content["truncated"] is True and r.structured_content["more"] is None
        assert "truncated, more not counted: showing 50" in r.content[0].text
        some = (await c.call_tool("find_defs", {"name": "*", "limit": 10})).structured_content
        every = (await c.call_tool("find_defs", {"name": "*", "limit": 1000})).structured_content
        assert some["truncated"] is True and some["more"] > 0 and every["truncated"] is False
        assert len(every["results"]) == 10 + some["more"] and every["results"][:10] == some["results"]


BAD = [
    ("find_defs", {"nam": "x"}, "find_defs: unknown argument nam; it takes find_defs(name, kind=None, path=None, limit=None)"),
    ("find_defs", {}, "find_defs: missing argument 'name'"),
    ("read_span", {"path": "src/shop/audit.py", "start_line": "4", "end_line": 5}, "read_span: start_line must be integer, not str"),
    ("read_span", {"path": "../../etc/passwd", "start_line": 1, "end_line": 2}, "read_span: file is outside the repository"),
    ("outline", {"path": "src/nope.py"}, "outline: unknown file: src/nope.py"),
    ("grep", {"pattern": "("}, "grep: bad regular expression"),
    ("callers_of", {"symbol": "x", "limit": 0}, "callers_of: limit must be an integer from 1"),
    ("nope", {}, "unknown tool 'nope'"),
    ("ask", {"question": "  "}, "ask: `question` must be a non-empty string"),
    ("ask", {"question": "q", "max_iterations": "many"}, "ask: max_iterations must be integer"),
]


async def test_bad_arguments_are_error_results_and_the_server_keeps_serving(app: Path) -> None:
    async with Client(server_params(app), read_timeout_seconds=60) as c:
        for tool, args, message in BAD:
            r = await c.call_tool(tool, args)
            assert r.is_error and r.content[0].text.startswith(message), (tool, args, r.content[0].text)
            r = await c.call_tool("read_span", {"path": "src/shop/audit.py", "start_line": 4, "end_line": 4})
            assert not r.is_error and r.structured_content["text"] == "def record(event):"


async def test_tools_answer_while_the_index_is_built_in_the_background(tmp_path: Path) -> None:
    root = tmp_path / "big"
    for i in range(3000):  # enough files that the first build outlasts the server's start
        d = root / f"pkg{i // 100}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"mod{i}.py").write_text(f"def f{i}(x):\n    return g{i}(x)\n\n\ndef g{i}(x):\n    return x\n")
    async with Client(server_params(root), read_timeout_seconds=60) as c:
        first = await c.call_tool("find_defs", {"name": "f*", "limit": 10000})
        assert not first.is_error
        assert "note: the index is still being built" in first.content[0].text
        assert len(first.structured_content["results"]) < 3000
        deadline = time.monotonic() + 120
        while True:
            r = await c.call_tool("find_defs", {"name": "f*", "limit": 10000})
            if "still being built" not in r.content[0].text:
                break
            assert time.monotonic() < deadline, "the background build never finished"
            await anyio.sleep(0.2)
        assert len(r.structured_content["results"]) == 3000
        assert rows(await c.call_tool("callers_of", {"symbol": "g2999"}), "caller") == [("pkg29.mod2999.f2999",)]


@pytest.fixture()
def fake_model():
    server = FakeLLM().start()
    try:
        yield server
    finally:
        server.stop()


def model_env(fake: FakeLLM) -> dict[str, str]:
    return {"REPO_RLM_MODEL": MODEL, "REPO_RLM_API_BASE": fake.api_base, "REPO_RLM_API_KEY": "sk-fake"}


async def test_ask_reports_progress_and_returns_checked_citations(app: Path, fake_model: FakeLLM) -> None:
    fake_model.handler = Script([
        repl('print(find_defs("login_required"))'),
        repl('FINAL("Authentication is enforced by login_required in src/shop/auth/decorators.py:7-13.")'),
    ])
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        progress.append((p, total, message))

    async with connect(app, model_env(fake_model)) as c:
        r = await c.call_tool("ask", {"question": "where is auth enforced?", "max_iterations": 5},
                              progress_callback=on_progress, read_timeout_seconds=120)
    assert not r.is_error, r.content[0].text
    data = r.structured_content
    assert data["stopped"] == "final" and data["iterations"] == 2
    assert data["citations"] == [{"path": "src/shop/auth/decorators.py", "start_line": 7, "end_line": 13}]
    assert "Sources: src/shop/auth/decorators.py:7-13" in r.content[0].text
    assert progress and all(total == 5 for _p, total, _m in progress)
    iterations = [p for p, _t, _m in progress]
    assert iterations == sorted(iterations) and iterations[0] == 1 and iterations[-1] == 2
    assert all(m.startswith("iteration ") and "$" in m for _p, _t, m in progress)
    assert len(fake_model.requests) == 2


def repl_workers(root: Path) -> list[int]:
    """REPL worker processes started for this repository (their argv names it)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"repo_rlm.agent.repl_worker" in argv and str(root.resolve()).encode() in argv:
                out.append(int(entry))
    return out


async def test_cancelling_ask_stops_the_model_calls_and_kills_the_repl_worker(app: Path, fake_model: FakeLLM) -> None:
    fake_model.handler = Script([repl("import time\nprint('started', flush=True)\ntime.sleep(120)"), repl('FINAL("late")')])
    messages: list[str] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")

    async with connect(app, model_env(fake_model)) as c:
        outcome: dict[str, object] = {}
        async with anyio.create_task_group() as tg:
            scope = anyio.CancelScope()

            async def run() -> None:
                with scope:
                    outcome["result"] = await c.call_tool("ask", {"question": "hang please"}, progress_callback=on_progress,
                                                          read_timeout_seconds=120)

            tg.start_soon(run)
            deadline = time.monotonic() + 30
            while not (repl_workers(app) and any("running cell" in m for m in messages)):
                assert time.monotonic() < deadline, f"the cell never started: {messages}"
                await anyio.sleep(0.05)
            await anyio.sleep(0.5)  # the cell is sleeping now
            assert "result" not in outcome
            scope.cancel()  # the client sends notifications/cancelled
        deadline = time.monotonic() + 10
        while repl_workers(app):
            assert time.monotonic() < deadline, f"REPL workers left behind: {repl_workers(app)}"
            await anyio.sleep(0.05)
        assert "result" not in outcome
        assert len(fake_model.requests) == 1  # no model call after the cancel
        # the server still answers
        r = await c.call_tool("find_defs", {"name": "record"})
        assert rows(r, "qualname") == [("shop.audit.record",)]


def _inspector() -> list[str] | None:
    """The MCP Inspector's CLI, installed by .ci/run under tests/inspector; None when npm could not get it."""
    bin_ = ROOT / "tests" / "inspector" / "node_modules" / ".bin" / "mcp-inspector"
    return [str(bin_)] if bin_.exists() else None


@pytest.mark.skipif(_inspector() is None, reason="the MCP Inspector is not installed (npm could not get it; see .ci/run)")
def test_the_mcp_inspector_cli_lists_and_calls_tools(app: Path) -> None:
    cmd = [*_inspector(), "--cli", sys.executable, "-m", "repo_rlm.cli", "--repo", str(app), "--index",
           str(app.parent / "index.db"), "mcp"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPO_RLM_")}
    env.update(XDG_CACHE_HOME=str(app.parent / "cache"), MCP_CATALOG_PATH=str(app.parent / "catalog.json"))
    # each Inspector call starts a server; index first, so that none answers from a build under way
    subprocess.run([sys.executable, "-m", "repo_rlm.cli", "--repo", str(app), "--index", str(app.parent / "index.db"),
                    "index"], capture_output=True, check=True, timeout=300, env=env)
    out = subprocess.run([*cmd, "--method", "tools/list"], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert [t["name"] for t in json.loads(out.stdout)["tools"]] == [*HELPERS, "ask"]
    out = subprocess.run([*cmd, "--method", "tools/call", "--tool-name", "callers_of", "--tool-arg", "symbol=slugify",
                          "limit=2"], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert [c["caller"] for c in result["structuredContent"]["results"]] == ["shop.cli.main", "shop.views.admin_panel"]
    assert result["structuredContent"]["more"] == 1 and "truncated, 1 more" in result["content"][0]["text"]
    out = subprocess.run([*cmd, "--method", "tools/call", "--tool-name", "read_span", "--tool-arg", "path=../x.py",
                          "start_line=1", "end_line=2"], capture_output=True, text=True, timeout=120, env=env)
    assert json.loads(out.stdout)["isError"] is True
