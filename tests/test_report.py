"""`repo-rlm report` end to end on fixture repositories we wrote (fixtures/archapp: Python with a
deliberate import cycle and Flask routes, Express routes, a two-file Go package, Java with a
Spring mapping), through the real CLI, real git, Graphviz and headless Chromium; the model part
against the fake model server. The known answers are in fixtures/archapp/EXPECTED.md."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from repo_rlm.query import deps
from tests import chromium
from tests.fakellm import MODEL, fake_llm, last_user  # noqa: F401 (a fixture)

ROOT = Path(__file__).resolve().parents[1]
ARCHAPP = ROOT / "fixtures" / "archapp"

EDGES = {
    ("app/__main__.py", "app/cli.py"),
    ("app/admin.py", "app/models.py"),
    ("app/cli.py", "app/web.py"),
    ("app/models.py", "app/services/billing.py"),
    ("app/services/billing.py", "app/models.py"),
    ("app/web.py", "app/models.py"),
    ("app/web.py", "app/services/billing.py"),
    ("cmd/tool/main.go", "pkg/store/cache.go"),   # a Go package import reaches every file of the package
    ("cmd/tool/main.go", "pkg/store/store.go"),
    ("java/src/com/example/App.java", "java/src/com/example/util/Strings.java"),
    ("tests/test_models.py", "app/models.py"),
    ("web/routes/items.js", "web/lib/db.js"),
    ("web/server.js", "web/routes/items.js"),
}
MODULES = ["app", "app.services", "cmd/tool", "com.example", "com.example.util", "pkg/store", "tests", "web",
           "web/lib", "web/routes"]
ENTRY_POINTS = [
    ("main", "app.__main__", "app/__main__.py", 1),
    ("main", "app.cli", "app/cli.py", 13),
    ("main", "cmd.tool.main", "cmd/tool/main.go", 14),  # Go qualnames start at the directory below go.mod
    ("main", "com.example.App.main", "java/src/com/example/App.java", 14),
    ("script", "archapp-admin = app.admin:run", "app/admin.py", 4),
    ("script", "archapp = app.cli:main", "app/cli.py", 6),
    ("route", "GET /invoices", "app/web.py", 9),
    ("route", "GET /invoices/<int:number>", "app/web.py", 14),
    ("route", "ANY /healthz", "cmd/tool/main.go", 15),
    ("route", "GET /hello", "java/src/com/example/App.java", 9),
    ("route", "GET /", "web/routes/items.js", 6),
    ("route", "POST /", "web/routes/items.js", 7),
    ("route", "GET /health", "web/server.js", 6),
]


def git(cwd: Path, *args: str, author: str = "Ada") -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": f"{author.lower()}@example.com",
           "GIT_COMMITTER_NAME": author, "GIT_COMMITTER_EMAIL": f"{author.lower()}@example.com",
           "GIT_AUTHOR_DATE": "2026-01-02T03:04:05Z", "GIT_COMMITTER_DATE": "2026-01-02T03:04:05Z"}
    return subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, check=True, capture_output=True,
                          text=True, env=env).stdout


def commit_all(repo: Path, message: str, author: str = "Ada") -> str:
    git(repo, "add", "-A", author=author)
    git(repo, "commit", "-q", "-m", message, author=author)
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {**os.environ, "REPO_RLM_CACHE_DIR": str(tmp_path / "cache"), "XDG_CACHE_HOME": str(tmp_path / "xdg"),
         "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    for k in ("REPO_RLM_MODEL", "REPO_RLM_SUB_MODEL", "REPO_RLM_API_BASE", "REPO_RLM_API_KEY", "REPO_RLM_INDEX"):
        e.pop(k, None)
    return e


@pytest.fixture
def archapp(tmp_path: Path) -> Path:
    """The fixture as a git repository: Ada's first commit, then Bob changes the billing service."""
    repo = tmp_path / "archapp"
    shutil.copytree(ARCHAPP, repo)
    git(repo, "init", "-q")
    commit_all(repo, "initial")
    billing = repo / "app/services/billing.py"
    billing.write_text(billing.read_text() + "\n\ndef refund(invoice):\n    return -invoice.total()\n")
    commit_all(repo, "refunds", author="Bob")
    return repo


def report(repo: Path, env: dict, *args: str, index: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    index = index or repo.parent / f"{repo.name}.db"
    out = subprocess.run([sys.executable, "-m", "repo_rlm.cli", "--repo", str(repo), "--index", str(index), "report", *args],
                         capture_output=True, text=True, env=env, timeout=300)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def report_json(repo: Path, env: dict, *args: str) -> dict:
    return json.loads(report(repo, env, "--format", "json", *args).stdout)


# -- static facts ---------------------------------------------------------------------------------

def test_dependencies_cycles_layers_entry_points(archapp: Path, env: dict) -> None:
    data = report_json(archapp, env, "--no-model")
    assert {(d["from"], d["to"]) for d in data["dependencies"]} == EDGES
    assert [m["name"] for m in data["modules"]] == MODULES
    mods = {m["name"]: m for m in data["modules"]}
    assert mods["app"]["path"] == "app" and mods["app"]["files"] == 6
    assert mods["pkg/store"]["files"] == 2 and mods["app.services"]["fan_in"] == 1 and mods["app"]["fan_in"] == 2
    assert {(d["from"], d["to"], d["count"]) for d in data["module_dependencies"]} == {
        ("app", "app.services", 2), ("app.services", "app", 1), ("cmd/tool", "pkg/store", 2),
        ("com.example", "com.example.util", 1), ("tests", "app", 1), ("web", "web/routes", 1), ("web/routes", "web/lib", 1)}
    assert data["cycles"] == [["app", "app.services"]]
    assert data["file_cycles"] == [["app/models.py", "app/services/billing.py"]]
    assert data["layers"] == [["app", "app.services", "com.example.util", "pkg/store", "web/lib"],
                              ["cmd/tool", "com.example", "tests", "web/routes"], ["web"]]
    assert data["hubs"][0]["module"] == "app"
    assert [(e["kind"], e["name"], e["path"], e["line"]) for e in data["entry_points"]] == ENTRY_POINTS
    assert data["tests"] == {"app": ["tests/test_models.py"]}
    assert data["languages"]["python"] == 9 and data["languages"]["go"] == 3
    assert data["summaries"] == {} and data["model"]["used"] is False
    assert data["commit"] == git(archapp, "rev-parse", "HEAD").strip()


def test_churn_and_ownership(archapp: Path, env: dict) -> None:
    data = report_json(archapp, env, "--no-model")
    assert data["history"]["available"] is True and data["history"]["commits"] == 2
    top = data["hotspots"][0]
    assert top == {"path": "app/services/billing.py", "commits": 2, "authors": 2, "owner": "Ada"}
    assert all(h["commits"] == 1 and h["owner"] == "Ada" for h in data["hotspots"][1:])
    assert data["ownership"]["app.services"] == {"changes": 3, "authors": 2, "owner": "Ada", "owner_share": 0.67}


def test_report_is_stable(archapp: Path, env: dict) -> None:
    a = report(archapp, env, "--format", "json", "--no-model").stdout
    b = report(archapp, env, "--format", "json", "--no-model").stdout
    assert a == b


def test_markdown_has_mermaid_and_sections(archapp: Path, env: dict) -> None:
    md = report(archapp, env, "--format", "md", "--no-model").stdout
    block = re.search(r"```mermaid\n(.*?)```", md, re.S).group(1)
    labels = re.findall(r'^\s+m\d+\["([^"]+)"\]', block, re.M)
    assert sorted(labels) == MODULES
    assert len(re.findall(r"-->\|\d+\|", block)) == 7
    assert "class m" in block and "cycle" in block
    assert "`app` ↔ `app.services`" in md
    assert "| route | `GET /health` | `web/server.js:6` |" in md
    assert "| `app/services/billing.py` | 2 | 2 | Ada |" in md


# -- the HTML page in a browser -------------------------------------------------------------------

def test_html_page_in_chromium(archapp: Path, env: dict, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    report(archapp, env, "--format", "html", "--no-model", "--out", str(page))
    text = page.read_text()
    assert not re.search(r"(src|href)=\"(https?:)?//", text), "the page must not fetch anything"

    dom = chromium.dump_dom(page)
    diagram = re.search(r'<div class="diagram" id="diagram">(.*?)</div>', dom, re.S).group(1)
    assert "<svg" in diagram
    nodes = re.findall(r'<g id="mod-(\d+)" class="node module[^"]*">\s*<title>[^<]*</title>.*?</g>', diagram, re.S)
    assert len(nodes) == len(MODULES)
    for name in MODULES:
        assert re.search(r"<text[^>]*>" + re.escape(name) + "</text>", diagram), name
    assert len(re.findall(r'<g id="edge-\d+-\d+" class="edge dep', diagram)) == 7
    assert len(re.findall(r'class="node module cycle"', diagram)) == 2
    assert dom.count('class="cell"') == 7

    # a click on a module shows its files; on an edge, the imports behind it (driven through the URL fragment)
    dom = chromium.dump_dom(page, "module=app.services")
    files = re.search(r'<ul id="panel-files">(.*?)</ul>', dom, re.S).group(1)
    assert re.findall(r"<code>([^<]+)</code>", files) == ["app/services/__init__.py", "app/services/billing.py"]
    i = MODULES.index("app")
    j = MODULES.index("app.services")
    dom = chromium.dump_dom(page, f"edge=edge-{j}-{i}")
    imports = re.search(r'<ul id="panel-imports">(.*?)</ul>', dom, re.S).group(1)
    assert "app/services/billing.py:1" in imports and "from app.models import Invoice" in imports
    dom = chromium.dump_dom(page, "q=billing")
    assert re.findall(r'<g id="mod-(\d+)" class="node module[^"]*\bhit\b', dom) == [str(j)]
    assert "1 modules match" in dom

    png = chromium.screenshot(page, tmp_path / "report.png")
    colours, top_share = chromium.colour_variety(png)
    assert colours > 50 and top_share < 0.95, (colours, top_share)


def test_rollup_to_top_modules(archapp: Path, env: dict, tmp_path: Path) -> None:
    data = report_json(archapp, env, "--no-model", "--top", "3")
    assert data["rollup"]["shown"] == 3 and data["rollup"]["modules"] == len(MODULES)
    assert data["rollup"]["top"][0] == "app" and "top 3 of 10" in data["rollup"]["note"]
    page = tmp_path / "top.html"
    report(archapp, env, "--format", "html", "--no-model", "--top", "3", "--out", str(page))
    dom = chromium.dump_dom(page)
    assert 'id="rollup-note"' in dom and "top 3 of 10 modules" in dom
    assert len(re.findall(r'<g id="mod-\d+" class="node module', dom)) == 3
    drawn = {tuple(map(int, e)) for e in re.findall(r'<g id="edge-(\d+)-(\d+)" class="edge', dom)}
    assert drawn == {(MODULES.index("app"), MODULES.index("app.services")), (MODULES.index("app.services"), MODULES.index("app"))}


# -- diff -----------------------------------------------------------------------------------------

def test_json_diff_between_two_commits(archapp: Path, env: dict, tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    report(archapp, env, "--format", "json", "--no-model", "--out", str(old))
    # break the cycle: billing no longer imports the models; the admin starts using the web front
    (archapp / "app/services/billing.py").write_text("def tax(amount):\n    return amount * 0.2\n\n\n"
                                                     "def charge(invoice):\n    return invoice.total()\n")
    (archapp / "app/admin.py").write_text("from app.models import Invoice\nfrom app import web\n\n\ndef run():\n    web.serve(1)\n")
    commit_all(archapp, "break the cycle")
    data = report_json(archapp, env, "--no-model", "--diff", str(old))
    d = data["diff"]
    assert d["old_commit"] != d["new_commit"] == data["commit"]
    assert d["added_dependencies"] == [{"from": "app/admin.py", "to": "app/web.py"}]
    assert d["removed_dependencies"] == [{"from": "app/services/billing.py", "to": "app/models.py"}]
    assert d["resolved_cycles"] == [["app", "app.services"]] and d["new_cycles"] == []
    assert d["removed_module_dependencies"] == [{"from": "app.services", "to": "app"}] and d["added_module_dependencies"] == []
    assert d["new_hubs"] == [] and d["added_modules"] == [] and d["removed_modules"] == []
    assert data["cycles"] == []
    md = report(archapp, env, "--format", "md", "--no-model", "--diff", str(old)).stdout
    assert "**Resolved cycles** (1):" in md and "- `app/admin.py` → `app/web.py`" in md


@pytest.mark.parametrize("content,message", [(None, "no such file"), ("not json", "is not a JSON report"),
                                             ('{"a": 1}', "is not a `repo-rlm report")])
def test_diff_bad_input(archapp: Path, env: dict, tmp_path: Path, content, message) -> None:
    old = tmp_path / "old.json"
    if content is not None:
        old.write_text(content)
    out = report(archapp, env, "--format", "json", "--no-model", "--diff", str(old), check=False)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and message in out.stderr and "Traceback" not in out.stderr


# -- bad input ------------------------------------------------------------------------------------

def test_empty_repository(tmp_path: Path, env: dict) -> None:
    repo = tmp_path / "empty"
    repo.mkdir()
    git(repo, "init", "-q")
    data = report_json(repo, env, "--no-model")
    assert data["files"] == 0 and data["modules"] == [] and data["dependencies"] == [] and data["cycles"] == []
    assert data["commit"] is None and data["history"]["available"] is False
    md = report(repo, env, "--format", "md", "--no-model").stdout
    assert "No source files were found" in md and "No churn section" in md
    page = tmp_path / "empty.html"
    report(repo, env, "--format", "html", "--no-model", "--out", str(page))
    dom = chromium.dump_dom(page)
    assert "No source files were found" in dom and "<svg" not in dom


def test_one_language_without_imports_and_no_history(tmp_path: Path, env: dict) -> None:
    repo = tmp_path / "plain"
    (repo / "lib").mkdir(parents=True)
    (repo / "lib" / "a.py").write_text("def a():\n    return 1\n")
    (repo / "lib" / "b.py").write_text("def b():\n    return 2\n")
    (repo / "tool.py").write_text("print('hi')\n")
    data = report_json(repo, env, "--no-model")
    assert [m["name"] for m in data["modules"]] == ["(root)", "lib"]
    assert data["dependencies"] == [] and data["module_dependencies"] == [] and data["cycles"] == []
    assert data["layers"] == [["(root)", "lib"]]
    assert data["history"] == {"available": False, "reason": "no git history (not a git work tree, or no commits yet)"}
    assert data["hotspots"] == []
    md = report(repo, env, "--format", "md", "--no-model").stdout
    assert "No imports between modules were found" in md and "No churn section: no git history" in md
    page = tmp_path / "plain.html"
    report(repo, env, "--format", "html", "--no-model", "--out", str(page))
    dom = chromium.dump_dom(page)
    assert 'id="no-history"' in dom and len(re.findall(r'<g id="mod-\d+" class="node module', dom)) == 2


def test_bad_flags(archapp: Path, env: dict) -> None:
    out = report(archapp, env, "--format", "pdf", check=False)
    assert out.returncode == 2 and "invalid choice" in out.stderr and "Traceback" not in out.stderr
    out = report(archapp, env, "--top", "0", check=False)
    assert out.returncode == 2 and "--top" in out.stderr
    for bad in (archapp, archapp / "no" / "such" / "dir" / "r.html"):
        out = report(archapp, env, "--no-model", "--out", str(bad), check=False)
        assert out.returncode == 2 and out.stderr.startswith("repo-rlm report: error: --out") and out.stderr.count("\n") == 1
    out = subprocess.run([sys.executable, "-m", "repo_rlm.cli", "--repo", str(archapp / "nope"), "report"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 2 and "does not exist" in out.stderr


def test_html_without_graphviz_says_how_to_install(archapp: Path, env: dict, tmp_path: Path) -> None:
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    out = report(archapp, env | {"PATH": str(empty_bin)}, "--format", "html", "--no-model", "--no-history", check=False)
    assert out.returncode == 1 and out.stdout == "" and "Traceback" not in out.stderr
    assert "apt-get install graphviz" in out.stderr and out.stderr.count("\n") == 1
    # the other formats need no Graphviz
    assert report(archapp, env | {"PATH": str(empty_bin)}, "--format", "md", "--no-model", "--no-history").stdout


# -- the model part -------------------------------------------------------------------------------

def _summariser(req: dict) -> str:
    prompt = last_user(req)
    m = re.search(r"^Modules: (.+)$", prompt, re.M)
    if m:
        parts = []
        for name in m.group(1).split(", "):
            cite = re.search(r"^### (\S+) \((\d+) lines\)", prompt.split(f"## MODULE {name}\n", 1)[1], re.M)
            parts.append(f"## MODULE {name}\nThe `{name}` module; read {cite.group(1)}:1-{cite.group(2)}.")
        return "\n\n".join(parts)
    return "archapp is a Flask invoicing service with Go and Java tools. Start at app/web.py:9-12 and app/models.py:4-9."


def test_model_summaries_cached_per_module(archapp: Path, env: dict, fake_llm) -> None:
    fake_llm.handler = _summariser
    env = env | {"REPO_RLM_MODEL": MODEL, "REPO_RLM_API_BASE": fake_llm.api_base}
    data = report_json(archapp, env)
    first = len(fake_llm.requests)
    assert set(data["summaries"]) == set(MODULES) and data["summary_status"] == {}
    assert data["summaries"]["app.services"] == "The `app.services` module; read app/services/__init__.py:1."
    assert data["model"]["sub_calls"] == 2 == first - 1  # 10 small modules, 8 to a batch; plus the narrative
    assert data["overview"].startswith("archapp is a Flask invoicing service")
    assert {"path": "app/web.py", "start_line": 9, "end_line": 12} in data["model"]["citations"]

    again = report_json(archapp, env)
    assert len(fake_llm.requests) == first, "a second run of an unchanged repository makes no model call"
    assert again["summaries"] == data["summaries"] and again["overview"] == data["overview"]
    assert again["model"]["cached_modules"] == len(MODULES) and again["model"]["overview_cached"] is True

    # one module changes: one sub-call for it, and a new narrative since its summary changed
    (archapp / "web/lib/db.js").write_text("const rows = [];\n\nfunction findAll() {\n  return rows;\n}\n\n"
                                           "function count() {\n  return rows.length;\n}\n\nmodule.exports = { findAll, count };\n")
    third = report_json(archapp, env)
    new = fake_llm.requests[first:]
    assert len(new) == 2 and third["model"]["sub_calls"] == 1 and third["model"]["cached_modules"] == len(MODULES) - 1
    assert re.search(r"^Modules: web/lib$", last_user(new[0]) + last_user(new[1]), re.M)

    page = archapp.parent / "model.html"
    report(archapp, env, "--format", "html", "--out", str(page))
    dom = chromium.dump_dom(page, "module=pkg/store")
    assert "The <code>pkg/store</code> module" in dom or "The `pkg/store` module" in dom
    assert "archapp is a Flask invoicing service" in dom


def test_model_limits_say_which_modules_have_no_summary(archapp: Path, env: dict, fake_llm) -> None:
    fake_llm.handler = _summariser
    env = env | {"REPO_RLM_MODEL": MODEL, "REPO_RLM_API_BASE": fake_llm.api_base}
    data = report_json(archapp, env, "--max-sub-calls", "1")
    assert len(data["summaries"]) == 8 and len(data["summary_status"]) == 2
    assert set(data["summaries"]) | set(data["summary_status"]) == set(MODULES)
    assert all(v == "not summarised: the sub-call limit (1) was reached" for v in data["summary_status"].values())
    md = report(archapp, env, "--format", "md", "--max-sub-calls", "1", "--no-cache").stdout
    assert "Modules without a summary:" in md and "the sub-call limit (1) was reached" in md
    # the cache fills up across runs: the next run's one sub-call summarises the rest
    rest = report_json(archapp, env, "--max-sub-calls", "1")
    assert rest["summary_status"] == {} and rest["model"]["sub_calls"] == 1 and set(rest["summaries"]) == set(MODULES)


def test_no_model_configured_is_static_only(archapp: Path, env: dict) -> None:
    data = report_json(archapp, env)
    assert data["summaries"] == {} and data["model"] == {"used": False, "reason": "no model configured (set REPO_RLM_MODEL or --model)"}


# -- graph algorithms -----------------------------------------------------------------------------

def test_graph_algorithms() -> None:
    adj = deps.adjacency([("a", "b"), ("b", "c"), ("c", "b"), ("c", "d"), ("e", "a")])
    assert deps.cycles(adj, adj) == [["b", "c"]]
    assert deps.layers(adj, adj) == [["d"], ["b", "c"], ["a"], ["e"]]
    rank = deps.pagerank(list(adj), {("a", "b"): 1, ("b", "c"): 1, ("c", "b"): 1, ("c", "d"): 1, ("e", "a"): 1})
    assert abs(sum(rank.values()) - 1) < 1e-6 and max(rank, key=rank.get) in ("b", "c") and rank["e"] == min(rank.values())
    # deep chains do not recurse
    chain = deps.adjacency([(str(i), str(i + 1)) for i in range(5000)] + [("5000", "0")])
    assert len(deps.cycles(chain, chain)[0]) == 5001
    assert deps.is_test_path("tests/test_x.py") and deps.is_test_path("pkg/x_test.go") and not deps.is_test_path("app/x.py")


def test_deferred_imports_break_no_import_time_cycle(tmp_path: Path, env: dict) -> None:
    repo = tmp_path / "lazy"
    (repo / "one").mkdir(parents=True)
    (repo / "two").mkdir()
    (repo / "one" / "a.py").write_text("from two import b\n\n\ndef use():\n    return b.f()\n")
    (repo / "two" / "b.py").write_text("def f():\n    from one import a  # deferred: breaks the load-order cycle\n    return a\n")
    data = report_json(repo, env, "--no-model")
    assert {(d["from"], d["to"]) for d in data["dependencies"]} == {("one/a.py", "two/b.py"), ("two/b.py", "one/a.py")}
    assert data["cycles"] == [["one", "two"]] and data["import_time_cycles"] == []


def test_hostile_names_are_escaped(tmp_path: Path, env: dict) -> None:
    """Repository text reaches the page only as text: a directory named like markup stays text."""
    repo = tmp_path / "hostile"
    evil = 'x<img src=x onerror="document.title=1">'
    (repo / evil).mkdir(parents=True)
    (repo / evil / "m.py").write_text("import lib.util\n")
    (repo / "lib").mkdir()
    (repo / "lib" / "util.py").write_text("X = 1\n")
    page = tmp_path / "hostile.html"
    report(repo, env, "--format", "html", "--no-model", "--out", str(page))
    dom = chromium.dump_dom(page, "module=" + evil)
    assert "<img" not in dom and "x&lt;img src=x" in dom
    assert "<title>Architecture: hostile</title>" in dom
    md = report(repo, env, "--format", "md", "--no-model").stdout
    assert 'm1["x#lt;img src=x onerror=#quot;document.title=1#quot;#gt;"]' in md or \
        'm0["x#lt;img src=x onerror=#quot;document.title=1#quot;#gt;"]' in md
