"""A review as Markdown, SARIF 2.1.0 and a GitHub pull-request review; `--post` sends the latter."""
from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from typing import Any

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
RULES = {
    "call-signature": "A call no longer fits the changed signature of what it calls",
    "removed-still-used": "A removed, renamed or moved definition is still imported or called",
    "return-removed": "A function stopped returning a value its callers use",
}
MAX_BODY = 60_000
_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_ICON = {"error": "🔴", "warning": "🟠", "note": "🔵"}


def _version() -> str:
    try:
        from importlib.metadata import version
        return version("repo-rlm")
    except Exception:  # noqa: BLE001
        return "0"


def _md_text(s: str) -> str:
    """Repository text inside Markdown: no control characters, no @mentions that would ping people."""
    return _CTRL.sub("", s).replace("@", "@\u200b")


def coverage_line(d: dict[str, Any]) -> str:
    c = d["coverage"]
    return (f"{c['changed_symbols']} changed symbol{'s' * (c['changed_symbols'] != 1)}; "
            f"{c['callers_checked']} of {c['affected_callers']} affected callers checked")


def _finding_md(f: dict[str, Any], with_location: bool = True) -> str:
    loc = f"`{f['path']}:{f['line']}`" + (f"-{f['end_line']}" if f["end_line"] != f["line"] else "")
    head = f"{_ICON.get(f['severity'], '')} **{f['severity']}** `{f['rule']}`" + (f" {loc}" if with_location else "")
    text = f"{head} ({f['source']}): {_md_text(f['message'])}"
    if f.get("suggestion"):  # shown, never a GitHub "suggestion" block: its lines may not be the commented ones
        text += f"\n\n  Suggestion: {_md_text(f['suggestion'])}" if "\n" not in f["suggestion"] else \
            f"\n\n  Suggestion:\n\n```\n{_md_text(f['suggestion'])}\n```"
    return text


def markdown(d: dict[str, Any]) -> str:
    out = [f"## repo-rlm review `{d['base'][:12]}..{d['head'][:12]}`", "", f"**Coverage:** {coverage_line(d)}."]
    if d["stopped"] == "no_model":
        out.append("Static checks only (no model configured, or `--no-model`).")
    elif d["stopped"] != "final":
        out.append(f"Model review stopped early: `{d['stopped']}`.")
    out += ["", f"### Findings ({len(d['findings'])})", ""]
    out += [f"- {_finding_md(f)}" for f in d["findings"]] or ["No findings."]
    dropped = d.get("dropped") or {}
    if dropped:
        out += ["", "Not shown: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(dropped.items())) + "."]
    if d["changed"]:
        out += ["", "### Changed symbols", "", "| symbol | kind | change | where | callers |", "| --- | --- | --- | --- | --- |"]
        ncallers = {e["symbol"]: len(e["callers"]) for e in d["impact"]}
        for c in d["changed"]:
            out.append(f"| `{c['symbol']}` | {c['kind']} | {c['change']} | `{c['path']}:{c['start_line']}` | "
                       f"{ncallers.get(c['symbol'], '')} |")
    for e in d["impact"]:
        if not e["callers"] and not e.get("overrides"):
            continue
        n = len(e["callers"])
        out += ["", f"<details><summary><code>{e['symbol']}</code>: {n} caller{'s' * (n != 1)}</summary>", ""]
        out += [f"- `{c['caller']}` at `{c['path']}:{c['line']}` ({c['resolution']})" for c in e["callers"]]
        out += [f"- overridden by `{o['symbol']}` at `{o['path']}:{o['line']}`" for o in e.get("overrides", [])]
        if e.get("tests"):
            out.append(f"- tests reaching it: {', '.join('`' + t + '`' for t in e['tests'])}")
        out += ["", "</details>"]
    skipped = d.get("skipped") or {}
    if skipped:
        out += ["", "Skipped: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(skipped.items())) + "."]
    out += [f"\n_{_md_text(n)}_" for n in d.get("notes", [])]
    return _CTRL.sub("", "\n".join(out)) + "\n"  # paths and names come from the repository: no escapes reach a terminal


def sarif(d: dict[str, Any]) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run (GitHub code scanning reads `ruleId`, `level` and the region)."""
    ids = sorted({f["rule"] for f in d["findings"]})
    rules = [{"id": r, "shortDescription": {"text": RULES.get(r, f"Model review: {r}")},
              "defaultConfiguration": {"level": next(f["severity"] for f in d["findings"] if f["rule"] == r)}}
             for r in ids]
    results = []
    for f in d["findings"]:
        res: dict[str, Any] = {
            "ruleId": f["rule"], "ruleIndex": ids.index(f["rule"]), "level": f["severity"],
            "message": {"text": _CTRL.sub("", f["message"])},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": f["path"], "uriBaseId": "%SRCROOT%"},
                                                "region": {"startLine": f["line"], "endLine": f["end_line"]}}}],
            "partialFingerprints": {"repoRlm/v1": f"{f['rule']}:{f['symbol']}:{f['path']}"},
            "properties": {"source": f["source"], "symbol": f["symbol"], "confidence": f.get("confidence", 1.0)},
        }
        if f.get("evidence"):
            res["relatedLocations"] = [
                {"id": i, "physicalLocation": {"artifactLocation": {"uri": e["path"], "uriBaseId": "%SRCROOT%"},
                                               "region": {"startLine": e["start_line"], "endLine": e["end_line"]}}}
                for i, e in enumerate(f["evidence"])]
        results.append(res)
    return {
        "$schema": SARIF_SCHEMA, "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "repo-rlm", "version": _version(), "rules": rules}},
            "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "The repository root"}}},
            "automationDetails": {"id": f"repo-rlm-review/{d['head']}"},
            "results": results,
            "properties": {"base": d["base"], "head": d["head"], "coverage": d["coverage"], "stopped": d["stopped"]},
        }],
    }


def github(d: dict[str, Any], added_lines: dict[str, set[int]]) -> dict[str, Any]:
    """The body of a pull-request review: inline comments only on lines the diff adds or changes."""
    comments, elsewhere = [], []
    for f in d["findings"]:
        lines = added_lines.get(f["path"], set())
        line = f["line"] if f["line"] in lines else next((n for n in range(f["line"], f["end_line"] + 1) if n in lines), None)
        if line is None:
            elsewhere.append(f)
            continue
        comments.append({"path": f["path"], "line": line, "side": "RIGHT", "body": _finding_md(f, with_location=False)})
    body = [f"**repo-rlm review**: {coverage_line(d)}; {len(d['findings'])} finding{'s' * (len(d['findings']) != 1)}"
            f" ({len(comments)} inline)."]
    if d["stopped"] == "no_model":
        body.append("Static checks only.")
    if elsewhere:
        body += ["", "Findings outside the lines this pull request changes:", ""]
        body += [f"- {_finding_md(f)}" for f in elsewhere]
    text = _CTRL.sub("", "\n".join(body))
    if len(text) > MAX_BODY:  # GitHub refuses bodies over 65,536 characters
        text = text[:MAX_BODY] + "\n\n(cut; the full review is in the SARIF and JSON outputs)"
    return {"commit_id": d["head"], "body": text, "event": "COMMENT", "comments": comments}


class PostError(Exception):
    """Sending the review failed (exit 1), or its settings are missing (exit 2, `bad_input`)."""

    def __init__(self, message: str, bad_input: bool = False):
        super().__init__(message)
        self.bad_input = bad_input


def pr_number(explicit: int | None) -> int:
    """--pr, else the pull request of the GitHub Actions event that runs us."""
    if explicit:
        return explicit
    path = os.environ.get("GITHUB_EVENT_PATH")
    if path:
        try:
            with open(path, encoding="utf-8") as fh:
                ev = json.load(fh)
            n = (ev.get("pull_request") or {}).get("number") or ev.get("number")
            if isinstance(n, int):
                return n
        except (OSError, ValueError):
            pass
    raise PostError("--post needs --pr N (or a pull_request event in GitHub Actions)", bad_input=True)


def post(payload: dict[str, Any], pr: int) -> str:
    """POST the review to GITHUB_API_URL/repos/GITHUB_REPOSITORY/pulls/N/reviews; returns its URL."""
    token, repo = os.environ.get("GITHUB_TOKEN"), os.environ.get("GITHUB_REPOSITORY")
    api = os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    if not token:
        raise PostError("--post needs GITHUB_TOKEN", bad_input=True)
    if not repo or not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise PostError("--post needs GITHUB_REPOSITORY=owner/name", bad_input=True)
    if not api.startswith(("https://", "http://")):
        raise PostError(f"bad GITHUB_API_URL: {api}", bad_input=True)
    req = urllib.request.Request(f"{api}/repos/{repo}/pulls/{int(pr)}/reviews", method="POST",
                                 data=json.dumps(payload).encode(),
                                 headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                                          "X-GitHub-Api-Version": "2022-11-28", "Content-Type": "application/json",
                                          "User-Agent": "repo-rlm"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            body = json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode("utf-8", "replace")
        raise PostError(f"GitHub answered {exc.code}: {' '.join(detail.split())}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise PostError(f"cannot reach {api}: {exc}") from None
    return str(body.get("html_url") or "")
