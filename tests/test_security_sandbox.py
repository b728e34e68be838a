"""Attacks on the sandbox and the agent (issue 7), each run against the real path: real
bubblewrap, real git, the fake model server, the REPL worker. Every test reproduces an attack
that got through before and asserts it is blocked and nothing is lost."""
from __future__ import annotations

import json
import logging
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from repo_rlm.agent.ask import AskConfig, ask_async
from repo_rlm.agent.citations import check_citations
from repo_rlm.agent.engine import parse_final_line
from repo_rlm.agent.repl import Repl, ReplError
from repo_rlm.agent.sandbox import Limits, WorkerCgroup
from repo_rlm.query.repo import Repo
from tests.fakellm import MODEL, Script, fake_llm, is_root, last_user, repl  # noqa: F401

MAIN = "__import__('sys').modules['__main__']"   # the worker's module: model code can reach its protocol


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e", "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def make_repo(path: Path, git: bool = True) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "app.py").write_text("def handler(event):\n    return event\n")
    if git:
        _git(path, "init", "-q", "-b", "main")
        _git(path, "add", "-A")
        _git(path, "commit", "-qm", "first")
    return path


def index(root: Path, tmp: Path) -> Path:
    ip = tmp / f"idx-{uuid.uuid4().hex[:6]}.db"
    Repo.open(root, index_path=ip).close()
    return ip


async def run_cells(codes: list[str], root: Path | None = None, index_path: Path | None = None,
                    context: str | None = None, **limits) -> list:
    r = Repl(root=root, index_path=index_path, context_text=context, limits=Limits(**limits))
    try:
        await r.start()
        return [await r.run_cell(c) for c in codes]
    finally:
        await r.close()


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("REPO_RLM_CACHE_DIR", str(tmp_path / "cache"))


def cfg(fake, tmp_path, **kw) -> AskConfig:
    base = dict(model=MODEL, api_base=fake.api_base, api_key="dummy", use_cache=False, retries=0,
                trace_path=tmp_path / "trace.jsonl", cell_timeout_s=10, call_timeout_s=10, timeout_s=60,
                context_text="some text\n" * 10)
    base.update(kw)
    return AskConfig(**base)


# -- 1. the git directory a repository names ---------------------------------------------------

async def test_a_dot_git_file_aimed_outside_the_repository_mounts_nothing(tmp_path):
    secret = make_repo(tmp_path / "other-project")            # a real repository next door
    (secret / ".git" / "marker-secret").write_text("other project's git dir")
    repo = make_repo(tmp_path / "hostile", git=False)
    (repo / ".git").write_text("gitdir: ../other-project/.git\n")
    ip = index(repo, tmp_path)
    [res] = await run_cells([f"import os\nfor p in ({str(secret / '.git')!r}, {str(secret)!r}):\n"
                             "    print(p, os.path.exists(p))"], repo, ip)
    assert res.error is None, res.error
    assert "True" not in res.output and res.output.count("False") == 2


async def test_git_config_is_never_visible_but_history_works(tmp_path):
    repo = make_repo(tmp_path / "repo")
    token = "ghp_" + uuid.uuid4().hex
    _git(repo, "config", "http.extraheader", f"AUTHORIZATION: basic {token}")
    _git(repo, "remote", "add", "origin", f"https://user:{token}@example.invalid/r.git")
    ip = index(repo, tmp_path)
    [res] = await run_cells([
        "import os, subprocess\n"
        f"print(os.path.exists({str(repo / '.git' / 'config')!r}), sorted(os.listdir({str(repo / '.git')!r})))\n"
        f"print(subprocess.run(['git', 'config', '--list', '--show-origin'], cwd={str(repo)!r}, capture_output=True, text=True).stdout)\n"
        "print(git_log('app.py', n=1)[0].subject, blame('app.py', 1, 1)[0].text)"], repo, ip)
    assert res.error is None, res.error
    assert token not in res.output and res.output.startswith("False ")
    assert "first def handler(event):" in res.output


async def test_history_of_a_sha256_repository_works_without_its_config(tmp_path):
    repo = tmp_path / "sha"
    repo.mkdir()
    _git(repo, "init", "-q", "--object-format=sha256", "-b", "main")
    make_repo(repo, git=False)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "first")
    _git(repo, "config", "http.extraheader", "AUTHORIZATION: basic hidden-token")
    ip = index(repo, tmp_path)
    [res] = await run_cells([f"print(len(git_log('app.py', n=1)[0].sha), open({str(repo / '.git' / 'config')!r}).read())"],
                            repo, ip)
    assert res.error is None, res.error
    assert res.output.startswith("64 ") and "objectformat = sha256" in res.output and "hidden-token" not in res.output


async def test_a_dot_git_symlink_to_another_repository_is_refused(tmp_path):
    other = make_repo(tmp_path / "other")
    repo = make_repo(tmp_path / "hostile", git=False)
    (repo / ".git").symlink_to(other / ".git")
    ip = index(repo, tmp_path)
    [res] = await run_cells([f"import os\nprint(os.listdir({str(repo / '.git')!r}))"], repo, ip)
    assert res.error and ("FileNotFoundError" in res.error or "NotADirectoryError" in res.error)


# -- 3. sub-call prompts are strings; batch size is checked first ------------------------------

async def test_content_part_prompts_are_refused_and_nothing_is_fetched(fake_llm, tmp_path):
    hits: list[str] = []

    class Probe(threading.Thread):
        def run(self) -> None:
            srv.listen(8)
            while True:
                try:
                    c, _ = srv.accept()
                except OSError:
                    return
                hits.append("fetched")
                c.close()

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{srv.getsockname()[1]}/secret.pdf"
    Probe(daemon=True).start()
    parts = [{"type": "file", "file": {"file_id": url}}, {"type": "image_url", "image_url": {"url": url}}]
    fake_llm.handler = Script([
        repl(f"parts = {parts!r}\n"
             f"try:\n    {MAIN}._relay('llm_query_batched', prompts=[parts])\nexcept Exception as e:\n    print('A', e)\n"
             f"try:\n    {MAIN}._relay('llm_query', prompt=parts)\nexcept Exception as e:\n    print('B', e)\n"
             "try:\n    llm_query_batched([parts])\nexcept Exception as e:\n    print('C', e)"),
        repl("FINAL('done')")])
    try:
        r = await ask_async(None, "q", cfg(fake_llm, tmp_path))
    finally:
        srv.close()
    out = fake_llm.requests[1]["messages"][-1]["content"]
    assert r.answer == "done" and r.sub_calls == 0
    assert "A every prompt of llm_query_batched must be a str, not list" in out
    assert "B llm_query's prompt must be a str, not list" in out and "C every prompt" in out
    assert sum(not is_root(q) for q in fake_llm.requests) == 0 and hits == []


async def test_a_huge_batch_is_refused_before_anything_is_built(fake_llm, tmp_path):
    raw = (f"m = {MAIN}\nm._proto_out.write(json.dumps({{'type': 'call', 'op': 'llm_query_batched', "
           "'prompts': [''] * 3_000_000}) + '\\n')\nm._proto_out.flush()\nprint('reply', m._recv())")
    fake_llm.handler = Script([repl("import json\n" + raw), repl("FINAL('done')")])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    r = await ask_async(None, "q", cfg(fake_llm, tmp_path, max_sub_calls=100))
    grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert r.answer == "done" and r.sub_calls == 0
    assert "got 3000000 prompts but only 100 sub-calls are left" in fake_llm.requests[1]["messages"][-1]["content"]
    assert grew_mb < 400, f"the parent grew by {grew_mb:.0f} MB"
    assert time.monotonic() - start < 30


# -- 4. memory and disk ------------------------------------------------------------------------

async def test_root_dev_and_scratch_are_bounded(tmp_path):
    repo = make_repo(tmp_path / "repo")
    ip = index(repo, tmp_path)
    fill = ("import os\nn = 0\ntry:\n    for i in range(64):\n        with open(f'/scratch/f{i}', 'wb') as f:\n"
            "            f.write(b'0' * (1024 ** 2)); n += 1\nexcept OSError as e:\n    print('stopped', n, e.strerror)")
    res = await run_cells(["open('/evil', 'w')", "open('/dev/shm/evil', 'w')", "open('/usr/evil', 'w')", fill,
                           "import os; print(os.environ['TMPDIR'], os.getcwd(), sorted(os.listdir('.'))[:2])"],
                          repo, ip, scratch_bytes=8 * 1024 ** 2)
    for r in res[:3]:
        assert r.error and "Read-only file system" in r.error, r.error
    assert "stopped" in res[3].output and "No space left" in res[3].output
    assert int(res[3].output.split()[1]) <= 8
    assert res[4].output.startswith("/scratch /scratch ['f0', 'f1']")


def _memory_cgroup_guard() -> None:
    if os.geteuid() == 0:  # here (root, CI) a memory cgroup must hold the worker tree
        cg = WorkerCgroup(8, 1024 ** 3)
        try:
            assert cg.memory, "no writable memory cgroup: the worker tree's memory would not be bounded"
        finally:
            cg.destroy()


async def test_memory_is_bounded_for_the_whole_worker_tree(tmp_path):
    _memory_cgroup_guard()
    code = ("import os, time\nkids = []\nfor i in range(3):\n    pid = os.fork()\n    if pid == 0:\n"
            "        b = b'x' * (300 * 1024 ** 2)\n        time.sleep(1.5)\n        os._exit(0)\n    kids.append(pid)\n"
            "st = [os.waitpid(p, 0)[1] for p in kids]\nprint('killed', sum(os.WIFSIGNALED(s) for s in st))")
    [res] = await run_cells([code], context="x", memory_bytes=600 * 1024 ** 2, cell_timeout_s=30)
    # each child stays under the per-process address-space limit; together they pass the tree's limit
    assert res.reset or int(res.output.split()[-1]) >= 1, (res.output, res.error)


async def test_processes_a_cell_leaves_behind_are_killed(tmp_path):
    spawn = ("import os, subprocess, time\np = subprocess.Popen(['sleep', '300'])\n"
             "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
             "        open('/scratch/daemon.pid', 'w').write(str(os.getpid())); time.sleep(300)\n    os._exit(0)\n"
             "time.sleep(0.5)\nspawned = [p.pid, int(open('/scratch/daemon.pid').read())]\nprint(spawned)")
    check = ("import os, time\ntime.sleep(0.2)\nfor pid in spawned:\n    try:\n"
             "        state = open(f'/proc/{pid}/stat').read().rsplit(') ', 1)[1][0]\n"
             "    except OSError:\n        state = 'gone'\n"
             "    print(pid, 'gone' if state in 'ZX' or state == 'gone' else 'alive')")  # a zombie is dead
    res = await run_cells([spawn, check], context="x")
    assert res[0].error and "2 process(es) the cell left running were killed" in res[0].error
    assert res[1].output.count("gone") == 2 and "alive" not in res[1].output, res[1].output


async def test_stale_scratch_and_cgroups_of_dead_runs_are_removed(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = Path(tempfile.gettempdir()) / f"repo-rlm-repl-{dead.pid}-stale"
    (stale / "scratch").mkdir(parents=True)
    cg = WorkerCgroup(8, 1024 ** 3)
    stale_cgs = []
    for d in cg.dirs:
        p = d.parent / f"repo-rlm-{dead.pid}-deadbeef"
        p.mkdir()
        stale_cgs.append(p)
    cg.destroy()
    if os.geteuid() == 0:
        assert stale_cgs, "root here: cgroups must be writable"
    await run_cells(["print(1)"], context="x")
    assert not stale.exists()
    assert not any(p.exists() for p in stale_cgs)


# -- 5. Unix sockets ---------------------------------------------------------------------------

async def test_unix_socket_in_the_repository_cannot_be_reached(tmp_path):
    repo = make_repo(tmp_path / "repo")
    ip = index(repo, tmp_path)
    path = repo / "agent.sock"
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(str(path))
    srv.listen(1)
    srv.setblocking(False)
    try:
        [res] = await run_cells([f"import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect({str(path)!r})"],
                                repo, ip)
        assert res.error and "PermissionError" in res.error, res.error
        with pytest.raises(BlockingIOError):
            srv.accept()
    finally:
        srv.close()


async def test_ip_sockets_and_socketpairs_still_work_inside(tmp_path):
    [res] = await run_cells(["import socket, asyncio\na, b = socket.socketpair(); a.send(b'x'); print(b.recv(1))\n"
                             "print(asyncio.run(asyncio.sleep(0, 'loop ok')))"], context="x")
    assert res.error is None and "b'x'" in res.output and "loop ok" in res.output


# -- 6. fail closed; keys out of the environment -----------------------------------------------

def _cli(args: list[str], tmp_path: Path, path_env: str | None = None, **env) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "repo-rlm"
    full = {k: v for k, v in os.environ.items() if not k.startswith("REPO_RLM_") and not k.endswith("_API_KEY")}
    full.update(REPO_RLM_CACHE_DIR=str(tmp_path / "cache"), **env)
    if path_env is not None:
        full["PATH"] = path_env
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=full, timeout=120)


def _no_bwrap_path(tmp_path: Path) -> str:
    bin_dir = tmp_path / "bin-without-bwrap"
    bin_dir.mkdir()
    for tool in ("git", "sh"):
        (bin_dir / tool).symlink_to(subprocess.run(["which", tool], capture_output=True, text=True).stdout.strip())
    return str(bin_dir)


def test_without_bubblewrap_ask_fails_closed_and_says_how_to_install(fake_llm, tmp_path):
    doc = tmp_path / "doc.txt"
    doc.write_text("hello\n")
    fake_llm.handler = Script([repl("print('ran')"), repl("FINAL('ran model code')")])
    p = _cli(["ask", "q", "--context", str(doc), "--model", MODEL, "--api-base", fake_llm.api_base, "--json"],
             tmp_path, _no_bwrap_path(tmp_path), OPENAI_API_KEY="sk-x")
    assert p.returncode == 1, p.stderr
    out = json.loads(p.stdout)
    assert out["stopped"] == "error" and "apt-get install bubblewrap" in out["answer"]
    assert "REPO_RLM_SANDBOX=rlimits" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert fake_llm.requests == []  # no model call, no model code


@pytest.mark.parametrize("opt_in", ["env", "flag"])
def test_rlimits_mode_is_opt_in_and_cannot_read_the_keys(fake_llm, tmp_path, opt_in):
    secret = "sk-live-" + uuid.uuid4().hex
    doc = tmp_path / "doc.txt"
    doc.write_text("hello\n")
    steal = ("import glob, os\nblob = ''\nfor p in glob.glob('/proc/*/environ'):\n"
             "    try: blob += open(p, 'rb').read().decode(errors='replace')\n    except OSError: pass\n"
             f"print('parent', os.getppid(), 'found', {secret[:10]!r} + {secret[10:]!r} in blob)")
    fake_llm.handler = Script([repl(steal), repl("FINAL('done')")])
    extra = ["--sandbox", "rlimits"] if opt_in == "flag" else []
    env = {"REPO_RLM_SANDBOX": "rlimits"} if opt_in == "env" else {}
    p = _cli(["ask", "q", "--context", str(doc), "--model", MODEL, "--api-base", fake_llm.api_base, "--json",
              "--no-cache", *extra], tmp_path, _no_bwrap_path(tmp_path), OPENAI_API_KEY=secret, **env)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["answer"] == "done" and "rlimits" in p.stderr
    seen = fake_llm.requests[1]["messages"][-1]["content"]
    assert "found False" in seen and secret not in json.dumps(fake_llm.requests)
    assert fake_llm.auth[0] == f"Bearer {secret}"  # the key still reaches the provider


def test_api_keys_leave_the_environment_in_every_mode(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-1")
    monkeypatch.setenv("REPO_RLM_API_KEY", "sk-env-2")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
    config = AskConfig.from_env(model=MODEL)
    assert "OPENAI_API_KEY" not in os.environ and "REPO_RLM_API_KEY" not in os.environ
    assert "AWS_SECRET_ACCESS_KEY" not in os.environ
    assert config.api_key == "sk-env-2" and config.secrets["OPENAI_API_KEY"] == "sk-env-1"
    assert "sk-env" not in repr(config)
    assert AskConfig.from_env().secrets["OPENAI_API_KEY"] == "sk-env-1"  # a later config (the LSP) too
    child = subprocess.run([sys.executable, "-c", "import os; print(sorted(k for k in os.environ if 'KEY' in k))"],
                           capture_output=True, text=True)
    assert "OPENAI_API_KEY" not in child.stdout


# -- 8. only repl blocks run; prose FINAL is strict --------------------------------------------

async def test_python_blocks_are_text_not_code(fake_llm, tmp_path):
    fake_llm.handler = Script(["```python\nprint('RAN-' + 'PYTHON')\nFINAL('from python')\n```",
                               repl("print('RAN-' + 'REPL')"), repl("FINAL('done')")])
    r = await ask_async(None, "q", cfg(fake_llm, tmp_path))
    assert r.answer == "done"
    second = fake_llm.requests[1]["messages"][-1]["content"]
    assert "RAN-PYTHON" not in second and "no `repl` code block" in second and "python" in second
    assert "RAN-REPL" in fake_llm.requests[2]["messages"][-1]["content"]


async def test_prose_final_needs_the_whole_line_and_deep_expressions_do_not_crash(fake_llm, tmp_path):
    deep = "FINAL(" + "+".join(["1"] * 100_000) + ")"
    fake_llm.handler = Script([repl("x = 1"), deep, "I will call FINAL(answer) when I am done.",
                               "FINAL(" + "[" * 5000 + "]" * 5000 + ")", 'Checked.\nFINAL("the real answer")'])
    r = await ask_async(None, "q", cfg(fake_llm, tmp_path))
    assert r.answer == "the real answer" and r.iterations == 5 and r.stopped == "final"
    assert parse_final_line("FINAL('a') and more") is None
    assert parse_final_line("  FINAL_VAR(result)  ") == (True, "result")


# -- 9. what goes back to the model is capped --------------------------------------------------

async def test_variable_names_are_capped(fake_llm, tmp_path):
    raw = (f"m = {MAIN}\nm._proto_out.write(json.dumps({{'type': 'result', 'output': 'o', 'error': None, "
           "'final': None, 'names': ['n' * 100_000] * 5000}) + '\\n')\nm._proto_out.flush()")
    fake_llm.handler = Script([repl("globals()['v' * 5_000_000] = 1\nprint('defined')"),
                               repl("import json\n" + raw), repl("FINAL('done')")])
    r = await ask_async(None, "q", cfg(fake_llm, tmp_path))
    assert r.answer == "done" or r.stopped != "error"
    sizes = [len(json.dumps(q["messages"][-1])) for q in fake_llm.requests[1:3]]
    assert max(sizes) < 30_000, sizes


# -- 10. lone surrogates -----------------------------------------------------------------------

def test_lone_surrogates_in_output_and_replies_do_not_break_ask(fake_llm, tmp_path):
    doc = tmp_path / "doc.txt"
    doc.write_text("hello\n")
    fake_llm.handler = Script([repl("print('\\udcff bad'); x = '\\ud800'"), "Note \udcff.\n" + repl("FINAL(x + 'end')")])
    trace = tmp_path / "t.jsonl"
    p = _cli(["ask", "q", "--context", str(doc), "--model", MODEL, "--api-base", fake_llm.api_base, "--json",
              "--no-cache", "--trace", str(trace)], tmp_path, REPO_RLM_API_KEY="k")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["stopped"] == "final" and out["answer"] == "\ufffdend"
    assert [json.loads(x)["event"] for x in trace.read_text(encoding="utf-8").splitlines()][-1] == "run_end"
    assert "\ufffd bad" in fake_llm.requests[1]["messages"][-1]["content"]


# -- 15. citations are checked within bounds ---------------------------------------------------

def test_thousands_of_citations_to_a_big_file_are_checked_quickly(tmp_path):
    big = tmp_path / "big.py"
    big.write_text("x = 1\n" * 400_000)   # 2.4 MB
    answer = " ".join(f"big.py:{i}" for i in range(1, 5001))
    start = time.monotonic()
    text, cites = check_citations(answer, tmp_path, lambda: ["big.py"])
    took = time.monotonic() - start
    assert took < 5, took
    assert 0 < len(cites) <= 500 and cites[0] == {"path": "big.py", "start_line": 1, "end_line": 1}
    start = time.monotonic()
    _, late = check_citations(answer, tmp_path, lambda: ["big.py"], deadline=time.monotonic() - 1)
    assert late == [] and time.monotonic() - start < 1


# -- 18. smaller holes -------------------------------------------------------------------------

async def test_rlm_query_with_a_non_string_context_leaks_nothing(fake_llm, tmp_path):
    def count() -> int:
        return len(list(Path(tempfile.gettempdir()).glob("repo-rlm-repl-*")))
    before = count()
    fake_llm.handler = Script([repl(f"for i in range(5):\n    try:\n        {MAIN}._relay('rlm_query', prompt='p', "
                                    "context={'a': i})\n    except Exception as e:\n        print(e)"),
                               repl("FINAL('done')")])
    r = await ask_async(None, "q", cfg(fake_llm, tmp_path, max_depth=2))
    assert r.answer == "done"
    assert "context must be a str or None, not dict" in fake_llm.requests[1]["messages"][-1]["content"]
    assert count() <= before


async def test_an_oversized_result_is_reported_and_the_worker_lives():
    res = await run_cells(["big = 'x' * 70_000_000\nFINAL(big)", "print(len(big))"], context="x")
    assert res[0].final is None and "could not be passed on" in res[0].error and not res[0].reset
    assert res[1].output.strip() == "70000000"


async def test_traces_and_the_reply_cache_are_private(fake_llm, tmp_path):
    fake_llm.handler = Script([repl("FINAL('done')")])
    r = await ask_async(None, "q", cfg(fake_llm, tmp_path, trace_path=None, use_cache=True))
    trace = Path(r.trace)
    cache_db = tmp_path / "cache" / "responses.sqlite"
    for f in (trace, cache_db):
        assert f.stat().st_mode & 0o077 == 0, oct(f.stat().st_mode)
    for d in (trace.parent, tmp_path / "cache"):
        assert d.stat().st_mode & 0o777 == 0o700, oct(d.stat().st_mode)
    ip = tmp_path / "indexes" / "repo.db"
    Repo.open(make_repo(tmp_path / "repo"), index_path=ip).close()
    assert ip.stat().st_mode & 0o077 == 0 and ip.parent.stat().st_mode & 0o777 == 0o700


async def test_ask_refuses_to_mount_a_home_directory(fake_llm, tmp_path, monkeypatch):
    home = make_repo(tmp_path / "home", git=False)
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_rsa").write_text("PRIVATE KEY")
    monkeypatch.setenv("HOME", str(home))
    repo = Repo.open(home, index_path=tmp_path / "home.db")
    fake_llm.handler = Script([repl("print(open(repo.root + '/.ssh/id_rsa').read())"), repl("FINAL('x')")])
    try:
        r = await ask_async(repo, "q", cfg(fake_llm, tmp_path, context_text=None))
    finally:
        repo.close()
    assert r.stopped == "error" and "home directory" in r.answer
    assert "PRIVATE KEY" not in json.dumps(fake_llm.requests)


async def test_no_unknown_child_process_warnings(caplog):
    caplog.set_level(logging.WARNING, logger="asyncio")
    for _ in range(8):
        r = Repl(context_text="x")
        await r.start()
        os.kill(r.proc.pid, signal.SIGKILL)
        r.kill()
        await r.close()
    assert "Unknown child process" not in caplog.text
