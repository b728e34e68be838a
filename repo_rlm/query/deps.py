"""The file-level dependency graph from the index's imports, rolled up to modules (directories).

Why here and not in the resolvers: the resolvers tie an import to the symbol or module it binds
(what call resolution needs); an architecture view needs the files an import makes the importer
depend on. So each import row is mapped to files from what the index stores (its target, the
files' modules and packages, the definitions' qualified names) plus a few per-language rules:
a Python import reaches the most specific module file (a package's `__init__.py`); a Go import
path under the repository's `go.mod` module reaches every Go file of that directory; a JS/TS
relative import reaches the file with the usual extensions or its `index` file; Java, Kotlin and
C# imports reach the class's file or, for a wildcard/namespace, every file of the package.

A module is the directory of a source file; its name is the Python package or the declared
Java/Kotlin/C# package where one is unambiguous, else the directory path ("." is `(root)`).
Graph algorithms (strongly connected components, layers, PageRank) work on plain dicts, so the
MCP server and the review bot can run them on any subgraph.
"""
from __future__ import annotations

import posixpath
import re
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field

CODE_SKIP = ("text", "skipped")
JS_LANGS = {"javascript", "typescript", "tsx"}
JVM_LANGS = {"java", "kotlin", "csharp"}
JS_SUFFIXES = ("", ".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts",
               "/index.ts", "/index.tsx", "/index.js", "/index.jsx", "/index.mjs")
ROOT_MODULE = "(root)"
_TEST_PATH = re.compile(r"(^|/)(tests?|__tests__|spec|testing)/|(^|/)test_[^/]*$|_test\.[a-z]+$|[._-](test|spec)\.[jt]sx?$"
                        r"|Tests?\.(java|kt|cs)$|(^|/)conftest\.py$")


def is_test_path(path: str) -> bool:
    """A test file, by the usual conventions of the supported languages."""
    return bool(_TEST_PATH.search(path))


@dataclass
class SourceFile:
    path: str
    lang: str
    module: str      # the index's qualified-name prefix
    package: str     # the declared package/namespace
    lines: int


@dataclass
class ImportSite:
    """One import statement behind an edge: where it is and what it says."""
    path: str
    line: int
    text: str
    deferred: bool = False   # inside a function: runs when called, not when the module is imported

    def to_dict(self) -> dict:
        return {"path": self.path, "line": self.line, "text": self.text} | ({"deferred": True} if self.deferred else {})


@dataclass
class DepGraph:
    files: dict[str, SourceFile]
    edges: dict[tuple[str, str], list[ImportSite]] = field(default_factory=dict)
    module_of: dict[str, str] = field(default_factory=dict)   # path -> module name
    module_dir: dict[str, str] = field(default_factory=dict)  # module name -> directory

    def module_edges(self, import_time: bool = False) -> dict[tuple[str, str], int]:
        """(from module, to module) -> number of file-level edges between them (self-loops dropped).
        `import_time`: only edges with an import at module level (deferred imports break no load-order cycle)."""
        out: dict[tuple[str, str], int] = defaultdict(int)
        for (a, b), sites in self.edges.items():
            if import_time and all(s.deferred for s in sites):
                continue
            ma, mb = self.module_of[a], self.module_of[b]
            if ma != mb:
                out[(ma, mb)] += 1
        return dict(out)


def _import_text(lang: str, module: str, name: str, alias: str, level: int) -> str:
    if lang == "python":
        mod = "." * level + module
        if name:
            return f"from {mod} import {name}" + (f" as {alias}" if alias else "")
        return f"import {mod}" + (f" as {alias}" if alias else "")
    return module + (f" ({name})" if name and name != "*" else "")


def _go_modules(conn: sqlite3.Connection, root_reader) -> list[tuple[str, str]]:
    """(module path, directory) of every go.mod, longest module path first."""
    out = []
    for (path,) in conn.execute("SELECT path FROM files WHERE path = 'go.mod' OR path LIKE '%/go.mod'"):
        text = root_reader(path) or ""
        m = re.search(r"^\s*module\s+(\S+)", text, re.M)
        if m:
            out.append((m.group(1).strip('"'), posixpath.dirname(path)))
    out.sort(key=lambda x: -len(x[0]))
    return out


def build_graph(conn: sqlite3.Connection, read_text=None) -> DepGraph:
    """The file dependency graph of an index. `read_text(path)` reads small files (go.mod)."""
    files: dict[str, SourceFile] = {}
    by_id: dict[int, str] = {}
    for fid, path, lang, module, package, lines in conn.execute(
            "SELECT id, path, lang, module, package, lines FROM files WHERE lang NOT IN ('text', 'skipped')"):
        files[path] = SourceFile(path, lang, module, package, lines)
        by_id[fid] = path
    graph = DepGraph(files)
    _roll_up(graph)
    if not files:
        return graph

    py_mods: dict[str, list[str]] = defaultdict(list)
    other_mods: dict[str, list[str]] = defaultdict(list)
    dir_files: dict[tuple[str, str], list[str]] = defaultdict(list)   # (lang family, dir) -> files
    pkg_files: dict[str, list[str]] = defaultdict(list)              # declared package -> files (JVM/C#)
    for f in files.values():
        (py_mods if f.lang == "python" else other_mods)[f.module].append(f.path)
        dir_files[(f.lang, posixpath.dirname(f.path))].append(f.path)
        if f.lang in JVM_LANGS and f.package:
            pkg_files[f.package].append(f.path)
    go_mods = _go_modules(conn, read_text or (lambda p: None)) if any(f.lang == "go" for f in files.values()) else []

    rows = conn.execute("SELECT file_id, module, name, alias, line, level, target, scope_id FROM imports "
                        "ORDER BY file_id, line, id").fetchall()
    sym_targets = {r[6] for r in rows if r[6]} - set(other_mods) - set(py_mods)
    sym_file: dict[str, str] = {}
    sym_list = list(sym_targets)
    for i in range(0, len(sym_list), 500):
        part = sym_list[i:i + 500]
        for qual, fid in conn.execute(
                f"SELECT qualname, file_id FROM symbols WHERE qualname IN ({','.join('?' * len(part))})", part):
            if fid in by_id:
                sym_file.setdefault(qual, by_id[fid])

    def nearest(cands: list[str], src: str) -> str:
        if len(cands) == 1:
            return cands[0]
        return max(sorted(cands), key=lambda p: len(posixpath.commonprefix([p, src])))

    py_memo: dict[tuple, str | None] = {}

    def python_targets(src: SourceFile, module: str, name: str, level: int) -> list[str]:
        key = (module, name, level, src.module if level else "", src.path.endswith(("__init__.py", "__init__.pyi")))
        if key not in py_memo:
            py_memo[key] = _python_module(src, module, name, level)
        hit = py_memo[key]
        return [nearest(py_mods[hit], src.path)] if hit else []

    def _python_module(src: SourceFile, module: str, name: str, level: int) -> str | None:
        """The most specific module of the repository that an import names."""
        if level:
            parts = src.module.split(".")
            if not src.path.endswith(("__init__.py", "__init__.pyi")):
                parts = parts[:-1]
            parts = parts[: max(0, len(parts) - (level - 1))]
            base = ".".join(parts + ([module] if module else []))
        else:
            base = module
        if not base:
            return None
        if name and name != "*" and f"{base}.{name}" in py_mods:
            return f"{base}.{name}"
        head = base.split(".")
        for i in range(len(head), 0, -1):
            c = ".".join(head[:i])
            if c in py_mods:
                return c
        return None

    def go_targets(src: SourceFile, module: str, target: str | None) -> list[str]:
        for mod, d in go_mods:
            if module == mod or module.startswith(mod + "/"):
                rel = module[len(mod):].lstrip("/")
                return dir_files.get(("go", posixpath.join(d, rel).strip("/") if d or rel else ""), [])
        if not go_mods and target and target in other_mods:  # no go.mod: trust the resolver's match
            return dir_files.get(("go", posixpath.dirname(other_mods[target][0])), [])
        return []

    def js_targets(src: SourceFile, module: str) -> list[str]:
        if not module.startswith("."):
            return []
        base = posixpath.normpath(posixpath.join(posixpath.dirname(src.path), module))
        for suf in JS_SUFFIXES:
            if base + suf in files:
                return [base + suf]
        return []

    def target_files(src: SourceFile, target: str) -> list[str]:
        if target in other_mods:
            return [nearest(other_mods[target], src.path)]
        if target in sym_file:
            return [sym_file[target]]
        return []

    def jvm_targets(src: SourceFile, module: str, name: str) -> list[str]:
        mod = module.replace("\\", ".").replace("::", ".")
        if name and name != "*" and mod.endswith("." + name):
            mod = mod[: -len(name) - 1]
        if name in ("", "*"):
            return list(pkg_files.get(mod, ()))
        return [p for p in pkg_files.get(mod, ()) if posixpath.basename(p).rsplit(".", 1)[0] == name]

    edges = graph.edges
    for fid, module, name, alias, line, level, target, scope in rows:
        src_path = by_id.get(fid)
        if src_path is None:
            continue
        src = files[src_path]
        if src.lang == "python":
            dests = python_targets(src, module, name, level)
        elif src.lang == "go":
            dests = go_targets(src, module, target)
        else:
            dests = target_files(src, target) if target else []
            if not dests and src.lang in JS_LANGS:
                dests = js_targets(src, module)
            if not dests and src.lang in JVM_LANGS:
                dests = jvm_targets(src, module, name)
        if not dests:
            continue
        site = ImportSite(src_path, line, _import_text(src.lang, module, name, alias, level), scope is not None)
        for d in dests:
            if d != src_path:
                lst = edges.setdefault((src_path, d), [])
                if not lst or lst[-1].line != line:
                    lst.append(site)
    return graph


def _roll_up(graph: DepGraph) -> None:
    """Name each source directory's module (see the module docstring) and map files to it."""
    by_dir: dict[str, list[SourceFile]] = defaultdict(list)
    for f in graph.files.values():
        by_dir[posixpath.dirname(f.path)].append(f)
    names: dict[str, str] = {}
    for d, fs in by_dir.items():
        name = d or ROOT_MODULE
        init = [f for f in fs if f.lang == "python" and posixpath.basename(f.path) in ("__init__.py", "__init__.pyi")]
        pkgs = {f.package for f in fs if f.lang in JVM_LANGS}
        if init and init[0].module and "." not in posixpath.basename(d) and init[0].module != "__init__":
            name = init[0].module
        elif len(pkgs) == 1 and "" not in pkgs and all(f.lang in JVM_LANGS for f in fs):
            name = next(iter(pkgs))
        names[d] = name
    counts: dict[str, int] = defaultdict(int)
    for n in names.values():
        counts[n] += 1
    for d, n in names.items():  # an ambiguous name falls back to the directory
        name = n if counts[n] == 1 else (d or ROOT_MODULE)
        graph.module_dir[name] = d or "."
        for f in by_dir[d]:
            graph.module_of[f.path] = name


# -- graph algorithms -----------------------------------------------------------------------------

def adjacency(edges) -> dict[str, set[str]]:
    adj: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        adj[a].add(b)
        adj.setdefault(b, set())
    return adj


def strongly_connected(nodes, adj: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm without recursion; components in reverse topological order, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for start in sorted(nodes):
        if start in index:
            continue
        work = [(start, iter(sorted(adj.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(adj.get(w, ())))))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
    return out


def cycles(nodes, adj: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member, largest first."""
    comps = [c for c in strongly_connected(nodes, adj) if len(c) > 1]
    return sorted(comps, key=lambda c: (-len(c), c))


def layers(nodes, adj: dict[str, set[str]]) -> list[list[str]]:
    """A topological layering: layer 0 depends on nothing inside the graph, layer k only on layers
    below k. Members of a cycle share a layer."""
    comps = strongly_connected(nodes, adj)  # reverse topological: dependencies come first
    comp_of = {n: i for i, c in enumerate(comps) for n in c}
    level: list[int] = []
    for i, comp in enumerate(comps):
        deps = {comp_of[w] for n in comp for w in adj.get(n, ()) if comp_of[w] != i}
        level.append(1 + max((level[d] for d in deps), default=-1))
    out: list[list[str]] = [[] for _ in range(max(level, default=-1) + 1)]
    for i, comp in enumerate(comps):
        out[level[i]].extend(comp)
    return [sorted(layer) for layer in out]


def pagerank(nodes, weighted_edges: dict[tuple[str, str], int], damping: float = 0.85, iterations: int = 100,
             tol: float = 1e-10) -> dict[str, float]:
    """PageRank with importers pointing at what they import: what much of the code rests on ranks high.
    Power iteration over an edge list until the ranks move less than `tol` in total."""
    nodes = sorted(nodes)
    n = len(nodes)
    if not n:
        return {}
    pos = {v: i for i, v in enumerate(nodes)}
    out_w = [0.0] * n
    for (a, _b), w in weighted_edges.items():
        out_w[pos[a]] += w
    edges = [(pos[a], pos[b], w / out_w[pos[a]]) for (a, b), w in weighted_edges.items()]
    dangling = [i for i in range(n) if not out_w[i]]
    rank = [1.0 / n] * n
    for _ in range(iterations):
        base = (1 - damping) / n + damping * sum(rank[i] for i in dangling) / n
        new = [base] * n
        for a, b, w in edges:
            new[b] += damping * rank[a] * w
        delta = sum(abs(x - y) for x, y in zip(new, rank))
        rank = new
        if delta < tol:
            break
    return {v: rank[i] for i, v in enumerate(nodes)}
