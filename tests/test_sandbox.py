"""The REPL worker's isolation: what model-written code can and cannot do from a cell."""
from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path

import pytest

from repo_rlm.agent import sandbox as sandbox_mod
from repo_rlm.agent.repl import Repl
from repo_rlm.query.repo import Repo
from repo_rlm.agent.sandbox import Limits, WorkerCgroup, bwrap_works

PYAPP = Path(__file__).resolve().parent.parent / "fixtures" / "pyapp"


@pytest.fixture(scope="module")
def pyapp_index(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("idx") / "index.db"
    Repo.open(PYAPP, index_path=path).close()
    return path


async def cells(codes: list[str], index: Path | None, **limits) -> list:
    r = Repl(root=PYAPP, index_path=index, limits=Limits(**limits), on_call=None)
    try:
        await r.start()
        return [await r.run_cell(c) for c in codes]
    finally:
        await r.close()


def test_bubblewrap_is_the_mechanism_here():
    assert bwrap_works(), "bubblewrap must work on dev machines and CI"


async def test_helpers_work_inside_the_sandbox(pyapp_index):
    [res] = await cells(["print(find_defs('login_required')); print(read_span('README.md', 1, 1))"], pyapp_index)
    assert res.error is None and "src/shop/auth/decorators.py" in res.output


async def test_api_keys_of_the_parent_are_not_visible(pyapp_index, monkeypatch):
    secret = "sk-test-" + uuid.uuid4().hex
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("REPO_RLM_API_KEY", secret)
    code = ("import os, glob\nprint(os.environ.get('OPENAI_API_KEY'), os.environ.get('REPO_RLM_API_KEY'))\n"
            "blob = ''\nfor p in glob.glob('/proc/*/environ'):\n"
            "    try: blob += open(p, 'rb').read().decode(errors='replace')\n    except OSError: pass\n"
            "print(" + repr(secret) + " in blob + str(os.environ), sorted(os.environ))")
    [res] = await cells([code], pyapp_index)
    assert res.error is None and res.output.startswith("None None\nFalse")
    assert "HOME" in res.output and secret not in res.output


async def test_files_outside_the_repository_cannot_be_read(pyapp_index, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("top secret")
    home_file = Path.home() / f".repo-rlm-sandbox-test-{uuid.uuid4().hex[:8]}"
    home_file.write_text("home secret")
    try:
        res = await cells([f"open({str(outside)!r}).read()", f"open({str(home_file)!r}).read()",
                           "print(open('/etc/hostname').read() if __import__('os').path.exists('/etc/hostname') else 'absent')"],
                          pyapp_index)
    finally:
        home_file.unlink()
    assert "FileNotFoundError" in res[0].error and "top secret" not in res[0].output
    assert "FileNotFoundError" in res[1].error
    assert res[2].output.strip() == "absent"


async def test_repository_and_index_are_read_only_scratch_is_writable(pyapp_index):
    res = await cells([f"open({str(PYAPP / 'README.md')!r}, 'a').write('x')",
                       f"open({str(PYAPP / 'new.py')!r}, 'w')",
                       f"open({str(pyapp_index)!r}, 'r+b').write(b'x')",
                       "open('notes.txt', 'w').write('ok'); print(open('notes.txt').read())"], pyapp_index)
    for r in res[:3]:
        assert "Read-only file system" in r.error
    assert res[3].error is None and res[3].output.strip() == "ok"
    assert not (PYAPP / "new.py").exists()


async def test_no_network_even_to_loopback(pyapp_index):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.setblocking(False)
    port = server.getsockname()[1]
    try:
        [res] = await cells([f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)"], pyapp_index)
        assert res.error and ("ConnectionRefusedError" in res.error or "OSError" in res.error)
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()


async def test_endless_loop_is_killed_and_the_repl_goes_on(pyapp_index):
    start = time.monotonic()
    res = await cells(["x = 1", "while True:\n    pass", "print('x' in globals(), len(find_defs('*')) > 0)"],
                      pyapp_index, cell_timeout_s=1.0)
    assert res[1].reset and "wall-time limit" in res[1].error and "namespace was reset" in res[1].error
    assert res[2].error is None and res[2].output.strip() == "False True"
    assert time.monotonic() - start < 6


async def test_cpu_limit_kills_a_busy_worker(pyapp_index):
    [res] = await cells(["while True:\n    pass"], pyapp_index, cpu_s=1, cell_timeout_s=20)
    assert res.reset and ("SIGXCPU" in res.error or "SIGKILL" in res.error)
    assert res.seconds < 5


async def test_huge_allocation_fails_and_the_namespace_survives(pyapp_index):
    res = await cells(["keep = 41", "big = bytearray(10 * 1024 ** 3)", "print(keep + 1)"], pyapp_index,
                      memory_bytes=2 * 1024 ** 3)
    assert "MemoryError" in res[1].error and not res[1].reset and res[1].seconds < 2
    assert res[2].output.strip() == "42"


def _storm_guard() -> None:
    if os.geteuid() == 0:  # the kernel ignores RLIMIT_NPROC for root: the pids cgroup must work
        cg = WorkerCgroup(8, 1024 ** 3)
        assert cg.path is not None, "no pids cgroup: a process storm would not be contained"
        cg.destroy()


async def test_process_storm_is_contained(pyapp_index):
    _storm_guard()
    spawn = ("import os, time\npids = []\ntry:\n    for i in range(500):\n        pid = os.fork()\n"
             "        if pid == 0:\n            time.sleep(3)\n            os._exit(0)\n        pids.append(pid)\n"
             "except OSError as e:\n    print('fork refused after', len(pids))")
    bomb = "import os\nwhile True:\n    os.fork()"
    start = time.monotonic()
    res = await cells([spawn, bomb, "print('alive')"], pyapp_index, nproc=32, cell_timeout_s=5)
    assert "fork refused after" in res[0].output
    assert int(res[0].output.split()[-1]) < 32
    assert res[1].error and ("BlockingIOError" in res[1].error or "wall-time" in res[1].error)
    assert res[2].output.strip() == "alive"
    assert time.monotonic() - start < 12


async def test_printed_output_is_truncated(pyapp_index):
    [res] = await cells(["print('y' * 100_000)"], pyapp_index, output_chars=20_000)
    assert 20_000 <= len(res.output) < 20_200 and "output truncated: 80001 more characters" in res.output


async def test_file_size_limit(pyapp_index):
    [res] = await cells(["open('big.bin', 'wb').write(b'0' * (8 * 1024 ** 2))"], pyapp_index,
                        fsize_bytes=1024 ** 2)
    assert res.error and "File too large" in res.error


async def test_weaker_fallback_says_so_and_still_scrubs(pyapp_index, monkeypatch, capfd):
    monkeypatch.setattr(sandbox_mod, "_said", set())
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fallback-secret")
    r = Repl(root=PYAPP, index_path=pyapp_index, limits=Limits(memory_bytes=2 * 1024 ** 3), sandbox="rlimits")
    try:
        await r.start()
        a = await r.run_cell("import os; print(os.environ.get('OPENAI_API_KEY'))")
        b = await r.run_cell("bytearray(10 * 1024 ** 3)")
    finally:
        await r.close()
    assert r.sandbox.name == "rlimits"
    assert "only" in capfd.readouterr().err and a.output.strip() == "None" and "MemoryError" in b.error


async def test_git_history_works_for_a_repository_inside_a_larger_work_tree(pyapp_index):
    import subprocess

    head = subprocess.run(["git", "-C", str(PYAPP), "log", "-1", "--format=%H", "--", "src/shop/audit.py"],
                          capture_output=True, text=True).stdout.strip()
    assert head, "the fixture is committed in this checkout"
    [res] = await cells(["print(git_log('src/shop/audit.py', n=1)[0].sha); print(blame('src/shop/audit.py', 4, 4)[0].text)"],
                        pyapp_index)
    assert res.error is None, res.error
    assert res.output.split() [:1] == [head] and "def record(event):" in res.output
