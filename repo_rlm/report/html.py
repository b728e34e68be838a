"""The report as one self-contained HTML page: no network fetch at view time.

The module diagram is laid out by Graphviz's `dot` (through the `graphviz` binding) and inlined
as SVG; the dependency matrix is a plain SVG grid (a matrix needs no layout). A small inline
script makes modules clickable (their files and summary), edges and matrix cells clickable (the
import statements behind them), and filters everything through a search box. Large repositories
are rolled up to the top modules by PageRank, and the page says so; lists are capped so that
the page stays small on a 100,000-file monorepo.
"""
from __future__ import annotations

import html
import json
import math
import re
from typing import Any

from .facts import Facts, module_sites

MAX_PAGE_MODULES = 1000     # rows of the module table / entries of the embedded data
MAX_FILES_PER_MODULE = 200
MAX_LIST = 200              # entry points, dependencies listed in the page
MAX_DIAGRAM_EDGES = 60      # the strongest edges drawn (dot's layout time grows fast with edges); the matrix has all
_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class LayoutError(Exception):
    """Graphviz is missing or failed; the message says how to fix it."""


def _e(s: Any) -> str:
    return html.escape(_CTRL.sub("?", str(s)), quote=True)


def _dot_text(s: str) -> str:
    import graphviz
    s = _CTRL.sub("?", s)
    return graphviz.escape(" " + s if s.startswith("<") else s)


def module_diagram_svg(data: dict[str, Any], index: dict[str, int]) -> tuple[str, int, int]:
    """The module graph of the shown modules (plus one node for the rest), laid out by `dot`;
    with the number of edges drawn and of edges there are between those nodes."""
    import graphviz
    shown = data["rollup"]["top"]
    shown_set = set(shown)
    mods = {m["name"]: m for m in data["modules"]}
    in_cycle = {m for c in data["cycles"] for m in c}
    # nslimit/mclimit bound dot's network-simplex and crossing-minimisation passes on dense graphs
    g = graphviz.Digraph("modules", graph_attr={"rankdir": "LR", "bgcolor": "transparent", "nodesep": "0.25",
                                                "ranksep": "0.6", "fontname": "Helvetica", "nslimit": "4",
                                                "nslimit1": "4", "mclimit": "0.5"},
                         node_attr={"shape": "box", "style": "rounded,filled", "fontname": "Helvetica", "fontsize": "11",
                                    "fillcolor": "#eef3fb", "color": "#5b7bb3"},
                         edge_attr={"color": "#7a869a", "arrowsize": "0.6", "fontname": "Helvetica", "fontsize": "9"})
    for m in shown:
        info = mods[m]
        attrs = {"id": f"mod-{index[m]}", "class": "module" + (" cycle" if m in in_cycle else ""),
                 "tooltip": _dot_text(f"{m}: {info['files']} files, {info['lines']} lines")}
        if m in in_cycle:
            attrs.update(fillcolor="#fde2e2", color="#c0392b")
        plural = "" if info["files"] == 1 else "s"
        g.node(f"n{index[m]}", _dot_text(f"{m}\n{info['files']} file{plural} · {info['lines']} lines"), **attrs)
    agg: dict[tuple[str, str], int] = {}
    for e in data["module_dependencies"]:
        if e["from"] in shown_set and e["to"] in shown_set:
            agg[(e["from"], e["to"])] = e["count"]
    strongest = sorted(agg.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_DIAGRAM_EDGES]
    for (a, b), n in sorted(strongest):
        na, nb = f"n{index[a]}", f"n{index[b]}"
        cyc = a in in_cycle and b in in_cycle and any(a in c and b in c for c in data["cycles"])
        eid = f"edge-{index[a]}-{index[b]}"
        g.edge(na, nb, label=str(n), id=eid, penwidth=f"{1 + math.log10(n):.2f}",
               **{"class": "dep" + (" cycle" if cyc else ""), "tooltip": _dot_text(f"{a} → {b}: {n} imports")},
               **({"color": "#c0392b"} if cyc else {}))
    try:
        svg = g.pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound:
        raise LayoutError("Graphviz's `dot` is not installed (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz)") from None
    except graphviz.CalledProcessError as exc:
        raise LayoutError(f"Graphviz failed: {str(exc.stderr or exc).strip().splitlines()[-1:]}") from None
    svg = svg[svg.find("<svg"):]
    svg = svg.replace("<svg ", '<svg class="fit" ', 1)  # shrunk to the container; the zoom button shows dot's own size
    return svg, len(strongest), len(agg)


def matrix_svg(data: dict[str, Any], index: dict[str, int]) -> str:
    """Rows import columns; modules ordered by layer (foundations last), so upward edges stand out."""
    layer_of = {m: i for i, layer in enumerate(data["layers"]) for m in layer}
    order = sorted(data["rollup"]["top"], key=lambda m: (-layer_of.get(m, 0), m))
    if not order:
        return ""
    counts = {(e["from"], e["to"]): e["count"] for e in data["module_dependencies"]}
    cell, label_w = 16, min(260, 12 + 7 * max(len(m) for m in order))
    n = len(order)
    width, height = label_w + n * cell + 10, label_w + n * cell + 10
    pos = {m: i for i, m in enumerate(order)}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" id="matrix" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="Helvetica" font-size="10">']
    for m, i in pos.items():
        y = label_w + i * cell + 12
        short = m if len(m) <= 36 else "…" + m[-35:]
        parts.append(f'<text x="{label_w - 4}" y="{y}" text-anchor="end">{_e(short)}</text>')
        x = label_w + i * cell + 12
        parts.append(f'<text transform="translate({x},{label_w - 4}) rotate(-90)">{_e(short)}</text>')
    parts.append(f'<rect x="{label_w}" y="{label_w}" width="{n * cell}" height="{n * cell}" fill="#fafbfc" stroke="#d0d7de"/>')
    top = max(counts.values(), default=1)
    for (a, b), c in sorted(counts.items()):
        if a not in pos or b not in pos:
            continue
        i, j = pos[a], pos[b]
        upward = layer_of.get(b, 0) >= layer_of.get(a, 0)  # a dependency that is not strictly downward: a cycle
        shade = 0.25 + 0.75 * math.log1p(c) / math.log1p(top)
        color = f"rgba(192,57,43,{shade:.2f})" if upward else f"rgba(47,84,150,{shade:.2f})"
        parts.append(f'<rect class="cell" id="cell-{index[a]}-{index[b]}" data-edge="edge-{index[a]}-{index[b]}" '
                     f'x="{label_w + j * cell + 1}" y="{label_w + i * cell + 1}" width="{cell - 2}" height="{cell - 2}" '
                     f'fill="{color}"><title>{_e(a)} → {_e(b)}: {c}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)


def _json_script(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") \
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _page_data(facts: Facts, index: dict[str, int]) -> dict[str, Any]:
    data, graph = facts.data, facts.graph
    files_of: dict[str, list] = {}
    for p in sorted(graph.files):
        files_of.setdefault(graph.module_of[p], []).append(p)
    mods = []
    for m in sorted(data["modules"], key=lambda m: (-m["rank"], m["name"]))[:MAX_PAGE_MODULES]:
        fs = files_of.get(m["name"], [])
        mods.append({"i": index[m["name"]], "name": m["name"], "path": m["path"], "lines": m["lines"],
                     "fan_in": m["fan_in"], "fan_out": m["fan_out"], "rank": m["rank"],
                     "files": [[p, graph.files[p].lines] for p in fs[:MAX_FILES_PER_MODULE]],
                     "more_files": max(0, len(fs) - MAX_FILES_PER_MODULE),
                     "tests": data["tests"].get(m["name"], [])[:50],
                     "summary": data["summaries"].get(m["name"], ""),
                     "no_summary": data.get("summary_status", {}).get(m["name"], "")})
    shown = set(data["rollup"]["top"])
    edges = {}
    for (a, b), (sites, total) in module_sites(graph).items():
        if a in shown and b in shown:
            edges[f"edge-{index[a]}-{index[b]}"] = {"from": a, "to": b, "total": total, "sites": sites}
    return {"modules": mods, "edges": edges}


_CSS = """
body{font:14px/1.45 -apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#1f2328;background:#fff}
header{padding:16px 24px;background:#24292f;color:#fff}header h1{margin:0 0 4px;font-size:20px}
header .stats{opacity:.85}main{display:grid;grid-template-columns:minmax(0,1fr) 380px;gap:16px;padding:16px 24px}
section{margin-bottom:24px}h2{font-size:16px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
#panel{position:sticky;top:8px;align-self:start;max-height:95vh;overflow:auto;border:1px solid #d0d7de;border-radius:6px;padding:12px;background:#f6f8fa}
#search{width:100%;box-sizing:border-box;padding:6px 8px;font-size:14px;border:1px solid #d0d7de;border-radius:6px;margin-bottom:8px}
.diagram{overflow:auto;border:1px solid #d0d7de;border-radius:6px;padding:8px;max-height:80vh}
.diagram svg.fit{max-width:100%;height:auto}.diagram svg{max-width:none}
button{font:inherit;font-size:12px;padding:2px 8px;border:1px solid #d0d7de;border-radius:6px;background:#f6f8fa;cursor:pointer}g.node,g.edge,rect.cell{cursor:pointer}
g.node.hit polygon,g.node.hit path{stroke:#d4a72c;stroke-width:3}g.node.dim{opacity:.25}g.edge.dim{opacity:.15}
g.node.sel polygon,g.node.sel path{stroke:#1a7f37;stroke-width:3}g.edge.sel path{stroke:#1a7f37;stroke-width:3}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eaeef2;padding:3px 6px;text-align:left;vertical-align:top}
td.n,th.n{text-align:right}code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.note{background:#fff8c5;border:1px solid #d4a72c;padding:6px 10px;border-radius:6px}
.muted{color:#656d76}tr.hidden,li.hidden{display:none}.summary{white-space:pre-wrap}
"""

_JS = r"""
(function(){
const D=JSON.parse(document.getElementById('report-data').textContent);
const byIdx={};D.modules.forEach(m=>byIdx[m.i]=m);
const panel=document.getElementById('panel-body');
function el(tag,attrs,...kids){const e=document.createElement(tag);for(const k in attrs||{})e.setAttribute(k,attrs[k]);
 kids.forEach(c=>e.append(c&&c.nodeType?c:document.createTextNode(c==null?'':String(c))));return e;}
function clearSel(){document.querySelectorAll('.sel').forEach(x=>x.classList.remove('sel'));}
function showModule(i){const m=byIdx[i];if(!m)return;clearSel();
 const n=document.getElementById('mod-'+i);if(n)n.classList.add('sel');
 panel.replaceChildren(el('h3',{},m.name),el('div',{'class':'muted'},m.path+' · '+m.files.length+(m.more_files?'+'+m.more_files:'')+' files · '+m.lines+' lines · fan-in '+m.fan_in+' · fan-out '+m.fan_out));
 if(m.summary)panel.append(el('div',{'class':'summary'},m.summary));else if(m.no_summary)panel.append(el('p',{'class':'muted'},'No summary: '+m.no_summary));
 const ul=el('ul',{id:'panel-files'});m.files.forEach(f=>ul.append(el('li',{},el('code',{},f[0]),' ',el('span',{'class':'muted'},f[1]+' lines'))));
 if(m.more_files)ul.append(el('li',{'class':'muted'},m.more_files+' more files'));panel.append(el('h4',{},'Files'),ul);
 if(m.tests.length){const t=el('ul',{});m.tests.forEach(p=>t.append(el('li',{},el('code',{},p))));panel.append(el('h4',{},'Tested by'),t);}
}
function showEdge(id){const e=D.edges[id];if(!e)return;clearSel();const g=document.getElementById(id);if(g)g.classList.add('sel');
 panel.replaceChildren(el('h3',{},e.from+' → '+e.to),el('div',{'class':'muted'},e.total+' import statements'));
 const ul=el('ul',{id:'panel-imports'});e.sites.forEach(s=>ul.append(el('li',{},el('code',{},s.path+':'+s.line),' ',el('code',{},s.text),el('span',{'class':'muted'},' → '+s.to))));
 if(e.total>e.sites.length)ul.append(el('li',{'class':'muted'},(e.total-e.sites.length)+' more'));panel.append(ul);}
document.querySelectorAll('g.node').forEach(g=>{const i=(g.id||'').replace('mod-','');g.addEventListener('click',()=>showModule(i));});
document.querySelectorAll('g.edge').forEach(g=>g.addEventListener('click',()=>showEdge(g.id)));
document.querySelectorAll('rect.cell').forEach(r=>r.addEventListener('click',()=>showEdge(r.dataset.edge)));
document.querySelectorAll('[data-module]').forEach(a=>a.addEventListener('click',ev=>{ev.preventDefault();showModule(a.dataset.module);}));
const box=document.getElementById('search');
box.addEventListener('input',()=>{const q=box.value.trim().toLowerCase();
 const hit=new Set();D.modules.forEach(m=>{if(q&&(m.name.toLowerCase().includes(q)||m.files.some(f=>f[0].toLowerCase().includes(q))))hit.add(String(m.i));});
 document.querySelectorAll('g.node').forEach(g=>{const i=g.id.replace('mod-','');g.classList.toggle('hit',hit.has(i));g.classList.toggle('dim',!!q&&!hit.has(i));});
 document.querySelectorAll('g.edge').forEach(g=>g.classList.toggle('dim',!!q));
 document.querySelectorAll('[data-search]').forEach(r=>r.classList.toggle('hidden',!!q&&!r.dataset.search.toLowerCase().includes(q)));
 const c=document.getElementById('search-count');c.textContent=q?hit.size+' modules match':'';});
const zoom=document.getElementById('zoom');if(zoom)zoom.addEventListener('click',()=>{
 const fit=document.querySelector('#diagram svg').classList.toggle('fit');zoom.textContent=fit?'actual size':'fit to width';});
function fromHash(){const h=decodeURIComponent(location.hash.slice(1));
 if(h.startsWith('module=')){const m=D.modules.find(x=>x.name===h.slice(7));if(m)showModule(m.i);}
 else if(h.startsWith('edge='))showEdge(h.slice(5));
 else if(h.startsWith('q=')){box.value=h.slice(2);box.dispatchEvent(new Event('input'));}}
window.addEventListener('hashchange',fromHash);fromHash();
})();
"""


def render_html(facts: Facts, title: str) -> str:
    data = facts.data
    names = sorted(m["name"] for m in data["modules"])
    index = {m: i for i, m in enumerate(names)}
    diagram, drawn, edges = module_diagram_svg(data, index) if data["modules"] else ("", 0, 0)
    matrix = matrix_svg(data, index)
    pdata = _page_data(facts, index)
    commit = data.get("commit")
    out = ["<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
           "script-src 'unsafe-inline'; img-src data:\">",
           f"<title>Architecture: {_e(title)}</title><style>{_CSS}</style></head><body>",
           f"<header><h1>Architecture: {_e(title)}</h1><div class=\"stats\">"
           f"{'commit ' + _e(commit[:12]) if commit else 'not a git commit'} · {data['files']} files · {data['lines']} lines · "
           f"{len(data['modules'])} modules · {len(data['dependencies'])} file dependencies · "
           + ", ".join(f"{_e(k)} {v}" for k, v in data["languages"].items()) + "</div></header><main><div>"]
    if data.get("overview"):
        out.append(f"<section id=\"overview\"><h2>Overview</h2><div class=\"summary\">{_e(data['overview'])}</div></section>")
    out.append("<section id=\"modules-diagram\"><h2>Module dependencies</h2>")
    if data["rollup"]["note"]:
        out.append(f"<p class=\"note\" id=\"rollup-note\">{_e(data['rollup']['note'])} The tables below list every module.</p>")
    if not data["modules"]:
        out.append("<p>No source files were found, so there is no module graph.</p>")
    else:
        if not data["module_dependencies"]:
            out.append("<p class=\"note\">No imports between modules were found.</p>")
        out.append("<p class=\"muted\">Click a module for its files, an edge for the imports behind it. "
                   "Red: modules in a dependency cycle.</p>")
        if drawn < edges:
            out.append(f"<p class=\"note\" id=\"edge-note\">The diagram draws the {drawn} strongest of {edges} module "
                       "dependencies; the matrix below has every dependency between the modules shown.</p>")
        out.append("<button id=\"zoom\" type=\"button\">actual size</button>")
        out.append(f"<div class=\"diagram\" id=\"diagram\">{diagram}</div>")
    out.append("</section>")
    if matrix:
        out.append("<section id=\"matrix-section\"><h2>Dependency matrix</h2><p class=\"muted\">A row imports a column; "
                   "modules in layer order, foundations last. Red cells point up the layering (cycles).</p>"
                   f"<div class=\"diagram\">{matrix}</div></section>")

    out.append("<section id=\"cycles\"><h2>Cycles</h2>")
    if data["cycles"]:
        out.append("<ul>" + "".join("<li>" + " ↔ ".join(f"<code>{_e(m)}</code>" for m in c) + "</li>" for c in data["cycles"]) + "</ul>")
        n = len(data["import_time_cycles"])
        out.append(f"<p>{n} of them remain when imports inside functions (deferred, run on call) are ignored"
                   + (":</p><ul>" + "".join("<li>" + " ↔ ".join(f"<code>{_e(m)}</code>" for m in c) + "</li>"
                                            for c in data["import_time_cycles"]) + "</ul>" if n else ".</p>"))
    else:
        out.append("<p>No dependency cycles between modules.</p>")
    out.append("</section><section id=\"layers\"><h2>Layers</h2><p class=\"muted\">Layer 0 depends on nothing else in the "
               "repository; each layer only on layers below it.</p><ol start=\"0\">")
    for layer in data["layers"]:
        out.append("<li>" + ", ".join(f"<code>{_e(m)}</code>" for m in layer[:40]) + (f" and {len(layer) - 40} more" if len(layer) > 40 else "") + "</li>")
    out.append("</ol></section>")

    out.append("<section id=\"entry-points\"><h2>Entry points</h2>")
    if data["entry_points"]:
        out.append("<table><tr><th>kind</th><th>name</th><th>where</th></tr>")
        for e in data["entry_points"][:MAX_LIST]:
            out.append(f"<tr data-search=\"{_e(e['name'] + ' ' + e['path'])}\"><td>{_e(e['kind'])}</td><td><code>{_e(e['name'])}</code></td>"
                       f"<td><code>{_e(e['path'])}:{e['line']}</code></td></tr>")
        out.append("</table>")
        if len(data["entry_points"]) > MAX_LIST:
            out.append(f"<p class=\"muted\">{len(data['entry_points']) - MAX_LIST} more in the JSON report.</p>")
    else:
        out.append("<p>No entry points recognised.</p>")
    out.append("</section><section id=\"hotspots\"><h2>Churn hotspots</h2>")
    hist = data["history"]
    if not hist["available"]:
        out.append(f"<p class=\"note\" id=\"no-history\">No churn section: {_e(hist['reason'])}.</p>")
    elif data["hotspots"]:
        out.append(f"<p class=\"muted\">Over the {_e(hist['window'])} (since {_e(hist['since'][:10])}).</p>"
                   "<table><tr><th>file</th><th class=n>commits</th><th class=n>authors</th><th>main author</th></tr>")
        out += [f"<tr data-search=\"{_e(h['path'])}\"><td><code>{_e(h['path'])}</code></td><td class=n>{h['commits']}</td>"
                f"<td class=n>{h['authors']}</td><td>{_e(h['owner'])}</td></tr>" for h in data["hotspots"]]
        out.append("</table>")
    else:
        out.append(f"<p>No source file changed in the {_e(hist['window'])}.</p>")
    out.append("</section><section id=\"module-table\"><h2>Modules</h2><table><tr><th>module</th><th>path</th><th class=n>files</th>"
               "<th class=n>lines</th><th class=n>fan-in</th><th class=n>fan-out</th><th class=n>rank</th><th class=n>test files</th>"
               "<th>main author</th></tr>")
    own = data.get("ownership", {})
    for m in sorted(data["modules"], key=lambda m: (-m["rank"], m["name"]))[:MAX_PAGE_MODULES]:
        out.append(f"<tr data-search=\"{_e(m['name'] + ' ' + m['path'])}\"><td><a href=\"#\" data-module=\"{index[m['name']]}\">"
                   f"<code>{_e(m['name'])}</code></a></td><td><code>{_e(m['path'])}</code></td><td class=n>{m['files']}</td>"
                   f"<td class=n>{m['lines']}</td><td class=n>{m['fan_in']}</td><td class=n>{m['fan_out']}</td>"
                   f"<td class=n>{m['rank']:.4f}</td><td class=n>{m['tested_by']}</td><td>{_e(own.get(m['name'], {}).get('owner', ''))}</td></tr>")
    out.append("</table>")
    if len(data["modules"]) > MAX_PAGE_MODULES:
        out.append(f"<p class=\"note\">{len(data['modules']) - MAX_PAGE_MODULES} smaller modules are only in the JSON report.</p>")
    out.append("</section>")
    if data.get("summaries") or data.get("summary_status"):
        out.append("<section id=\"summaries\"><h2>Module summaries</h2>")
        for m, text in data["summaries"].items():
            out.append(f"<div data-search=\"{_e(m)}\"><h3><code>{_e(m)}</code></h3><div class=\"summary\">{_e(text)}</div></div>")
        if data.get("summary_status"):
            out.append("<p>Modules without a summary:</p><ul>" + "".join(
                f"<li data-search=\"{_e(m)}\"><code>{_e(m)}</code>: {_e(why)}</li>" for m, why in sorted(data["summary_status"].items())) + "</ul>")
        out.append("</section>")
    out.append("</div><aside id=\"panel\"><input id=\"search\" type=\"search\" placeholder=\"Search modules and files\" "
               "aria-label=\"search\"><div id=\"search-count\" class=\"muted\"></div><div id=\"panel-body\"><p class=\"muted\">"
               "Click a module or an edge.</p><h4>Hubs</h4><ol>")
    out += [f"<li><a href=\"#\" data-module=\"{index[h['module']]}\"><code>{_e(h['module'])}</code></a> "
            f"<span class=\"muted\">fan-in {h['fan_in']}</span></li>" for h in data["hubs"]]
    out.append("</ol></div></aside></main>")
    out.append(f"<script type=\"application/json\" id=\"report-data\">{_json_script(pdata)}</script>")
    out.append(f"<script>{_JS}</script></body></html>")
    return "".join(out)
