"""Findings without a model: exact, cheap, and always run first.

- `call-signature`: a call (resolved to a definition whose signature changed) whose arguments no
  longer fit the new signature but did fit the old one: too many positional arguments, a keyword
  the function no longer takes, a required argument missing. Python, checked with `ast`; in
  ARITY_LANGS, the number of arguments against the parameters' (defaults, optional and rest
  parameters counted as such; overloaded names are left alone).
- `removed-still-used`: an import or call in head of a definition (or module) that head no
  longer has: removed, renamed, or moved with its file.
- `return-removed`: a function that returned a value in base and returns none in head, whose
  callers use the value.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from ..query.diff import Diff, SymbolChange
from ..query.impact import Use
from ..query.repo import Repo, RepoError
from ..query.results import Call

SEVERITIES = ("error", "warning", "note")


@dataclass
class Finding:
    rule: str
    severity: str
    path: str
    line: int
    end_line: int
    message: str
    symbol: str
    source: str = "static"
    confidence: float = 1.0
    suggestion: str = ""
    evidence: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in ("rule", "severity", "path", "line", "end_line", "message", "symbol", "source")}
        d["confidence"] = self.confidence
        if self.suggestion:
            d["suggestion"] = self.suggestion
        if self.evidence:
            d["evidence"] = self.evidence
        return d


class _Files:
    """Python source of one side. Only the definitions a check needs are parsed (a function, a
    caller), not whole files: sympy-size files take a tenth of a second each to parse."""

    def __init__(self, repo: Repo):
        self.repo = repo
        self._lines: dict[str, list[str]] = {}
        self._trees: dict[tuple[str, int, int], tuple[ast.Module | None, int]] = {}

    def lines(self, path: str) -> list[str]:
        if path not in self._lines:
            try:
                self._lines[path] = self.repo.read(path).split("\n")
            except RepoError:
                self._lines[path] = []
        return self._lines[path]

    def snippet(self, path: str, start: int, end: int) -> tuple[ast.Module | None, int]:
        """Lines start..end parsed on their own: (tree, indent removed).
        Node line numbers are shifted back to the file's."""
        key = (path, start, end)
        if key not in self._trees:
            lines = self.lines(path)[start - 1:end]
            indent = min((len(ln) - len(ln.lstrip()) for ln in lines if ln.strip()), default=0)
            text = "\n".join(ln[indent:] for ln in lines)
            try:
                tree = ast.parse(text)
            except (SyntaxError, ValueError, RecursionError):
                tree = None
            if tree is not None:
                ast.increment_lineno(tree, start - 1)
            self._trees[key] = (tree, indent)
        return self._trees[key]

    def _link(self, tree: ast.AST) -> None:
        if not getattr(tree, "linked", False):
            for node in ast.walk(tree):
                for child in ast.iter_child_nodes(node):
                    child.parent = node  # type: ignore[attr-defined]
            tree.linked = True  # type: ignore[attr-defined]

    def function(self, path: str, start: int, end: int) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        tree, _ = self.snippet(path, start, end)
        if tree is None or not tree.body:
            return None
        node = tree.body[0]
        return node if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else None

    def call_at(self, c: Call) -> ast.Call | None:
        """The call whose called name starts at the call site's 1-based (line, character column)."""
        lines = self.lines(c.path)
        if not 0 < c.line <= len(lines):
            return None
        s, e = c.caller_start_line, c.caller_end_line
        if not (c.caller_path == c.path and s and s <= c.line <= e and e > s):
            s, e = 1, len(lines)  # module-level code: the whole file
        tree, indent = self.snippet(c.path, s, e)
        if tree is None:
            return None
        self._link(tree)  # _value_used looks at the call's parent
        byte_col = len(lines[c.line - 1][: c.column - 1].encode("utf-8")) - indent
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            if isinstance(f, ast.Name) and f.lineno == c.line and f.col_offset == byte_col:
                return node
            if isinstance(f, ast.Attribute) and f.end_lineno == c.line and f.end_col_offset - len(f.attr) == byte_col:
                return node
        return None


@dataclass
class _Params:
    positional: list[str]
    posonly: int
    required_pos: int
    vararg: bool
    kwonly: list[str]
    required_kw: set[str]
    kwarg: bool

    @classmethod
    def of(cls, fn: ast.FunctionDef | ast.AsyncFunctionDef, bound: bool) -> "_Params":
        a = fn.args
        pos = [x.arg for x in a.posonlyargs + a.args]
        required = len(pos) - len(a.defaults)
        posonly = len(a.posonlyargs)
        if bound and pos:
            pos, required, posonly = pos[1:], max(0, required - 1), max(0, posonly - 1)
        req_kw = {x.arg for x, d in zip(a.kwonlyargs, a.kw_defaults) if d is None}
        return cls(pos, posonly, required, a.vararg is not None, [x.arg for x in a.kwonlyargs], req_kw, a.kwarg is not None)

    def misfit(self, call: ast.Call) -> str | None:
        """Why the call does not fit, or None when it does (or cannot be judged: *args, **kwargs)."""
        star = any(isinstance(x, ast.Starred) for x in call.args)
        dstar = any(k.arg is None for k in call.keywords)
        npos = sum(not isinstance(x, ast.Starred) for x in call.args)
        names = [k.arg for k in call.keywords if k.arg is not None]
        if not self.vararg and npos > len(self.positional):
            return f"takes {len(self.positional)} positional argument{'s' * (len(self.positional) != 1)} but {npos} were given"
        allowed = set(self.positional[self.posonly:]) | set(self.kwonly)
        if not self.kwarg:
            bad = [n for n in names if n not in allowed]
            if bad:
                return f"got an unexpected keyword argument '{bad[0]}'"
        if star or dstar:
            return None
        covered = set(self.positional[:npos]) | set(names)
        missing = [p for p in self.positional[: self.required_pos] if p not in covered]
        missing += sorted(self.required_kw - set(names))
        if missing:
            return "missing required argument" + ("s " if len(missing) > 1 else " ") + ", ".join(f"'{m}'" for m in missing)
        return None


def _decorators(fn: ast.AST) -> set[str]:
    out = set()
    for d in getattr(fn, "decorator_list", []):
        d = d.func if isinstance(d, ast.Call) else d
        out.add(d.attr if isinstance(d, ast.Attribute) else getattr(d, "id", ""))
    return out


def _is_bound(change: SymbolChange, fn: ast.AST, call: ast.Call) -> bool:
    """Whether the call passes the first parameter implicitly (self/cls)."""
    if change.kind != "method":
        return False
    decos = _decorators(fn)
    if "staticmethod" in decos:
        return False
    if change.name in ("__init__", "__new__") and not (isinstance(call.func, ast.Attribute) and call.func.attr == change.name):
        return True  # C(...) reaches C.__init__
    if "classmethod" in decos:
        return True
    owner = change.symbol.rsplit(".", 2)[-2] if change.symbol.count(".") >= 1 else ""
    f = call.func
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == owner:
        return False  # Class.method(obj, ...): unbound
    return True


def _returns_value(fn: ast.AST) -> bool:
    """A `return <value>` in the function itself (nested functions and classes do not count)."""
    todo = list(ast.iter_child_nodes(fn))
    while todo:
        n = todo.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(n, ast.Return) and n.value is not None and not (isinstance(n.value, ast.Constant) and n.value.value is None):
            return True
        if isinstance(n, (ast.Yield, ast.YieldFrom)):
            return True  # a generator: its callers use the iterator
        todo.extend(ast.iter_child_nodes(n))
    return False


def _value_used(call: ast.Call) -> bool:
    parent = getattr(call, "parent", None)
    if isinstance(parent, ast.Await):
        parent = getattr(parent, "parent", None)
    return not isinstance(parent, ast.Expr)


def check(diff: Diff, base: Repo, head: Repo, callers: dict[str, list[Call]], missing: list[Use]
          ) -> tuple[list[Finding], set[tuple[str, str, int, int]]]:
    """Static findings, and the call sites they examined (symbol, path, line, column) for coverage."""
    findings: list[Finding] = []
    checked: set[tuple[str, str, int, int]] = set()
    bfiles, hfiles = _Files(base), _Files(head)
    for ch in diff.changed:
        if ch.lang in ARITY_LANGS and ch.change == "signature" and callers.get(ch.symbol):
            _arity(ch, head, hfiles, callers[ch.symbol], findings, checked)
        if ch.lang != "python" or ch.kind not in ("function", "method") or ch.change not in ("signature", "body") \
                or not callers.get(ch.symbol):
            continue
        new_fn = hfiles.function(ch.path, ch.start_line, ch.end_line)
        old_fn = bfiles.function(ch.old_path, ch.old_start_line, ch.old_end_line) if ch.old_path else None
        if new_fn is None or old_fn is None:
            continue
        lost_return = _returns_value(old_fn) and not _returns_value(new_fn)
        if ch.change != "signature" and not lost_return:
            continue
        decorated = bool(_decorators(new_fn) - {"staticmethod", "classmethod"})
        for c in callers.get(ch.symbol, []):
            if c.resolution != "resolved" or c.path.endswith(".pyi"):
                continue
            call = hfiles.call_at(c)
            if call is None:
                continue
            checked.add((ch.symbol, c.path, c.line, c.column))
            end = getattr(call, "end_lineno", c.line) or c.line
            if ch.change == "signature":
                bound = _is_bound(ch, new_fn, call)
                why = _Params.of(new_fn, bound).misfit(call)
                if why and _Params.of(old_fn, bound).misfit(call) is None:
                    findings.append(Finding(
                        "call-signature", "warning" if decorated else "error", c.path, c.line, end,
                        f"`{ch.name}()` {why}: its signature changed to `{ch.signature}` "
                        f"(was `{ch.old_signature}`), and this call in `{c.caller}` was not updated.",
                        ch.symbol, evidence=[{"path": ch.path, "start_line": new_fn.lineno, "end_line": new_fn.lineno},
                                             {"path": c.path, "start_line": c.line, "end_line": end}]))
                    continue
            if lost_return and _value_used(call):
                findings.append(Finding(
                    "return-removed", "warning", c.path, c.line, end,
                    f"`{ch.name}()` no longer returns a value (it returns None now), but `{c.caller}` uses its result.",
                    ch.symbol, evidence=[{"path": ch.path, "start_line": ch.start_line, "end_line": ch.end_line},
                                         {"path": c.path, "start_line": c.line, "end_line": end}]))
    gone = {ch.symbol: ch for ch in diff.changed if ch.change == "removed"}
    moved = {m.old_symbol: (m.symbol, m.path, m.line) for m in diff.moved}
    moved.update({c.old_symbol: (c.symbol, c.path, c.start_line) for c in diff.changed if c.old_symbol})
    for u in missing:
        if u.name in moved:
            sym, path, line = moved[u.name]
            why = f"`{u.name}`, which moved to `{sym}` ({path}:{line})"
            fix = f"import it from `{sym.rsplit('.', 1)[0]}`"
        elif u.name in gone:
            g = gone[u.name]
            why = f"`{u.name}`, which was removed ({g.old_path}:{g.old_start_line} in base)"
            fix = ""
        else:
            why = f"module `{u.name}`, which no longer exists"
            fix = ""
        what = "imports" if u.kind == "import" else "calls"
        findings.append(Finding("removed-still-used", "error", u.path, u.line, u.line,
                                f"This line {what} {why}; it will fail at run time.", u.name, suggestion=fix,
                                evidence=[{"path": u.path, "start_line": u.line, "end_line": u.line}]))
    return findings, checked


# -- argument counts in other languages ----------------------------------------------------------

# Languages whose calls always carry parentheses and whose signatures list parameters in them.
ARITY_LANGS = {"go", "typescript", "tsx", "javascript", "java", "rust", "c", "cpp"}
_OPEN, _CLOSE = "([{<", ")]}>"


def _split_top(text: str) -> list[str] | None:
    """Comma-separated items at nesting depth 0 (strings and brackets respected); None when unbalanced."""
    items, depth, cur, quote, i = [], 0, [], "", 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                cur.append(text[i:i + 2])
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "\"'`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                return None
        elif ch == "<" and depth >= 0 and (i + 1 < len(text) and (text[i + 1].isalpha() or text[i + 1] in "'&[(")):
            depth += 1  # a generic parameter list, `Map<K, V>`
        elif ch == ">" and depth > 0 and text[i - 1] != "=":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append("".join(cur).strip())
            cur = []
            i += 1
            continue
        cur.append(ch)
        i += 1
    if quote or depth != 0:
        return None
    last = "".join(cur).strip()
    if last or items:
        items.append(last)
    return [x for x in items if x] if items else []


def _paren_body(text: str, start: int) -> tuple[str, int] | None:
    """The text inside the parenthesis opening at `start`, and the index after its close."""
    depth, quote = 0, ""
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if ch == quote and text[i - 1] != "\\":
                quote = ""
        elif ch in "\"'`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return text[start + 1:i], i + 1
    return None


def _param_range(signature: str, name: str, lang: str, bound: bool) -> tuple[int, float] | None:
    """(required, maximum) number of arguments of a signature; None when it cannot be told."""
    m = re.search(r"(?<![\w$])" + re.escape(name) + r"\s*[<(]", signature)
    if m is None:
        return None
    p = signature.find("(", m.start() + len(name))
    got = _paren_body(signature, p) if p >= 0 else None
    if got is None:
        return None
    params = _split_top(got[0])
    if params is None:
        return None
    if lang in ("c", "cpp") and params == ["void"]:
        params = []
    if lang == "rust" and params and re.match(r"^(&\s*(mut\s+)?|mut\s+)?self\b", params[0]):
        params = params[1:] if bound else params
    required, maximum = 0, 0.0
    for prm in params:
        if "..." in prm or prm.startswith(("params ",)):
            return required, float("inf")
        maximum += 1
        optional = "=" in prm.replace("=>", "").replace("==", "") or re.match(r"^[\w$]+\s*\?", prm)
        if not optional:
            required += 1
    return required, maximum


def _call_args(lines: list[str], line: int, column: int, name: str) -> int | None:
    """How many arguments the call of `name` at (line, column) passes; None when it cannot be told."""
    text = "\n".join(lines[line - 1:line + 40])
    i = len(lines[line - 1][: column - 1]) + len(name)
    j = i
    while j < len(text) and text[j] in " \t\n":
        j += 1
    if j < len(text) and (text[j] == "<" or text[j:j + 3] == "::<"):  # explicit type arguments
        j = text.find("(", j)
    if j < 0 or j >= len(text) or text[j] != "(":
        return None
    got = _paren_body(text, j)
    if got is None:
        return None
    args = _split_top(got[0])
    if args is None or any(a.startswith(("...", "*")) and not a.startswith("**") for a in args):
        return None
    return len(args)


def _arity(ch: SymbolChange, head: Repo, files: _Files, calls: list[Call], findings: list[Finding],
           checked: set[tuple[str, str, int, int]]) -> None:
    overloads = head.conn.execute("SELECT COUNT(*) FROM symbols WHERE qualname = ?", (ch.symbol,)).fetchone()[0]
    if overloads != 1 or ch.kind not in ("function", "method"):
        return
    for c in calls:
        if c.resolution != "resolved":
            continue
        lines = files.lines(c.path)
        if not 0 < c.line <= len(lines):
            continue
        text = lines[c.line - 1]
        bound = text[: c.column - 1].rstrip().endswith(".")
        new = _param_range(ch.signature, ch.name, ch.lang, bound)
        old = _param_range(ch.old_signature, ch.name, ch.lang, bound)
        called = re.match(r"[\w$]+", text[c.column - 1:])  # the name as called: an import alias, maybe
        n = _call_args(lines, c.line, c.column, called.group()) if called else None
        if new is None or old is None or n is None:
            continue
        checked.add((ch.symbol, c.path, c.line, c.column))
        fits_new = new[0] <= n <= new[1]
        if fits_new or not old[0] <= n <= old[1]:
            continue
        want = f"{new[0]}" if new[0] == new[1] else f"{new[0]} to {new[1]:g}" if new[1] != float("inf") else f"at least {new[0]}"
        findings.append(Finding(
            "call-signature", "error", c.path, c.line, c.line,
            f"`{ch.name}()` now takes {want} argument{'s' * (want != '1')} but this call in `{c.caller}` passes {n}: "
            f"its signature changed to `{ch.signature}` (was `{ch.old_signature}`).",
            ch.symbol, evidence=[{"path": ch.path, "start_line": ch.start_line, "end_line": ch.start_line},
                                 {"path": c.path, "start_line": c.line, "end_line": c.line}]))
