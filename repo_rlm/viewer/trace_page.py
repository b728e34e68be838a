"""`repo-rlm trace view FILE [--out HTML] [--follow]`: one `ask` trace as a self-contained page.

The page holds the recursion tree (root turns, child RLMs nested under the turn that started
them), each turn's model reply, code, output and errors, the sub-calls with prompts and replies,
tokens, cost and latency, and a timeline (inline SVG). Trace content is hostile text: every
string is HTML-escaped and the page loads nothing from the network. `--follow` rewrites the page
while the run goes on; the page reloads itself until the run has ended.
"""
from __future__ import annotations

import argparse
import html
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FOLLOW_POLL_S = 1.0
REFRESH_S = 2
COLORS = {"model_call": "#4a78c2", "cell": "#3f9b5a", "sub_call": "#c28a2e", "rlm_query": "#9b4fb0"}


@dataclass
class Node:
    """One RLM (the root or a child started by rlm_query)."""
    depth: int
    prompt: str = ""
    turns: list[dict[str, Any]] = field(default_factory=list)
    end: dict[str, Any] | None = None

    def turn(self) -> dict[str, Any]:
        if not self.turns:
            self.turns.append({"call": None, "items": []})
        return self.turns[-1]


def read_trace(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The events, and how many lines were not JSON objects (a live trace may end mid-line)."""
    events, bad = [], 0
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(ev, dict):
            events.append(ev)
        else:
            bad += 1
    return events, bad


def build_tree(events: list[dict[str, Any]]) -> Node:
    root = Node(0)
    open_nodes = [root]

    def node_at(depth: int) -> Node:
        for n in reversed(open_nodes):
            if n.depth == depth:
                return n
        return open_nodes[0]

    for ev in events:
        kind, depth = ev.get("event"), int(ev.get("depth", 0) or 0)
        if kind == "model_call":
            node_at(depth).turns.append({"call": ev, "items": []})
        elif kind == "cell":
            node_at(depth).turn()["items"].append(ev)
        elif kind == "sub_call":
            node_at(depth - 1).turn()["items"].append(ev)
        elif kind == "rlm_query_start":
            child = Node(depth, str(ev.get("prompt", "")))
            node_at(depth - 1).turn()["items"].append({"event": "child", "node": child, "t": ev.get("t")})
            open_nodes.append(child)
        elif kind == "rlm_query_end":
            n = node_at(depth)
            n.end = ev
            if n is not root:
                open_nodes.remove(n)
    return root


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _pre(text: Any, cls: str = "") -> str:
    return f'<pre class="{cls}">{_e(text)}</pre>' if str(text or "").strip() else ""


def _stats(ev: dict[str, Any]) -> str:
    parts = []
    if "prompt_tokens" in ev:
        parts.append(f"{ev.get('prompt_tokens', 0):,} + {ev.get('completion_tokens', 0):,} tokens")
    if ev.get("cost_usd"):
        parts.append(f"${float(ev['cost_usd']):.5f}")
    if "latency_s" in ev:
        parts.append(f"{float(ev['latency_s']):.2f} s")
    if "seconds" in ev:
        parts.append(f"{float(ev['seconds']):.2f} s")
    if ev.get("cached"):
        parts.append("cached")
    if ev.get("finish_reason") == "length":
        parts.append(f"cut at max_tokens {ev.get('max_tokens', '')}")
    return f'<span class="stats">{_e(" · ".join(parts))}</span>'


def _item(ev: dict[str, Any]) -> str:
    kind = ev.get("event")
    if kind == "cell":
        err = f'<div class="label">error</div>{_pre(ev.get("error"), "error")}' if ev.get("error") else ""
        return (f'<div class="cell"><div class="label">cell {_stats(ev)}</div>{_pre(ev.get("code"), "code")}'
                f'<div class="label">output</div>{_pre(ev.get("output") or "(no output)", "output")}{err}</div>')
    if kind == "sub_call":
        return (f'<details class="sub"><summary>sub-call (depth {_e(ev.get("depth"))}) {_stats(ev)}</summary>'
                f'<div class="label">prompt</div>{_pre(ev.get("prompt"), "prompt")}'
                f'<div class="label">reply</div>{_pre(ev.get("reply"), "reply")}</details>')
    if kind == "child":
        return _node(ev["node"])
    return ""


def _node(node: Node) -> str:
    title = "root RLM" if node.depth == 0 else f"child RLM at depth {node.depth}"
    head = _pre(node.prompt, "prompt") if node.prompt else ""
    end = ""
    if node.end:
        end = (f'<div class="label">child answer ({_e(node.end.get("stopped"))}, '
               f'{_e(node.end.get("iterations"))} turns)</div>{_pre(node.end.get("answer"), "answer")}')
    turns = []
    for i, turn in enumerate(node.turns, 1):
        call = turn["call"] or {}
        msgs = call.get("messages") or []
        sent = ""
        if msgs:
            shown = msgs if i == 1 else msgs[-1:]  # later prompts repeat the history: show what is new
            sent = "".join(f'<div class="label">{_e(m.get("role"))}</div>{_pre(m.get("content"), "prompt")}'
                           for m in shown if isinstance(m, dict))
        items = "".join(_item(x) for x in turn["items"])
        turns.append(f'<details class="turn" open><summary>{_e(call.get("step") or f"turn {i}")} {_stats(call)}'
                     f'</summary><details class="sent"><summary>prompt</summary>{sent}</details>'
                     f'<div class="label">reply</div>{_pre(call.get("reply"), "reply")}{items}</details>')
    return (f'<section class="node depth-{node.depth}" data-depth="{node.depth}"><h3>{_e(title)}</h3>{head}'
            f'{"".join(turns)}{end}</section>')


def _timeline(events: list[dict[str, Any]]) -> str:
    """Bars on a time axis: each model call, cell and sub-call, one lane per depth and kind."""
    spans = []
    for ev in events:
        kind, t = ev.get("event"), ev.get("t")
        if kind not in ("model_call", "cell", "sub_call") or not isinstance(t, (int, float)):
            continue
        dur = float(ev.get("latency_s") or ev.get("seconds") or 0.0)
        spans.append((kind, int(ev.get("depth", 0) or 0), max(0.0, t - dur), t, ev.get("step") or kind))
    if not spans:
        return '<p class="empty">No timed events.</p>'
    end = max(s[3] for s in spans) or 1.0
    lanes = sorted({(s[1], s[0]) for s in spans})
    width, lane_h, left = 900, 18, 170
    h = lane_h * len(lanes) + 24
    out = [f'<svg class="timeline" viewBox="0 0 {width + left + 10} {h}" width="100%" role="img" '
           f'aria-label="timeline">']
    for i, (depth, kind) in enumerate(lanes):
        out.append(f'<text x="4" y="{i * lane_h + 13}" font-size="11">depth {depth} {_e(kind)}</text>')
    for kind, depth, s, e, label in spans:
        y = lanes.index((depth, kind)) * lane_h + 2
        x = left + s / end * width
        w = max(1.5, (e - s) / end * width)
        out.append(f'<rect class="bar bar-{kind}" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{lane_h - 5}" '
                   f'fill="{COLORS[kind]}"><title>{_e(label)}: {s:.2f}-{e:.2f} s</title></rect>')
    out.append(f'<text x="{left}" y="{h - 4}" font-size="11">0 s</text>'
               f'<text x="{left + width - 40}" y="{h - 4}" font-size="11">{end:.2f} s</text></svg>')
    return "".join(out)


CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1200px}
h1{font-size:1.3em} .question{font-size:1.1em;background:#f3f6fb;padding:.6em;border-radius:4px;white-space:pre-wrap}
pre{background:#f7f7f7;padding:.5em;overflow:auto;max-height:28em;white-space:pre-wrap;word-break:break-word;margin:.2em 0}
pre.code{background:#eef6ee} pre.error{background:#fbeaea;color:#8a1f1f} pre.answer{background:#fffbe6}
.label{font-size:.8em;color:#666;margin-top:.4em} .stats{font-size:.8em;color:#666;margin-left:.6em}
details{margin:.3em 0} summary{cursor:pointer} .turn{border-left:3px solid #4a78c2;padding-left:.6em}
.node{border:1px solid #ddd;border-radius:4px;padding:.5em;margin:.5em 0} .node .node{background:#fbf7fd}
.sub{border-left:3px solid #c28a2e;padding-left:.6em} .cell{border-left:3px solid #3f9b5a;padding-left:.6em}
table{border-collapse:collapse} td,th{padding:.15em .6em;border-bottom:1px solid #eee;text-align:left}
"""
JS = """
document.querySelectorAll('button[data-open]').forEach(function(b){b.addEventListener('click',function(){
var v=b.dataset.open==='1';document.querySelectorAll('details').forEach(function(d){d.open=v;});});});
document.body.dataset.cells=String(document.querySelectorAll('.cell').length);
document.body.dataset.ready='1';
"""


def render(events: list[dict[str, Any]], bad_lines: int = 0, source: str = "", live: bool = False) -> str:
    start = next((e for e in events if e.get("event") == "run_start"), {})
    end = next((e for e in reversed(events) if e.get("event") == "run_end"), None)
    calls = [e for e in events if e.get("event") in ("model_call", "sub_call")]
    tokens = sum(int(e.get("prompt_tokens") or 0) + int(e.get("completion_tokens") or 0) for e in calls)
    cost = sum(float(e.get("cost_usd") or 0) for e in calls)
    wall = max((float(e.get("t") or 0) for e in events), default=0.0)
    summary = [("model", start.get("model", "")), ("strategy", start.get("strategy", "rlm")),
               ("stopped", end.get("stopped") if end else "running"),
               ("turns", end.get("iterations") if end else sum(e.get("event") == "model_call" and
                                                               e.get("depth") == 0 for e in events)),
               ("sub-calls", sum(e.get("event") == "sub_call" for e in events)),
               ("tokens", f"{tokens:,}"), ("cost", f"${cost:.5f}"), ("wall time", f"{wall:.2f} s"),
               ("model time", f"{sum(float(e.get('latency_s') or 0) for e in calls):.2f} s"),
               ("cells", sum(e.get("event") == "cell" for e in events))]
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in summary)
    answer = _pre(end.get("answer"), "answer final-answer") if end else '<p class="running">The run has not ended yet.</p>'
    cites = ""
    if end and end.get("citations"):
        cites = "<ul class=\"citations\">" + "".join(
            f"<li>{_e(c.get('path'))}:{_e(c.get('start_line'))}-{_e(c.get('end_line'))}</li>"
            for c in end["citations"] if isinstance(c, dict)) + "</ul>"
    notes = "".join(f'<p class="note">note: {_e(n)}</p>' for n in (end or {}).get("notes") or [])
    if bad_lines:
        notes += f'<p class="note">{bad_lines} line(s) of the trace were not JSON and were skipped.</p>'
    refresh = f'<meta http-equiv="refresh" content="{REFRESH_S}">' if live and end is None else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">{refresh}
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>repo-rlm trace: {_e(str(start.get('question', ''))[:80])}</title><style>{CSS}</style></head>
<body><h1>repo-rlm trace</h1><p class="source">{_e(source)}</p>
<div class="question" id="question">{_e(start.get('question', ''))}</div>
<table class="summary">{rows}</table>{notes}
<h2>Answer</h2>{answer}{cites}
<h2>Timeline</h2>{_timeline(events)}
<h2>Recursion tree</h2><p><button data-open="1">expand all</button> <button data-open="0">collapse all</button></p>
{_node(build_tree(events))}
<script>{JS}</script></body></html>
"""


def write_page(trace: Path, out: Path, live: bool = False) -> bool:
    """Writes the page; returns whether the run has ended."""
    events, bad = read_trace(trace)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(render(events, bad, str(trace), live), encoding="utf-8")
    tmp.replace(out)  # a browser reloading mid-write sees the old page or the new one
    return any(e.get("event") == "run_end" for e in events)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="trace_command", metavar="SUBCOMMAND")
    sp = sub.add_parser("view", help="write a self-contained HTML page of one ask trace",
                        description="write a self-contained HTML page of one ask trace (JSONL)")
    sp.add_argument("file", metavar="FILE", type=Path, help="the JSONL trace (ask --trace, or the path ask prints)")
    sp.add_argument("--out", type=Path, help="the HTML file (default: FILE with .html)")
    sp.add_argument("--follow", action="store_true",
                    help="keep rewriting the page while the run goes on (the page reloads itself) until it ends")


def run(args: argparse.Namespace) -> int:
    if getattr(args, "trace_command", None) != "view":
        print("repo-rlm trace: error: use `repo-rlm trace view FILE [--out HTML]`", file=sys.stderr)
        return 2
    trace: Path = args.file
    if not trace.is_file():
        print(f"repo-rlm trace: error: no such trace file: {trace}", file=sys.stderr)
        return 2
    out: Path = args.out or trace.with_suffix(".html")
    try:
        ended = write_page(trace, out, live=args.follow)
        if args.follow:
            print(f"following {trace}: open {out} (it reloads every {REFRESH_S} s); Ctrl-C to stop", file=sys.stderr)
            last = trace.stat().st_mtime_ns
            while not ended:
                time.sleep(FOLLOW_POLL_S)
                now = trace.stat().st_mtime_ns
                if now != last:
                    last, ended = now, write_page(trace, out, live=True)
            write_page(trace, out, live=False)
    except OSError as exc:
        print(f"repo-rlm trace: error: {exc.strerror or exc}: {exc.filename or out}", file=sys.stderr)
        return 2
    print(out)
    return 0
