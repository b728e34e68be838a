"""Parse one file with tree-sitter and extract its facts, driven by the language's `.scm` query.

Capture names the queries use (one match = one fact):

  @def.<kind> + @name        a definition (function, method, class, interface, struct, enum,
                             trait, type, variable, constant, module, namespace); optional
                             @receiver (Go method receiver type) and @base (each base class)
  @scope + @name             a naming scope that is not itself a symbol (a Rust impl block)
  @call + @callee            a call site; @call.new + @callee for a constructor (`new Foo()`)
  @import                    an import; @import.module (path, quotes stripped; Python's
                             leading dots become the level), @import.name, @import.alias
  @package                   the file's package or namespace (Go, Java, Kotlin, C#, PHP)
  @bind + @bind.name         a local binding the resolver can use; with @bind.call (initialised
                             from a call: `x = Foo()`), @bind.new (`new Foo()`), @bind.type (a
                             declared type), @bind.alias (`x = other.name`) or @bind.self
                             (`self.x = ...`: an attribute of the enclosing class)

A function nested directly in a class-like definition or scope becomes a `method`. Nothing here
keeps a tree after the file is done: workers return plain tuples.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Callable

from . import pyflow
from .languages import parser_for, query_for
from .names import CLASS_KINDS, split_words

CHUNK_LINES = 60
MAX_CHUNK_CHARS = 200_000  # chunks must cover every line: references() prefilters with them
MAX_TEXT = 200
_NAME_TYPES = ("identifier", "field_identifier", "property_identifier")
_WS = re.compile(r"\s+")


@dataclass
class FileFacts:
    """Everything the index stores about one file. Row tuples keep pickling cheap."""

    path: str
    lang: str
    module: str
    blob: str
    size: int
    lines: int
    package: str = ""
    mtime_ns: int = 0
    parse_error: bool = False
    # (name, qualname, kind, start_line, end_line, name_line, name_col, signature, doc, parent_idx)
    defs: list[tuple] = field(default_factory=list)
    # (scope_idx, callee_text, name, line, col, text, is_new)
    calls: list[tuple] = field(default_factory=list)
    # (scope_idx, module, name, alias, line, level)
    imports: list[tuple] = field(default_factory=list)
    # (def_idx, base_text)
    bases: list[tuple] = field(default_factory=list)
    # (scope_idx, name, kind, value, line)  kind: call | new | type | alias | self_call | self_new | self_type
    binds: list[tuple] = field(default_factory=list)
    # (def_idx or -1, start_line, end_line, text)
    chunks: list[tuple] = field(default_factory=list)
    # qualnames of defs lack the module prefix: `place` adds it (facts cached per blob are path-free)
    relative: bool = False


def name_words(name: str, qualname: str) -> str:
    """What full-text search matches a definition's name on: the name, its words, its qualname's parts."""
    words = {w.lower() for w in split_words(name)}
    return f"{name} {' '.join(sorted(words))} {qualname.replace('.', ' ')}"


def git_blob_id(data: bytes) -> str:
    """The id git gives this content, so hashes match `git ls-files -s` where the file is tracked."""
    h = hashlib.sha1(b"blob %d\0" % len(data))
    h.update(data)
    return h.hexdigest()


def text_facts(path: str, data: bytes, lang: str = "text") -> FileFacts:
    """A file with no parser: listed and searchable, no symbols."""
    text = data.decode("utf-8", "replace")
    lines = text.split("\n")
    facts = FileFacts(path, lang, "", git_blob_id(data), len(data), len(lines))
    facts.chunks = _windows(lines, 1, len(lines), -1)
    return facts


def _windows(lines: list[str], start: int, end: int, idx: int) -> list[tuple]:
    out = []
    for s in range(start, end + 1, CHUNK_LINES):
        e = min(end, s + CHUNK_LINES - 1)
        body = "\n".join(lines[s - 1 : e])
        if body.strip():
            out.append((idx, s, e, body[:MAX_CHUNK_CHARS]))
    return out


class _Src:
    """Source bytes with line access and byte->character column conversion."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.blines = data.split(b"\n")
        self._lines: dict[int, str] = {}

    def col(self, row: int, bcol: int) -> int:
        line = self.blines[row] if row < len(self.blines) else b""
        if line.isascii():
            return bcol + 1
        return len(line[:bcol].decode("utf-8", "replace")) + 1

    def line_text(self, row: int) -> str:
        text = self._lines.get(row)
        if text is None:
            line = self.blines[row] if row < len(self.blines) else b""
            text = self._lines[row] = line.decode("utf-8", "replace").strip()[:MAX_TEXT]
        return text

    def text(self, node) -> str:
        return self.data[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _strip_quotes(s: str) -> str:
    s = s.strip()
    if len(s) >= 2 and s[0] in "\"'`<" and s[-1] in "\"'`>":
        return s[1:-1]
    return s


def _signature(src: _Src, node) -> str:
    body = node.child_by_field_name("body")
    end = body.start_byte if body is not None and body.start_byte > node.start_byte else None
    if end is None:
        first = src.data[node.start_byte : node.end_byte].split(b"\n", 1)[0]
        raw = first.decode("utf-8", "replace")
    else:
        raw = src.data[node.start_byte : end].decode("utf-8", "replace")
    sig = _WS.sub(" ", raw).strip().rstrip("{:").strip()
    return sig[:240]


def _python_docstring(src: _Src, node) -> str:
    body = node.child_by_field_name("body")
    if body is None or body.named_child_count == 0:
        return ""
    first = body.named_children[0]
    if first.type == "expression_statement" and first.named_child_count:
        first = first.named_children[0]
    if first.type != "string":
        return ""
    text = src.text(first)
    text = text.lstrip("rRbBuUfF")
    for q in ('"""', "'''", '"', "'"):
        if text.startswith(q) and text.endswith(q) and len(text) >= 2 * len(q):
            text = text[len(q) : -len(q)]
            break
    return _clean_doc(text)


def _clean_doc(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines()]
    return "\n".join(lines[:8])[:500]


def _leading_comment(src: _Src, node) -> str:
    """Contiguous comments right above a definition (or above its decorators/attributes)."""
    parts = []
    cur = node
    while cur.parent is not None and cur.parent.type in ("decorated_definition", "export_statement", "expression_statement"):
        cur = cur.parent
    expect_row = cur.start_point[0]
    prev = cur.prev_sibling
    while prev is not None and "comment" in prev.type and prev.end_point[0] >= expect_row - 1:
        parts.append(src.text(prev))
        expect_row = prev.start_point[0]
        prev = prev.prev_sibling
    if not parts:
        return ""
    text = "\n".join(reversed(parts))
    text = re.sub(r"^\s*(///?|/\*\*?|\*/?|#+|--)\s?", "", text, flags=re.M)
    return _clean_doc(text.replace("*/", ""))


def module_name(path: str, lang: str, package_dirs: frozenset[str] | set[str] = frozenset()) -> str:
    """The module part of qualified names.

    Python: the import path (`pkg/mod.py` -> `pkg.mod`, `pkg/__init__.py` -> `pkg`); inside a
    package (directories with `__init__.py`), the path from the top package; a `src/` layout
    is stripped. Go: see `go_package_name`. Other languages: the path without extension, dotted.
    `package_dirs` holds the directories with `__init__.py` and the paths of `go.mod` files.
    """
    if lang == "go":
        return go_package_name(path, package_dirs)
    stem = path.rsplit(".", 1)[0] if "." in path.rsplit("/", 1)[-1] else path
    parts = stem.split("/")
    if lang == "python":
        dirs = parts[:-1]
        if dirs and "/".join(dirs) in package_dirs:
            top = len(dirs)  # climb while the parent directory is a package too
            while top > 1 and "/".join(dirs[: top - 1]) in package_dirs:
                top -= 1
            parts = parts[top - 1 :]
        elif "src" in dirs:
            parts = parts[len(dirs) - dirs[::-1].index("src") :]
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        return ".".join(parts)
    return ".".join(parts)


def go_package_name(path: str, package_dirs: frozenset[str] | set[str] = frozenset()) -> str:
    """A Go file's qualname prefix: its directory relative to the outermost `go.mod` above it (so
    the import path less the module path; nested modules' packages keep their place in it), or to
    the repository without one, dotted, so `a/util` and `b/util` stay apart; "" at the root, where
    `place` uses the declared package name (`main`, `chi`)."""
    d = path.rsplit("/", 1)[0] if "/" in path else ""
    root, up = "", d
    while up and "go.mod" not in package_dirs:
        if f"{up}/go.mod" in package_dirs:
            root = up
        up = up.rsplit("/", 1)[0] if "/" in up else ""
    return d[len(root):].strip("/").replace("/", ".")


def place(facts: FileFacts, path: str, module: str) -> FileFacts:
    """Put facts extracted from a blob at a path: the module prefix goes in front of relative qualnames."""
    if facts.lang == "go" and not module:  # a Go module's root package: its declared name
        module = facts.package
    facts.path, facts.module = path, module
    if facts.relative and module:
        facts.defs = [(n, f"{module}.{q}", *rest) for n, q, *rest in facts.defs]
    facts.relative = False
    return facts


def parse_file(path: str, lang: str, module: str, data: bytes) -> FileFacts:
    """Extract the facts of one file and place them at its path."""
    return place(extract(lang, data), path, module)


def extract(lang: str, data: bytes, blob: str | None = None) -> FileFacts:
    """Definitions, calls, imports, bases, bindings and search chunks of a blob: a function of
    its content and language only (no path, no module), so they can be cached per blob."""
    src = _Src(data)
    facts = FileFacts("", lang, "", blob or git_blob_id(data), len(data), len(src.blines))
    tree = parser_for(lang).parse(data)
    root = tree.root_node
    facts.parse_error = root.has_error
    import tree_sitter as ts

    matches = ts.QueryCursor(query_for(lang)).matches(root)
    del tree

    defs: list[dict] = []  # raw definitions and scopes, later sorted by position
    seen_defs: dict[tuple, dict] = {}
    items: list[tuple] = []  # (start_byte, kind, payload) for calls/imports/binds
    package = ""
    is_py = lang == "python"
    for _pattern, caps in matches:
        keys = caps.keys()
        flow = None
        if is_py and "callee" not in keys:
            for k in keys:  # (a loop: no generator per match)
                if k[:5] == "flow.":
                    flow = k
                    break
        if "callee" in keys:
            callee = caps.get("callee")
            if not callee:
                continue
            call = (caps.get("call") or caps["call.new"])[0]
            cnode = callee[0]
            if lang == "ruby" and cnode.type == "identifier" and _ruby_local(src, cnode):
                continue
            ctext, row = src.text(cnode), cnode.end_point[0]
            # a whole call node as @callee (Java, Ruby, PHP): keep `recv.name`, drop arguments/block;
            # in Python a call as callee is a call of what the call returns (`f(x)(y)`)
            if lang != "python":
                cut = [c for c in map(cnode.child_by_field_name, ("arguments", "block")) if c is not None]
                if cut and min(c.start_byte for c in cut) > cnode.start_byte:
                    first = min(cut, key=lambda c: c.start_byte)
                    ctext, row = src.data[cnode.start_byte : first.start_byte].decode("utf-8", "replace"), first.start_point[0]
            items.append((call.start_byte, "call", (ctext, row, cnode, "call.new" in keys, call)))
        elif flow is not None:
            node = caps[flow][0]
            if flow == "flow.lambda":
                defs.append({"node": node, "start": node.start_byte, "end": node.end_byte, "kind": "lambda",
                             "scope_only": False, "name": "<lambda>", "name_row": node.start_point[0],
                             "name_col": src.col(node.start_point[0], node.start_point[1]),
                             "start_line": node.start_point[0] + 1, "end_line": node.end_point[0] + 1,
                             "receiver": "", "bases": []})
            else:
                for start, name, kind, value, line in pyflow.facts(flow[5:], node):
                    items.append((start, "bind", (name, kind, value, line)))
        elif (def_key := next((k for k in keys if k[:4] == "def."), None)) or "scope" in keys:
            node = caps[def_key or "scope"][0]
            name_nodes = caps.get("name")
            if not name_nodes:
                continue
            name_node = name_nodes[0]
            key = (node.start_byte, node.end_byte, name_node.start_byte)
            if key in seen_defs:
                seen_defs[key]["bases"].extend(src.text(b).strip() for b in caps.get("base", ()))
                continue
            seen_defs[key] = {  # name and lines are filled in (_fill) once it is known not to be a local
                "node": node,
                "name_node": name_node,
                "start": node.start_byte,
                "end": node.end_byte,
                "kind": def_key[4:] if def_key else "impl",
                "scope_only": def_key is None,
                "receiver": _receiver_name(src, caps["receiver"][0]) if "receiver" in keys else "",
                "bases": [src.text(b).strip() for b in caps.get("base", ())],
            }
            defs.append(seen_defs[key])
        elif "import" in keys:
            node = caps["import"][0]
            get = lambda k: _strip_quotes(src.text(caps[k][0])) if k in keys else ""  # noqa: E731
            mod, level = get("import.module"), 0
            if lang == "python" and mod.startswith("."):
                level = len(mod) - len(mod.lstrip("."))
                mod = mod.lstrip(".")
            items.append((node.start_byte, "import", (mod, get("import.name"), get("import.alias"), node.start_point[0] + 1, level)))
        elif "bind" in keys:
            node = caps["bind"][0]
            name = src.text(caps["bind.name"][0]).strip() if "bind.name" in keys else ""
            if not name:
                continue
            prefix = "self_" if "bind.self" in keys else ""
            for kind in ("call", "new", "type", "alias"):
                if f"bind.{kind}" in keys:
                    value = _WS.sub("", src.text(caps[f"bind.{kind}"][0]))[:200]
                    items.append((node.start_byte, "bind", (name, prefix + kind, value, node.start_point[0] + 1)))
                    break
        elif "package" in keys and not package:
            package = _strip_quotes(src.text(caps["package"][0]).strip()).replace("\\", ".").replace("::", ".")
    facts.package = package

    # Definitions: sort by position, find parents with a stack, build qualified names.
    defs.sort(key=lambda d: (d["start"], -d["end"]))
    stack: list[int] = []
    index_of: list[int] = []  # position in defs -> index in facts.defs (or -1 for scopes)
    # Qualified names start at the declared package, else at the module: the module is a function
    # of the path, so it is left out here and added by `place` (facts stay a function of the blob).
    facts.relative = lang in ("python", "go") or not package  # Go: by directory (go_package_name)
    prefix = "" if facts.relative else package
    impl_bases: list[tuple] = []
    lambdas: dict[str, int] = {}  # per enclosing scope, PyCG's `<lambdaN>` in order of appearance
    for i, d in enumerate(defs):
        while stack and defs[stack[-1]]["end"] <= d["start"]:
            stack.pop()
        parent = defs[stack[-1]] if stack else None
        kind = d["kind"]
        if kind in ("variable", "constant"):
            d["end"] = d["start"]  # never a parent (of a lambda in its value)
        if kind in ("variable", "constant") and parent is not None and parent["kind"] not in CLASS_KINDS:
            d["end"] = d["start"]  # a local, not a symbol: never a parent of anything
            index_of.append(-1)
            d["qual"] = ""
            continue
        if "name_node" in d:
            _fill(src, d, is_py)
        if kind == "function" and (d["receiver"] or (parent is not None and parent["kind"] in CLASS_KINDS - {"namespace"})):
            kind = "method"
        chain = parent["qual"] if parent is not None else prefix
        if kind == "lambda":
            lambdas[chain] = lambdas.get(chain, 0) + 1
            d["name"] = f"<lambda{lambdas[chain]}>"
        if d["receiver"]:
            chain = f"{chain}.{d['receiver']}" if chain else d["receiver"]
        d["qual"] = f"{chain}.{d['name']}" if chain else d["name"]
        d["kind"] = kind
        d["parent_def"] = next((index_of[j] for j in reversed(stack) if index_of[j] >= 0), -1)
        if d["scope_only"]:
            index_of.append(-1)
            if d["bases"]:  # `impl Trait for Type`: a base of the type, when this file defines it
                impl_bases.append((d["qual"], d["bases"]))
        else:
            node = d["node"]
            doc = _python_docstring(src, node) if lang == "python" and kind != "lambda" else ""
            if not doc and kind != "lambda":
                doc = _leading_comment(src, node)
            index_of.append(len(facts.defs))
            facts.defs.append((d["name"], d["qual"], kind, d["start_line"], d["end_line"], d["name_row"] + 1,
                               d["name_col"], _signature(src, node), doc, d["parent_def"]))
            for base in d["bases"]:
                facts.bases.append((index_of[-1], base))
        stack.append(i)

    if impl_bases:
        types = {q: i for i, (_n, q, k, *_r) in enumerate(facts.defs) if k in ("struct", "enum", "class", "type")}
        for qual, bases in impl_bases:
            if qual in types:
                facts.bases.extend((types[qual], b) for b in bases)

    # Calls, imports and bindings: attribute each to its innermost enclosing definition.
    items.sort(key=itemgetter(0))
    spans = [(d["start"], d["end"], index_of[i], d["node"]) for i, d in enumerate(defs)
             if index_of[i] >= 0 and d["kind"] not in ("variable", "constant")]
    # A Python call's own parameters (pyflow): those of its scope's function. Scopes are every function,
    # class and lambda of a tree without errors; in one with errors, pyflow walks up the tree instead.
    own_params: dict[int, Callable[[], set]] = {}  # scope -> its parameters, computed at most once
    by_scope = is_py and not facts.parse_error
    binds = facts.binds
    stack2: list[tuple] = []
    ops: set[tuple] = set()
    j = 0
    for start, what, payload in items:
        while j < len(spans) and spans[j][0] <= start:
            while stack2 and stack2[-1][1] <= spans[j][0]:
                stack2.pop()
            stack2.append(spans[j])
            j += 1
        while stack2 and stack2[-1][1] <= start:
            stack2.pop()
        scope, scope_node = stack2[-1][2:] if stack2 else (-1, None)
        if what == "call":
            callee_text, row, cnode, is_new, call = payload
            name = callee_text.rsplit(".", 1)[-1]
            args = cnode.child_by_field_name("arguments") if lang == "python" and cnode.type == "call" else None
            if args is not None:  # `f(x)(y)`: a call of what `f(x)` returns, at `(y)` (`@` for a decorator)
                callee_text = _WS.sub("", callee_text)
                name = re.sub(r"\(.*$", "", re.split(r"\.(?![^(]*\))", callee_text)[-1]) + "()"
                last = call.child_by_field_name("arguments") or call
            elif not name.isidentifier():  # spaces, `::`, `->`, generics, calls in the chain: the slow way
                callee_text = _WS.sub("", callee_text)
                name = re.split(r"\.|::|->|\?\.", callee_text)[-1] if callee_text else ""
                name = re.sub(r"<.*$|[^\w$!?].*$", "", name) or name
            # the column of the called name, where editors put the cursor
            if args is None:
                if cnode.type == "identifier":  # the common case: no fields, no children
                    last = cnode
                else:
                    last = cnode.child_by_field_name("name") or cnode.child_by_field_name("method") or cnode
                    while (n := last.named_child_count) and last.type not in _NAME_TYPES:
                        last = last.named_child(n - 1)
            lrow, lcol = last.start_point
            line, col = lrow + 1, src.col(lrow, lcol)
            facts.calls.append((scope, callee_text[:200], name, line, col, src.line_text(row), is_new))
            if lang == "python":
                if call.type == "decorator":  # `@deco` calls `deco` with the function it decorates
                    fn = call.parent.child_by_field_name("definition") if call.parent is not None else None
                    fname = fn.child_by_field_name("name") if fn is not None else None
                    if fname is not None:
                        facts.binds.append((scope, f"{col}|0", "arg", "!" + src.text(fname), line))
                else:
                    own = own_params.get(scope)
                    if own is None and by_scope:
                        own = own_params[scope] = _once(pyflow.params_of, scope_node)
                    for _s, n, k, v, ln in pyflow.arg_facts(call, col, line, own):
                        binds.append((scope, n, k, v, ln))
        elif what == "import":
            facts.imports.append((scope,) + payload)
        elif payload[1] != "op" or (key := (scope,) + payload[:3]) not in ops:  # one per scope, operator, operand
            facts.binds.append((scope,) + payload)
            if payload[1] == "op":
                ops.add(key)

    if any(d["kind"] == "lambda" for d in defs):  # name the lambdas the flow facts mention
        names = {str(d["start"]): d["name"] for d in defs if d["kind"] == "lambda"}
        marker = re.compile(f"{pyflow.LAMBDA}(\\d+){pyflow.LAMBDA}")
        facts.binds = [b if pyflow.LAMBDA not in b[3] else (*b[:3], marker.sub(lambda m: names.get(m.group(1), "?"), b[3]), b[4])
                       for b in facts.binds]

    # Search chunks: each function-like definition, each class header, and windows of the rest.
    text_lines = data.decode("utf-8", "replace").split("\n")
    spans_covered = []
    for idx, (name, qual, kind, s, e, *_rest) in enumerate(facts.defs):
        if kind == "lambda":
            continue
        if kind in CLASS_KINDS:
            facts.chunks.append((idx, s, e, "\n".join(text_lines[s - 1 : min(e, s + 5)])[:MAX_CHUNK_CHARS]))
        elif facts.defs[idx][9] < 0 or facts.defs[facts.defs[idx][9]][2] in CLASS_KINDS:
            facts.chunks.append((idx, s, e, "\n".join(text_lines[s - 1 : e])[:MAX_CHUNK_CHARS]))
            spans_covered.append((s, e))
    nxt = 1  # windows over the lines no function chunk covers
    for s, e in sorted(spans_covered) + [(len(text_lines) + 1, len(text_lines) + 1)]:
        if s > nxt:
            facts.chunks.extend(_windows(text_lines, nxt, s - 1, -1))
        nxt = max(nxt, e + 1)
    return facts


def _fill(src: _Src, d: dict, is_py: bool) -> None:
    """The name and lines of a definition (its start: a Python decorator's line, when decorated)."""
    node, name_node = d["node"], d.pop("name_node")
    start_node = node
    if is_py and node.type in ("function_definition", "class_definition"):
        parent = node.parent  # (costly in tree-sitter: found from the root down)
        if parent is not None and parent.type == "decorated_definition":
            start_node = parent
    name_row, name_bcol = name_node.start_point
    d["name"] = src.text(name_node).strip()
    d["name_row"], d["name_col"] = name_row, src.col(name_row, name_bcol)
    d["start_line"], d["end_line"] = start_node.start_point[0] + 1, node.end_point[0] + 1


def _once(fn: Callable, arg) -> Callable:
    """fn(arg), computed at the first call only."""
    memo: list = []

    def get():
        if not memo:
            memo.append(fn(arg))
        return memo[0]
    return get


def _ruby_local(src: _Src, node) -> bool:
    """Is a bare Ruby identifier a local of its method (assigned, or a parameter) rather than a call?"""
    name = src.text(node)
    method = node.parent
    while method is not None and method.type not in ("method", "singleton_method", "block", "do_block", "program"):
        method = method.parent
    if method is None:
        return False
    text = src.text(method)
    return re.search(rf"(?<![\w.@$:]){re.escape(name)}\s*(?:=(?![=~>])|[,|)]|\+=|-=|\|\|=)", text) is not None


def _receiver_name(src: _Src, node) -> str:
    text = src.text(node)
    text = re.sub(r"[\s*&]|<.*>|\[.*\]", "", text)
    return text.split(".")[-1]
