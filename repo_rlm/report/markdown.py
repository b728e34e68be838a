"""The report as Markdown with Mermaid diagrams (renders on GitHub and in most wikis)."""
from __future__ import annotations

import re
from typing import Any

_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _code(s: Any) -> str:
    """Inline code that survives any text from the repository."""
    s = _CTRL.sub("?", str(s)).replace("\n", " ")
    fence = "``" if "`" in s else "`"
    return f"{fence}{s}{fence}" if "`" not in s else f"{fence} {s} {fence}"


def _cell(s: Any) -> str:
    return _CTRL.sub("?", str(s)).replace("|", "\\|").replace("\n", " ")


def _mermaid_label(s: str) -> str:
    return _CTRL.sub("?", s).replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


MAX_EDGES = 60  # the strongest edges drawn: Mermaid's layout becomes unreadable (and GitHub refuses) beyond


def mermaid_modules(data: dict[str, Any]) -> str:
    shown = data["rollup"]["top"]
    ids = {m: f"m{i}" for i, m in enumerate(shown)}
    edges = [e for e in data["module_dependencies"] if e["from"] in ids and e["to"] in ids]
    keep = {(e["from"], e["to"]) for e in sorted(edges, key=lambda e: (-e["count"], e["from"], e["to"]))[:MAX_EDGES]}
    in_cycle = {m for c in data["cycles"] for m in c}
    lines = ["```mermaid", "graph LR"]
    for m in shown:
        lines.append(f'  {ids[m]}["{_mermaid_label(m)}"]')
    cyc_edges = []
    n = 0
    for e in edges:
        if (e["from"], e["to"]) in keep:
            lines.append(f'  {ids[e["from"]]} -->|{e["count"]}| {ids[e["to"]]}')
            if e["from"] in in_cycle and e["to"] in in_cycle:
                cyc_edges.append(n)
            n += 1
    cyc = [ids[m] for m in shown if m in in_cycle]
    if cyc:
        lines.append("  classDef cycle fill:#fde2e2,stroke:#c0392b")
        lines.append(f"  class {','.join(cyc)} cycle")
    if cyc_edges:
        lines.append(f"  linkStyle {','.join(map(str, cyc_edges))} stroke:#c0392b")
    lines.append("```")
    if len(keep) < len(edges):
        lines.append(f"\n_The diagram draws the {len(keep)} strongest of {len(edges)} dependencies between these modules._")
    return "\n".join(lines)


def render_markdown(data: dict[str, Any], title: str) -> str:
    out: list[str] = [f"# Architecture report: {_cell(title)}", ""]
    commit = data.get("commit")
    out.append(f"Commit {_code(commit[:12]) if commit else '(not a git commit)'} · {data['files']} files · "
               f"{data['lines']} lines · {len(data['modules'])} modules · {len(data['dependencies'])} file dependencies")
    out += ["", "| language | files |", "| --- | ---: |"]
    out += [f"| {_cell(k)} | {v} |" for k, v in data["languages"].items()]

    if data.get("overview"):
        out += ["", "## Overview", "", data["overview"]]

    out += ["", "## Module dependencies", ""]
    if not data["modules"]:
        out.append("No source files were found, so there is no module graph.")
    else:
        if data["rollup"]["note"]:
            out += [f"_{data['rollup']['note']}_", ""]
        if not data["module_dependencies"]:
            out += ["No imports between modules were found (no import resolves to another file of the repository).", ""]
        out.append(mermaid_modules(data))

    out += ["", "## Cycles", ""]
    if data["cycles"]:
        out += [f"- {' ↔ '.join(_code(m) for m in c)}" for c in data["cycles"]]
        n = len(data["import_time_cycles"])
        out += ["", f"{n} of them remain when imports inside functions (deferred, run on call) are ignored"
                + (":" if n else ".")]
        out += [f"- {' ↔ '.join(_code(m) for m in c)}" for c in data["import_time_cycles"]]
        if data.get("file_cycles"):
            out += ["", "File-level cycles:", ""] + [f"- {' ↔ '.join(_code(p) for p in c)}" for c in data["file_cycles"][:20]]
    else:
        out.append("No dependency cycles between modules.")

    out += ["", "## Layers", "", "Layer 0 depends on nothing else in the repository; each layer depends only on layers below it.", ""]
    for i, layer in enumerate(data["layers"]):
        shown = layer[:30]
        out.append(f"{i}. " + ", ".join(_code(m) for m in shown) + (f" and {len(layer) - 30} more" if len(layer) > 30 else ""))

    out += ["", "## Hubs", ""]
    if data["hubs"]:
        out += ["| module | fan-in | rank |", "| --- | ---: | ---: |"]
        out += [f"| {_code(h['module'])} | {h['fan_in']} | {h['rank']:.4f} |" for h in data["hubs"]]
    else:
        out.append("No module is imported by another.")

    out += ["", "## Entry points", ""]
    if data["entry_points"]:
        out += ["| kind | name | where |", "| --- | --- | --- |"]
        out += [f"| {e['kind']} | {_code(e['name'])} | {_code(e['path'] + ':' + str(e['line']))} |" for e in data["entry_points"][:200]]
        if len(data["entry_points"]) > 200:
            out.append(f"\n_{len(data['entry_points']) - 200} more in the JSON report._")
    else:
        out.append("No entry points recognised.")

    out += ["", "## Churn hotspots", ""]
    hist = data["history"]
    if not hist["available"]:
        out.append(f"No churn section: {hist['reason']}.")
    elif data["hotspots"]:
        out += [f"Over the {hist['window']} (since {hist['since'][:10]}).", "",
                "| file | commits | authors | main author |", "| --- | ---: | ---: | --- |"]
        out += [f"| {_code(h['path'])} | {h['commits']} | {h['authors']} | {_cell(h['owner'])} |" for h in data["hotspots"]]
    else:
        out.append(f"No source file changed in the {hist['window']}.")

    out += ["", "## Modules", "", "| module | path | files | lines | fan-in | fan-out | rank | test files |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for m in sorted(data["modules"], key=lambda m: (-m["rank"], m["name"]))[:300]:
        out.append(f"| {_code(m['name'])} | {_code(m['path'])} | {m['files']} | {m['lines']} | {m['fan_in']} | "
                   f"{m['fan_out']} | {m['rank']:.4f} | {m['tested_by']} |")
    if len(data["modules"]) > 300:
        out.append(f"\n_{len(data['modules']) - 300} smaller modules are in the JSON report._")

    if data.get("summaries") or data.get("summary_status"):
        out += ["", "## Module summaries", ""]
        for m, text in data["summaries"].items():
            out += [f"### {_code(m)}", "", text, ""]
        missing = data.get("summary_status", {})
        if missing:
            out += ["Modules without a summary:", ""] + [f"- {_code(m)}: {why}" for m, why in sorted(missing.items())]

    if "diff" in data:
        d = data["diff"]
        out += ["", "## Changes since the earlier report", ""]
        for key, label in (("added_dependencies", "Added dependencies"), ("removed_dependencies", "Removed dependencies")):
            out.append(f"**{label}** ({len(d[key])})" + (":" if d[key] else ""))
            out += [f"- {_code(x['from'])} → {_code(x['to'])}" for x in d[key][:100]]
            out.append("")
        for key, label in (("new_cycles", "New cycles"), ("resolved_cycles", "Resolved cycles")):
            out.append(f"**{label}** ({len(d[key])})" + (":" if d[key] else ""))
            out += [f"- {' ↔ '.join(_code(m) for m in c)}" for c in d[key]]
            out.append("")
        out.append("**New hubs**: " + (", ".join(_code(m) for m in d["new_hubs"]) or "none"))
    return "\n".join(out).rstrip() + "\n"
