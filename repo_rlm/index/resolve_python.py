"""Tie Python call sites to the definitions they reach: name resolution plus a value-flow pass.

Abstract values: ("mod", module), ("def", qualname: function, method, class or lambda), ("inst",
class), ("super", class), ("ext", dotted name outside the repository), ("builtin", name), ("seq",
element sets), ("dict", (key, set) pairs). An expression evaluates to a set of them. Names are
looked up through enclosing function scopes, module globals, imports (absolute, relative, aliased,
`*`) and builtins; every assignment to a name counts, wherever it is in its scope (flow-insensitive,
no path sensitivity, one context per function, as PyCG). The facts come from pyflow.py: assignments
(unpacking, chained), returns, arguments (positional, keyword, `*`/`**`, defaults), decorators,
containers (literals, constant subscripts, `update`/`append`), attributes (`self.x = f`, class
attributes), `for`/`with`/operators on instances with the matching dunder methods. Values that
reach themselves (a name assigned from itself, functions returning each other's results, modules
importing each other) are computed to a fixed point (PyWorld._fixpoint).

Parameters take the values passed at the call sites of their function. That needs the call graph
itself, so resolution runs in two passes: the first without parameter values, the second only over
the calls whose evaluation reached a parameter, directly or through a value remembered from an
earlier call (`calls.via_params`), with the call sites the first settled without them (values that
did not depend on a parameter are kept from the first). A call site the second pass finds passes
nothing: so no answer depends on the order the second pass meets the calls in, and an update,
which reads the call sites of the files it does not resolve from the index, sees the same ones.
What cannot be evaluated falls back to name matching, labelled `name`; a call that reaches
several definitions (through a parameter bound to several callbacks, say) is labelled `name` too,
one row per target.

Speed: most calls (`f()` of a global def or import, `self.m()`, `mod.f()`) are settled by a fast
path of plain lookups that would find what the evaluator finds (PyWorld._fast); results are shared
by call sites whose callee text and binding scope agree (targets, _anchor).
"""
from __future__ import annotations

import builtins
import gc
import re
import sqlite3
from collections import defaultdict
from sys import intern

from . import resolve_base, store
from .names import absolute_module

BUILTINS = set(dir(builtins))
CLASSISH = {"class"}
FUNCS = {"function", "method", "lambda"}
_PARENS = re.compile(r"\([^()]*\)")
_OPTIONAL = re.compile(r"^(?:typing\.)?Optional\[(.*)\]$")
_EMPTY: dict = {}
_NAME = re.compile(r"[A-Za-z_]\w*")
_HEAD = re.compile(r"[^.(\[]*")  # a callee's first name
_PURE = re.compile(r"([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*|\(\))*)$")  # a name, then attributes and calls
_STEPS = re.compile(r"\.[A-Za-z_]\w*|\(\)")
UNSURE = ("unsure",)  # the fast path cannot tell: the evaluator must
_FIRST = re.compile(r"\s*(\w+)")  # a signature's first parameter (after its "(")
NOTHING: frozenset = frozenset()
HIGHER_ORDER = {"map": "0", "filter": "0", "sorted": "key", "min": "key", "max": "key", "sort": "key",
                "reduce": "0", "apply": "0", "submit": "0", "partial": "0"}
DECORATED = -1  # the offset of a target named through a decorator (see PyWorld._decorated)
MAX_DEPTH = 48  # nested evaluations before giving up on a chain of values
MAX_ROUNDS = 6  # rounds of a cycle's evaluation before its last answer is taken (see PyWorld._fixpoint)
_UNBOUNDED = ("seq", "dict", "ext")  # values that a cycle could grow without end (see _widen)
_CLOSED = 1 << 30  # an answer that depends on no open question
PROTOCOL_KINDS = "'iter', 'with', 'op'"  # binds of `for`, `with` and operators: read once, by _protocol_calls
WORLD_KINDS = "'=', 'return', 'deco', 'type'"  # the binds a world keeps (arguments are read as needed: args_at)


def _widen(value):
    """A cycle's guess for its next round, without containers and values outside the repository.
    Those grow each round without end (`e = e.expand()` on a library's value names
    `e.expand().expand()` the next round; `return (x, f(x))` nests a level deeper), while what a
    cycle is followed for, the repository's definitions, classes and modules, is a finite set."""
    if type(value) is list:
        return value
    return frozenset(v for v in value if v[0] not in _UNBOUNDED)


def _ordered(values) -> list | frozenset:
    """Values in an order that does not follow string hashing, for loops that evaluate each: which
    question of a cycle is asked first, and so what the cycle's answers are, follows it."""
    return values if len(values) < 2 else sorted(values, key=_order)


def _order(v) -> tuple:
    return v if type(v[1]) is str else (v[0], "")


def site(fid: int, line: int, col: int, offset: int) -> int:
    """A call site as one int: a function's call sites are a set of millions on a large repository,
    and a tuple of four ints takes about four times the memory."""
    return (((fid << 32 | line) << 32 | col) << 1) | offset


def unsite(key: int) -> tuple[int, int, int, int]:
    return key >> 65, (key >> 33) & 0xFFFFFFFF, (key >> 1) & 0xFFFFFFFF, key & 1


# -- the flow expression language (see pyflow.py) ---------------------------------------------

def parse_flow(text: str):
    """A flow expression as a tree: ("name", n) ("raw", n) ("attr", e, a) ("call", e) ("sub", e, key, e_text)
    ("seq", [e]) ("dict", [(key, e)]) ("alt", [e]) ("unk",)."""
    try:
        node, i = _alt(text, 0)
    except (IndexError, ValueError):
        return ("unk",)
    return node if i == len(text) else ("unk",)


def _alt(s: str, i: int):
    items = []
    node, i = _post(s, i)
    items.append(node)
    while i < len(s) and s[i] == "|":
        node, i = _post(s, i + 1)
        items.append(node)
    return (items[0] if len(items) == 1 else ("alt", tuple(items))), i


_IDENT = re.compile(r"[A-Za-z_][\w]*|<lambda\d+>")
_KEYRX = re.compile(r'"[^"]*"|\d+:|\d+|\*\*|\*|@')


def _post(s: str, i: int):
    start = i
    node, i = _atom(s, i)
    while i < len(s):
        c = s[i]
        if c == "." and (m := _IDENT.match(s, i + 1)):
            node, i = ("attr", node, m.group()), m.end()
        elif s.startswith("()", i):
            node, i = ("call", node), i + 2
        elif c == "[":
            m = _KEYRX.match(s, i + 1)
            if not m or s[m.end()] != "]":
                raise ValueError(s)
            node, i = ("sub", node, m.group(), s[start:i]), m.end() + 1
        else:
            break
    return node, i


def _atom(s: str, i: int):
    c = s[i]
    if c == "(":
        node, i = _alt(s, i + 1)
        if s[i] != ")":
            raise ValueError(s)
        return node, i + 1
    if c == "[":
        items, i = [], i + 1
        while s[i] != "]":
            star = s[i] == "*"
            node, i = _alt(s, i + 1 if star else i)
            items.append(("sub", node, "@", "") if star else node)
            if s[i] == ",":
                i += 1
        return ("seq", tuple(items)), i + 1
    if c == "{":
        items, i = [], i + 1
        while s[i] != "}":
            m = _KEYRX.match(s, i)
            if not m or s[m.end()] != ":":
                raise ValueError(s)
            node, i = _alt(s, m.end() + 1)
            items.append((m.group(), node))
            if s[i] == ",":
                i += 1
        return ("dict", tuple(items)), i + 1
    if c == "?":
        return ("unk",), i + 1
    if c == "!":
        m = _IDENT.match(s, i + 1)
        return ("raw", m.group()), m.end()
    m = _IDENT.match(s, i)
    if not m:
        raise ValueError(s)
    return ("name", m.group()), m.end()


def params_of(sig: str) -> list[tuple[str, str]]:
    """[(name, kind)] from a signature: kind is `pos`, `kw` (keyword-only), `*` or `**`."""
    if sig.startswith("lambda"):
        inner = sig[6:]
    else:
        start = sig.find("(")
        if start < 0:
            return []
        depth, end = 0, len(sig)
        for j in range(start, len(sig)):
            depth += sig[j] in "([{"
            depth -= sig[j] in ")]}"
            if depth == 0:
                end = j
                break
        inner = sig[start + 1:end]
    if not any(b in inner for b in "([{"):  # the common case: no brackets in annotations or defaults
        parts = inner.split(",")
    else:
        parts = _split_top(inner)
    out, kwonly = [], False
    for p in parts:
        p = p.split("=", 1)[0].split(":", 1)[0].strip()
        if p in ("", "/"):
            continue
        if p == "*":
            kwonly = True
        elif p.startswith("**"):
            out.append((p[2:], "**"))
        elif p.startswith("*"):
            out.append((p[1:], "*"))
            kwonly = True
        elif p.isidentifier():
            out.append((p, "kw" if kwonly else "pos"))
    return out


def _split_top(inner: str) -> list[str]:
    """Split at commas outside brackets."""
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


class PyWorld:
    """What the resolver knows about the repository's Python code.

    A few files' worth (an editor's save) is loaded lazily, per file, as evaluation reaches it;
    a bulk update loads everything with a few SELECTs instead.
    """

    def __init__(self, conn: sqlite3.Connection, bulk: bool = False) -> None:
        self.conn = conn
        self.file_module: dict[int, str] = {}
        self.file_is_init: dict[int, bool] = {}
        self.mod_file: dict[str, int] = {}
        for fid, path, module in conn.execute("SELECT id, path, module FROM files WHERE lang='python'"):
            self.file_module[fid] = module
            self.file_is_init[fid] = path.endswith("__init__.py")
            self.mod_file.setdefault(module, fid)
        self.modules = set(self.mod_file)  # modules and the packages above them
        for m in self.mod_file:
            parts = m.split(".")
            for i in range(1, len(parts)):
                self.modules.add(".".join(parts[:i]))
        self.sym: dict[int, tuple] = {}  # id -> (file_id, parent_id, name, qualname, kind, signature)
        self.members: dict[str, dict[str, str]] = defaultdict(dict)
        self.qual_kind: dict[str, str] = {}
        self.qual_id: dict[str, int] = {}
        self.imports: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        self.stars: dict[tuple, list] = defaultdict(list)
        self.import_rows: dict[int, list[tuple]] = defaultdict(list)
        self.types: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))  # annotations
        self.assigns: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))  # (fid, scope) -> name -> [expr]
        self.attr_facts: dict[str, list[tuple]] = defaultdict(list)  # attr -> [(fid, scope, base tree, value)]
        self.sub_facts: dict[tuple, list[tuple]] = defaultdict(list)  # (fid, base text) -> [(key, value, scope)]
        self.returns: dict[int, list[str]] = defaultdict(list)  # function id -> [expr]
        self.args: dict[tuple, dict[str, tuple]] = {}  # (fid, line, col) -> slot -> (expr, scope)
        self._arg_rows: dict[tuple, list] = defaultdict(list)  # (fid, line) -> [("COL|SLOT", expr, scope)]
        self.decos: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        self.bases: dict[str, list[str]] = defaultdict(list)
        self.base_rows: dict[int, list[tuple]] = defaultdict(list)
        self._mro: dict[str, list[str]] = {}
        self._loaded: set[int] = set()
        self._qual_file: dict[str, int | None] = {}
        self._names: dict[str, bool] = {}
        self._trees: dict[str, tuple] = {}
        self._normal: dict[str, str] = {}
        self._chains: dict[int | None, tuple] = {}
        self._protocols: dict[tuple, list] = {}
        self._visible: dict[int | None, set] = {}
        self._globals: dict[tuple, object] = {}  # (module, name) -> what the fast path knows of it
        self._params: dict[int, list] = {}
        self._param_names: dict[int, set] = {}
        self.wrappers: set[str] = set()  # functions that decorators return in place of the decorated one
        self._bound: dict[int, set] = {}
        self._args_loaded = False  # (bulk) every argument read
        self.callsites: dict[str, set] = defaultdict(set)  # function -> {site(fid, line, col, offset)}
        self.resolving: set[int] = set()  # files resolved whole: their stored calls are no call sites
        self.stored_sites = False  # the calls not resolved here are call sites too: read their stored targets
        self._stored_read: set[str] = set()  # functions whose stored call sites were read
        self.params_known = False  # the second pass: parameters have the values of their call sites
        self.reset()
        self.bulk = bulk
        if bulk:
            self._load("f.lang='python'", ())
            self._loaded = set(self.file_module)
            self._names = {r[0]: True for r in conn.execute(
                "SELECT DISTINCT name FROM symbols WHERE kind IN ('function','method','class')")}

    def reset(self) -> None:
        """Forget every value computed so far."""
        self._memo: dict = {}
        self._memo_args: dict = {}  # evaluating arguments: the caller's own parameters stay unknown
        self._memo_raw: dict = {}  # evaluating with decorators left out: which function a call names
        self._dirty: set = set()  # (memo, key)s whose value depends on parameters' values
        self._stack: dict = {}  # (memo, key) -> depth, for the questions being answered (see _fixpoint)
        self._low = _CLOSED  # the shallowest open question the current answer depends on
        self._guess: dict = {}  # (memo, key) -> its answer so far, for the questions of a cycle
        self._cuts: list = []  # the questions of open cycles whose guesses were used
        self._open: dict = {}  # (memo, key) -> _low, for answers that depend on an open question
        self._undo: list = []  # ... in the order they were found
        self._sites: dict = {}  # (fid, scope, callee) -> what targets() found
        self._anchored: dict = {}  # (fid, anchor, callee) -> the same, shared across scopes
        self.touched = False  # a parameter's value was used (computed or remembered)
        self._depends = False  # a parameter's value was used, computed or memoised
        self._in_args = False
        self._raw = False

    def second_pass(self) -> None:
        """Parameters have values from now on: forget what depended on them, keep the rest."""
        self.params_known = True
        for mode, key in self._dirty:
            if mode == 0:
                self._memo.pop(key, None)
        self._dirty = set()
        self._memo_args, self._memo_raw, self._sites, self._anchored = {}, {}, {}, {}

    def next_file(self) -> None:
        """Call sites of another file from here on. The per-call-site caches are keyed by file
        id, so what they hold for the last file is never asked again; on a large repository
        they were a good part of the resolver's memory."""
        self._sites.clear()
        self._anchored.clear()

    def _load(self, where: str, args: tuple) -> None:
        """The facts of some files (a bulk world: all). Their strings repeat (a kind, a parameter
        list, `self`, `None`): a bulk world keeps each once (intern), a good part of its memory."""
        q, bulk = self.conn.execute, self.bulk
        for sid, fid, parent, name, qual, kind, sig in q(
                "SELECT s.id, s.file_id, s.parent_id, s.name, s.qualname, s.kind, s.signature FROM symbols s "
                f"JOIN files f ON f.id = s.file_id WHERE {where} ORDER BY s.id", args):
            if bulk:
                name, kind, sig = intern(name), intern(kind), intern(sig) if sig else sig
            self.sym[sid] = (fid, parent, name, qual, kind, sig)
            owner = self.sym[parent][3] if parent in self.sym else self.file_module.get(fid, "")
            self.members[owner].setdefault(name, qual)
            self.qual_kind.setdefault(qual, kind)
            self.qual_id.setdefault(qual, sid)
        for iid, fid, scope, module, name, alias, level in q(
                "SELECT i.id, i.file_id, i.scope_id, i.module, i.name, i.alias, i.level FROM imports i "
                f"JOIN files f ON f.id = i.file_id WHERE {where}", args):
            entry = (intern(module), intern(name), intern(alias), level) if bulk else (module, name, alias, level)
            self.import_rows[fid].append((iid,) + entry)
            if name == "*":
                self.stars[(fid, scope)].append(entry)
            else:
                key = alias or (name if name else module.split(".")[0])
                self.imports[(fid, scope)][key].append(entry)
        for fid, scope, name, kind, value, line in q(
                "SELECT b.file_id, b.scope_id, b.name, b.kind, b.value, b.line FROM binds b "
                f"JOIN files f ON f.id = b.file_id WHERE {where} AND b.kind IN ({WORLD_KINDS})", args):
            if bulk:
                name, value = intern(name), intern(value)
            if kind == "=":
                if name.isidentifier():
                    self.assigns[(fid, scope)][name].append(value)
                    continue
                target = self.tree(name)
                if target[0] == "attr":
                    self.attr_facts[target[2]].append((fid, scope, target[1], value))
                elif target[0] == "sub":
                    self.sub_facts[(fid, target[3])].append((target[2], value, scope))
            elif kind == "return":
                self.returns[scope].append(value)
            elif kind == "deco":
                self.decos[(fid, scope)][name].append(value)
            elif kind == "type":
                self.types[(fid, scope)][name].append(value)
        for sid, fid, base in q(
                f"SELECT b.symbol_id, b.file_id, b.base FROM bases b JOIN files f ON f.id=b.file_id WHERE {where}", args):
            if sid in self.sym:
                self.bases[self.sym[sid][3]].append(base)
                self.base_rows[fid].append((sid, base))

    def args_at(self, fid: int, line: int, col: int) -> dict[str, tuple]:
        """slot -> (argument expression, scope) of one call. Arguments are most of the facts and
        only calls of functions whose parameters are needed use them: read when first needed (a
        bulk update reads them all in one SELECT, an editor's save those of the line: a hub's
        callers are hundreds of files, of whose arguments it needs a few)."""
        key = (fid, line, col)
        hit = self.args.get(key)
        if hit is None:
            if self.bulk and not self._args_loaded:
                self._args_loaded = True
                for fid_, scope, name, value, line_ in self.conn.execute(
                        "SELECT file_id, scope_id, name, value, line FROM binds WHERE kind = 'arg'"):
                    self._arg_rows[(fid_, line_)].append((intern(name), intern(value), scope))
            elif not self.bulk and (fid, line) not in self._arg_rows:
                self._arg_rows[(fid, line)] = [(name, value, scope) for scope, name, value in self.conn.execute(
                    "SELECT scope_id, name, value FROM binds WHERE file_id = ? AND line = ? AND kind = 'arg'", (fid, line))]
            hit = self.args[key] = {}
            prefix = f"{col}|"
            for name, value, scope in self._arg_rows.get((fid, line), ()):
                if name.startswith(prefix):
                    hit[name[len(prefix):]] = (value, scope)
        return hit

    def read_stored_sites(self) -> None:
        """A bulk world resolving some of the calls: the call sites elsewhere of the functions the
        files resolved whole define (what their parameters are passed), read in one query."""
        self.stored_sites = True
        whole = self.resolving
        quals = {s[3] for s in self.sym.values() if s[0] in whole and s[4] in FUNCS}
        self._stored_read |= quals  # others' (a function elsewhere whose return reads a parameter): as needed
        self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS site_targets(qual TEXT PRIMARY KEY) WITHOUT ROWID")
        self.conn.executemany("INSERT OR IGNORE INTO site_targets VALUES(?)", ((q,) for q in quals))
        self._add_stored_sites(self.conn.execute(
            "SELECT c.target, c.file_id, c.line, c.col, c.callee_text FROM site_targets t "
            "JOIN calls c ON c.target = t.qual WHERE c.via_params = 0"))
        self.conn.execute("DELETE FROM site_targets")

    def _add_stored_sites(self, rows) -> None:
        """Stored calls (target, file, line, col, callee text) settled without parameters' values and
        not resolved here are call sites, as the first pass's are (see _param_value)."""
        for qual, fid, line, col, text in rows:
            if fid not in self.resolving:
                self.callsites[qual].add(site(fid, line, col, self._stored_offset(qual, text)))

    def ensure_file(self, fid: int | None) -> None:
        if fid is not None and fid not in self._loaded:
            self._loaded.add(fid)
            self._load("f.id = ?", (fid,))

    def ensure_qual(self, qual: str) -> None:
        """Load the file that defines `qual` (a module or a symbol)."""
        if self.bulk or qual in self.qual_id:
            return
        if qual in self.mod_file:
            self.ensure_file(self.mod_file[qual])
            return
        if qual not in self._qual_file:
            row = self.conn.execute("SELECT file_id FROM symbols WHERE qualname = ? LIMIT 1", (qual,)).fetchone()
            self._qual_file[qual] = row[0] if row else None
        self.ensure_file(self._qual_file[qual])

    def kind_of(self, qual: str) -> str | None:
        if not self.bulk:
            self.ensure_qual(qual)
        return self.qual_kind.get(qual)

    def members_of(self, owner: str) -> dict[str, str]:
        if not self.bulk:
            self.ensure_qual(owner)
        return self.members.get(owner, _EMPTY)

    def has_name(self, name: str) -> bool:
        """Is some function, method or class in the repository called this? (for name matching)"""
        if name not in self._names:
            if self.bulk:
                return False
            self._names[name] = self.conn.execute(
                "SELECT 1 FROM symbols WHERE name = ? AND kind IN ('function','method','class') LIMIT 1",
                (name,)).fetchone() is not None
        return self._names[name]

    def tree(self, text: str):
        t = self._trees.get(text)
        if t is None:
            t = self._trees[text] = parse_flow(text)
        return t

    # -- scopes -----------------------------------------------------------------------------

    def chain(self, scope: int | None) -> tuple[int, ...]:
        """The scopes a name is looked up in, innermost first."""
        hit = self._chains.get(scope)
        if hit is None:
            out, sid = [], scope
            while sid is not None and sid in self.sym:
                out.append(sid)
                sid = self.sym[sid][1]
            hit = tuple(out)
            if scope in self.sym:  # (an editor's save loads files as it goes)
                self._chains[scope] = hit
        return hit

    def is_module(self, name: str) -> bool:
        return name in self.modules

    def _class_of(self, chain) -> str:
        for sid in chain:
            if self.sym[sid][4] in CLASSISH:
                return self.sym[sid][3]
        return ""

    # -- evaluation -------------------------------------------------------------------------

    def _memoised(self, key, compute, *args) -> frozenset:
        mode = 2 if self._raw else 1 if self._in_args else 0
        memo = self._memo_raw if mode == 2 else self._memo_args if mode else self._memo
        hit = memo.get(key)
        if hit is not None:
            skey = (mode, key)
        elif mode == 1 and (0, key) not in self._dirty:
            hit = self._memo.get(key)  # what does not depend on parameters holds in arguments too
            skey = (0, key)
        if hit is not None:
            if skey in self._dirty:  # a parameter's value was used: the call needs the second pass
                self._depends = self.touched = True
            if self._open:
                self._low = min(self._low, self._open.get(skey, _CLOSED))
            return hit
        if len(self._stack) > MAX_DEPTH and (mode, key) not in self._stack:
            return NOTHING  # a chain too long to follow: what is known so far
        return self._fixpoint((mode, key), memo, compute, args)

    def _fixpoint(self, skey, memo, compute, args):
        """A value computed and remembered. A computation that reaches its own question again (an
        import cycle, `x = x.copy()`, functions returning each other's results) takes the answer
        guessed so far (at first _empty), and the first question of the cycle is computed again from
        what the last round found until nothing changes (_rounds). What was found inside a
        cycle whose first question is still open is provisional (`_open`; undone with `_undo` when
        a round changes something), so a cycle is walked once a round, not once per question."""
        stack = self._stack
        pos = stack.get(skey)
        if pos is not None:  # a cycle: this question's answer so far
            if pos < self._low:
                self._low = pos
            self._cuts.append(skey)
            return self._guess.get(skey) or self._empty(skey)
        pos = stack[skey] = len(stack)
        low, self._low = self._low, _CLOSED
        depends, self._depends = self._depends, False
        undo, cuts = len(self._undo), len(self._cuts)
        try:
            value = compute(*args)
            if skey[0] < 3:
                value = frozenset(value)
            if self._low == pos:
                value = self._rounds(skey, pos, compute, args, value, undo, cuts)
        finally:
            del stack[skey]
            if self._depends and skey[0] < 3:
                self._dirty.add(skey)
            self._depends = depends or self._depends
        if self._low >= pos:  # settled: so is everything found on the way
            if len(self._undo) > undo:
                for k in self._undo[undo:]:
                    del self._open[k]
                del self._undo[undo:]
            del self._cuts[cuts:]
            self._low = low
        else:
            self._open[skey] = self._low
            self._undo.append(skey)
            if low < self._low:
                self._low = low
        memo[skey[1]] = value
        return value

    def _rounds(self, skey, pos: int, compute, args, value, undo: int, cuts: int):
        """A cycle's first question computed again while the answers its questions were guessed to
        have change (at most MAX_ROUNDS times): a fixed point, so that what a question of the cycle
        finds no longer depends on which of them was asked first (up to _widen and MAX_DEPTH).
        Before, the first question's answer was complete and the others' lacked what came back
        through it: in `x = Node(); x = x.grow()`, `x.grow()` was evaluated while `x` was being
        asked, as nothing, so `x` was only a Node."""
        guessed = []
        for _round in range(1, MAX_ROUNDS):
            changed = []
            for k in dict.fromkeys(self._cuts[cuts:]):
                v = _widen(value if k == skey else self._memo_of(k[0]).get(k[1], self._empty(k)))
                if v != self._guess.get(k, self._empty(k)):
                    changed.append((k, v))
            if not changed:
                break
            for k, v in changed:
                self._guess[k] = v
                guessed.append(k)
            for k in self._undo[undo:]:
                self._memo_of(k[0]).pop(k[1], None)
                del self._open[k]
            del self._undo[undo:], self._cuts[cuts:]
            self._low = _CLOSED
            value = compute(*args)
            if skey[0] < 3:
                value = frozenset(value)
            if self._low != pos:
                break  # the guesses were not needed this time
        for k in guessed:
            self._guess.pop(k, None)
        return value

    def _memo_of(self, mode: int) -> dict:
        return (self._memo, self._memo_args, self._memo_raw, self._mro)[mode]

    @staticmethod
    def _empty(skey) -> object:
        """What a question's answer is before anything is found: nothing, or a class's MRO is itself."""
        return [skey[1]] if skey[0] == 3 else NOTHING

    def lookup(self, name: str, fid: int, chain) -> frozenset:
        return self._memoised(("n", name, fid, chain), self._lookup, name, fid, chain)

    def _lookup(self, name, fid, chain):
        for i, sid in enumerate(chain):
            _f, parent, _n, qual, kind, sig = self.sym[sid]
            if kind in CLASSISH and i > 0:
                continue  # class bodies are not visible from nested functions
            if kind == "method" and parent in self.sym and self.sym[parent][4] in CLASSISH and \
                    sig.partition("(")[2].lstrip().startswith(name):
                params = self.params(sid)
                if params and params[0][0] == name and not self._static(sid):
                    cls = self.sym[parent][3]
                    return {("def", cls)} if name == "cls" or self._classmethod(sid) else {("inst", cls)}
            hit = self._in_scope(name, fid, sid, qual, kind, chain[i:])
            if hit is not None:
                return hit
        hit = self.module_attr(self.file_module.get(fid, ""), name, fid)
        if hit:
            return hit
        if name in BUILTINS:
            return {("builtin", name)}
        return NOTHING

    def params(self, sid: int) -> list[tuple[str, str]]:
        hit = self._params.get(sid)
        if hit is None:
            hit = self._params[sid] = params_of(self.sym[sid][5])
            self._param_names[sid] = {p for p, _k in hit}
        return hit

    def _decorators(self, sid: int) -> list[str]:
        fid, parent = self.sym[sid][0], self.sym[sid][1]
        return self.decos.get((fid, parent), _EMPTY).get(self.sym[sid][2], [])

    def _static(self, sid: int) -> bool:
        return "staticmethod" in self._decorators(sid)

    def _classmethod(self, sid: int) -> bool:
        return "classmethod" in self._decorators(sid)

    def bound(self, fid: int, scope: int) -> set[str]:
        """The names a function or class scope binds: definitions, assignments, imports, annotations, parameters."""
        names = self._bound.get(scope)
        if names is None:
            names = set(self.members_of(self.sym[scope][3]))
            for table in (self.assigns, self.imports, self.types):
                names.update(table.get((fid, scope), _EMPTY))
            if self.sym[scope][4] in FUNCS:
                names.update(p for p, _k in self.params(scope))
            self._bound[scope] = names
        return names

    def visible(self, fid: int, scope: int | None) -> set[str]:
        """The names bound in the scopes a lookup from `scope` walks (any other is a global or a builtin)."""
        names = self._visible.get(scope)
        if names is None:
            names = set()
            for i, sid in enumerate(self.chain(scope)):
                if i == 0 or self.sym[sid][4] not in CLASSISH:
                    names |= self.bound(fid, sid)
            self._visible[scope] = names
        return names

    def _in_scope(self, name, fid, scope, qual, kind, chain):
        """The values `name` has in one function or class scope, or None if the scope does not bind it."""
        if name not in self.bound(fid, scope):
            return None
        out: set = set()
        bound = False
        q = self.members_of(qual).get(name)
        if q is not None:
            bound = True
            out |= self.def_value(q)
        exprs = self.assigns.get((fid, scope), _EMPTY).get(name)
        if exprs:
            bound = True
            for e in exprs:
                out |= self.ev(self.tree(e), fid, chain)
        imps = self.imports.get((fid, scope), _EMPTY).get(name)
        if imps:
            bound = True
            out |= self.import_value(imps[-1], fid)
        types = self.types.get((fid, scope), _EMPTY).get(name)
        if types:
            bound = True
            out |= self.type_value(types[-1], fid, chain)
        if kind in FUNCS and not types:
            params = self.params(scope)
            if name in self._param_names[scope]:
                bound = True
                out |= self.param_value(scope, name, params)
        return out if bound else None

    def def_value(self, qual: str) -> frozenset:
        """A definition as a value: functions and classes themselves, a decorated function as what its
        decorators return (the wrapper), a module- or class-level variable as what is assigned to it."""
        return self._memoised(("d", qual), self._def_value, qual)

    def _def_value(self, qual):
        kind = self.kind_of(qual)
        sid = self.qual_id.get(qual)
        if sid is None:
            return set()
        fid, parent = self.sym[sid][0], self.sym[sid][1]
        if kind in ("variable", "constant"):
            out = set()
            for e in self.assigns.get((fid, parent), _EMPTY).get(self.sym[sid][2], ()):
                out |= self.ev(self.tree(e), fid, self.chain(parent))
            return out
        cur = {("def", qual)}
        for d in reversed(self._decorators(sid) if not self._raw else ()):
            new = set()
            for v in _ordered(self.ev(self.tree(d), fid, self.chain(parent))):
                if v[0] != "def" or self.kind_of(v[1]) not in FUNCS:
                    continue  # a class, a builtin (`property`), something outside: the function stays
                dsid = self.qual_id.get(v[1])
                params = self.params(dsid) if dsid is not None else []
                for r in self.returns.get(dsid, ()):
                    if params and r == params[0][0]:
                        new |= cur  # `return fn`: the function itself
                    else:
                        new |= {x for x in self.ev(self.tree(r), self.sym[dsid][0], self.chain(dsid))
                                if x[0] == "def"}
            cur = new or cur
        if cur != {("def", qual)}:
            self.wrappers.update(v[1] for v in cur if v[0] == "def")
        return cur

    def type_value(self, text: str, fid: int, chain) -> set:
        text = text.strip("'\"")
        m = _OPTIONAL.match(text)
        if m:
            text = m.group(1)
        text = text.split("|")[0] if text.endswith("|None") else text
        if not re.fullmatch(r"[A-Za-z_][\w.]*", text):
            return set()
        return {("inst", v[1]) for v in self.ev(self.tree(text), fid, chain)
                if v[0] == "def" and self.kind_of(v[1]) in CLASSISH}

    def param_value(self, scope: int, name: str, params: list) -> frozenset:
        """What the call sites of a function pass for one parameter: those the first pass settled
        without parameters' values (and the stored ones: via_params = 0), so that no answer of the
        second pass depends on the order it found others in."""
        self.touched = self._depends = True
        if not self.params_known or self._in_args:
            return NOTHING
        self._in_args = True  # one level: arguments that are the caller's own parameters stay unknown
        try:
            return self._memoised(("p", scope, name), self._param_value, scope, name, params)
        finally:
            self._in_args = False

    def _param_value(self, scope, name, params):
        qual = self.sym[scope][3]
        out: set = set()
        kinds = dict(params)
        index = [p for p, k in params if k == "pos"]
        if self.stored_sites and qual not in self._stored_read:
            self._stored_read.add(qual)
            self._add_stored_sites(self.conn.execute(
                "SELECT target, file_id, line, col, callee_text FROM calls WHERE target = ? AND via_params = 0", (qual,)))
        for key in list(self.callsites.get(qual, ())):
            fid, line, col, offset = unsite(key)
            self.ensure_file(fid)
            args = self.args_at(fid, line, col)
            if not args:
                continue
            if kinds[name] == "*":
                start = len(index) - offset
                elems = [self._arg(args[str(i)], fid) for i in range(max(0, start), 64) if str(i) in args]
                out.add(("seq", tuple(elems)))
            elif kinds[name] == "**":
                named = {p for p, _k in params}
                out.add(("dict", tuple((f'"{k}"', self._arg(v, fid)) for k, v in args.items()
                                       if not k.isdigit() and k not in ("*", "**") and k not in named)))
            else:
                if name in args:
                    out |= self._arg(args[name], fid)
                if name in index and str(index.index(name) - offset) in args:
                    out |= self._arg(args[str(index.index(name) - offset)], fid)
        return out

    def _stored_offset(self, qual: str, text: str) -> int:
        """The implicit first argument of a stored call site (as `_targets` decides it): a class call
        reaching `__init__`, or a method called on something (`mod.f(x)` binds none)."""
        if qual.endswith(".__init__"):
            return 1
        sid = self.qual_id.get(qual) if self.kind_of(qual) == "method" else None
        return int("." in text and sid is not None and not self._static(sid))

    def _arg(self, arg: tuple, fid: int) -> frozenset:
        value, scope = arg
        return frozenset(self.ev(self.tree(value), fid, self.chain(scope)))

    def module_attr(self, module: str, name: str, fid: int | None = None) -> frozenset:
        """What `module.name` is: a definition, an imported name, a global binding or a submodule."""
        return self._memoised(("m", module, name), self._module_attr, module, name, fid)

    def _module_attr(self, module, name, fid):
        out: set = set()
        q = self.members_of(module).get(name)
        if q is not None:
            out |= self.def_value(q)
            if self.kind_of(q) not in ("variable", "constant"):
                return out
        mfid = self.mod_file.get(module, fid if fid is not None and self.file_module.get(fid) == module else None)
        self.ensure_file(mfid)
        if mfid is not None:
            imps = self.imports.get((mfid, None), _EMPTY).get(name)
            if imps:
                out |= self.import_value(imps[-1], mfid)
            if q is None:
                for e in self.assigns.get((mfid, None), _EMPTY).get(name, ()):
                    out |= self.ev(self.tree(e), mfid, ())
            if out:
                return out
            for star in self.stars.get((mfid, None), ()):
                target = self.absolute(star[0], star[3], mfid)
                if self.is_module(target):
                    hit = self.module_attr(target, name)
                    if hit:
                        return hit
        sub = f"{module}.{name}" if module else name
        if self.is_module(sub):
            return {("mod", sub)}
        return out

    def absolute(self, module: str, level: int, fid: int) -> str:
        return absolute_module(self.file_module.get(fid, ""), "__init__.py" if self.file_is_init.get(fid) else "",
                               module, level)

    def import_value(self, entry, fid) -> frozenset:
        module, name, alias, level = entry
        full = self.absolute(module, level, fid)
        if not name:  # import a.b.c  /  import a.b as x
            target = full if alias else full.split(".")[0]
            return frozenset({("mod", target) if self.is_module(target) else ("ext", target)})
        sub = f"{full}.{name}" if full else name
        if self.is_module(sub):
            return frozenset({("mod", sub)})
        if self.is_module(full):
            return self.module_attr(full, name)
        return frozenset({("ext", sub)})

    def attr(self, v, name: str, fid: int, chain) -> frozenset:
        tag = v[0]
        if tag == "mod":
            return self.module_attr(v[1], name)
        if tag == "ext":
            return frozenset({("ext", f"{v[1]}.{name}")})
        if tag in ("def", "inst") and self.kind_of(v[1]) in CLASSISH:
            return self._memoised(("a", v, name), self._class_attr, v[1], name)
        if tag == "super":
            for cls in self.mro(v[1])[1:]:
                q = self.members_of(cls).get(name)
                if q is not None:
                    return self.def_value(q)
        return NOTHING

    def _class_attr(self, cls: str, name: str):
        for k in self.mro(cls):
            out: set = set()
            q = self.members_of(k).get(name)
            if q is not None:
                out |= self.def_value(q)
            for fid, scope, base, value in self.attr_facts.get(name, ()):
                chain = self.chain(scope)
                bases = self.ev(base, fid, chain)
                if ("inst", k) in bases or ("def", k) in bases:
                    out |= self.ev(self.tree(value), fid, chain)
            if out:
                return out
        return ()

    def member(self, cls: str, name: str) -> str | None:
        for k in self.mro(cls):
            q = self.members_of(k).get(name)
            if q is not None:
                return q
        return None

    def mro(self, cls: str) -> list[str]:
        hit = self._mro.get(cls)
        if hit is not None:
            if self._open:
                self._low = min(self._low, self._open.get((3, cls), _CLOSED))
            return hit
        return self._fixpoint((3, cls), self._mro, self._find_mro, (cls,))

    def _find_mro(self, cls: str) -> list[str]:
        out = [cls]
        self.ensure_qual(cls)
        sid = self.qual_id.get(cls)
        if sid is not None:
            fid = self.sym[sid][0]
            chain = self.chain(self.sym[sid][1])
            for base in self.bases.get(cls, ()):
                for v in _ordered(self.ev(self.tree(_PARENS.sub("()", base)), fid, chain)):
                    if v[0] == "def" and self.kind_of(v[1]) in CLASSISH:
                        out.extend(k for k in self.mro(v[1]) if k not in out)
        return out

    def ev(self, node, fid: int, chain) -> frozenset:
        """The values of a flow expression (a tree from parse_flow) in a scope."""
        tag = node[0]
        if tag == "name":
            return self.lookup(node[1], fid, chain)
        return self._memoised(("e", node, fid, chain), self._ev, node, fid, chain)

    def _ev(self, node, fid, chain):
        tag = node[0]
        if tag == "attr":
            out = set()
            for v in _ordered(self.ev(node[1], fid, chain)):
                out |= self.attr(v, node[2], fid, chain)
            return out
        if tag == "call":
            out = set()
            for v in _ordered(self.ev(node[1], fid, chain)):
                if v == ("builtin", "super"):
                    out.add(("super", self._class_of(chain)))
                else:
                    out |= self.call_result(v)
            return out
        if tag == "sub":
            return self._subscript(node, fid, chain)
        if tag == "seq":
            return {("seq", tuple(self.ev(e, fid, chain) for e in node[1]))}
        if tag == "dict":
            return {("dict", tuple((k, self.ev(e, fid, chain)) for k, e in node[1]))}
        if tag == "alt":
            out = set()
            for e in node[1]:
                out |= self.ev(e, fid, chain)
            return out
        if tag == "raw":
            for sid in chain:
                if self.sym[sid][4] not in CLASSISH or sid == chain[0]:
                    q = self.members_of(self.sym[sid][3]).get(node[1])
                    if q:
                        return {("def", q)}
            q = self.members_of(self.file_module.get(fid, "")).get(node[1])
            return {("def", q)} if q else set()
        return set()

    def _subscript(self, node, fid, chain):
        _t, base, key, text = node
        out = set()
        for v in _ordered(self.ev(base, fid, chain)):
            out |= self.elements(v, key)
        if text and (fid, text) in self.sub_facts:
            out |= self._memoised(("w", fid, text, key), self._written, fid, text, key)
        return out

    def _written(self, fid: int, text: str, key: str) -> set:
        """What assignments to `text[...]` anywhere in the file put where `text[key]` reads."""
        written: set = set()
        for k2, value, scope in self.sub_facts[(fid, text)]:
            if k2 == key or k2 == "*" or key in ("*", "@") or key.endswith(":"):
                written |= self.ev(self.tree(value), fid, self.chain(scope))
        if written and key.endswith(":"):  # a slice of a list written to is a list of those
            written = {("seq", (frozenset(written),))}
        return written

    def elements(self, v, key: str) -> set:
        tag = v[0]
        if tag == "seq":
            elems = v[1]
            if key.isdigit():
                i = int(key)
                return set(elems[i]) if i < len(elems) else set()
            if key.endswith(":") and key[:-1].isdigit():
                return {("seq", elems[int(key[:-1]):])}
            return set().union(*elems) if elems else set()
        if tag == "dict":
            if key.startswith('"'):
                return set().union(*(s for k, s in v[1] if k == key or k == "*"), set())
            return set().union(*(s for _k, s in v[1]), set()) if key != "@" else set()
        if tag == "inst" and key == "@":
            out = set()
            for it in self.call_result(("def", self.member(v[1], "__iter__") or "")) if self.member(v[1], "__iter__") else ():
                nxt = self.member(it[1], "__next__") if it[0] == "inst" else None
                if nxt:
                    out |= self.call_result(("def", nxt))
            return out
        return set()

    def call_result(self, v) -> frozenset:
        tag, x = v[0], v[1]
        if tag == "def":
            kind = self.kind_of(x)
            if kind in CLASSISH:
                return frozenset({("inst", x)})
            if kind in FUNCS:
                return self._memoised(("r", x), self._returns, x)
        elif tag == "inst":
            call = self.member(x, "__call__")
            if call:
                return self.call_result(("def", call))
        elif tag == "ext":
            return frozenset({("ext", x + "()")})
        return NOTHING

    def _returns(self, qual):
        sid = self.qual_id.get(qual)
        out = set()
        if sid is None:
            return out
        fid = self.sym[sid][0]
        chain = self.chain(sid)
        for r in self.returns.get(sid, ()):
            out |= self.ev(self.tree(r), fid, chain)
        return out

    # -- call sites -------------------------------------------------------------------------

    def callee_targets(self, v) -> list[str]:
        """The qualnames calling this value runs: a function, a class's `__init__` (or the class
        when it has none here), an instance's `__call__`; `<builtin>.x` / `<external>.x` outside."""
        tag, x = v[0], v[1]
        if tag == "def":
            kind = self.kind_of(x)
            if kind in CLASSISH:
                return [self.member(x, "__init__") or x]
            if kind in FUNCS:
                return [x]
        elif tag == "inst":
            call = self.member(x, "__call__")
            return [call] if call else []
        elif tag == "ext":
            return [f"<external>.{x}"]
        elif tag == "builtin":
            return [f"<builtin>.{x}"]
        return []

    def targets(self, callee: str, name: str, fid: int, scope: int | None, line: int, col: int):
        """([(target, offset)], resolution) for one call site; offset 1 when the first parameter is
        bound implicitly (`obj.m()`, `Cls()` reaching `__init__`). The same callee text in the same
        scope reaches the same definitions (flow-insensitive): computed once a pass, and shared by
        the scopes whose first name means the same (see _anchor)."""
        key = (fid, scope, callee)
        hit = self._sites.get(key)
        if hit is None:
            akey = (fid, self._anchor(callee, fid, scope), callee)
            hit = self._anchored.get(akey)
            if hit is None:
                hit = self._anchored[akey] = self._site(callee, name, fid, scope, akey[1])
            self._sites[key] = hit
        found, touched, out, named = hit
        self.touched = self.touched or touched
        # builtins and library functions that call a function they are given (`map(f, xs)`, `key=f`)
        hof = HIGHER_ORDER.get(name)
        if hof and any(t.startswith("<") for t, _o in out):
            arg = self.args_at(fid, line, col).get(hof)
            if arg:
                more = list(out)
                for v in sorted(self._arg(arg, fid), key=repr):
                    for t in self.callee_targets(v):
                        if not t.startswith("<") and (t, 0) not in more:
                            more.append((t, 0))
                if len(more) > len(out):
                    return self._settle(more, (), named, callee, name)
        return found

    def _site(self, callee: str, name: str, fid: int, scope: int | None, anchor) -> tuple:
        """(row(s), touched, targets, decorated) for a callee in a scope."""
        text = self.normal(callee)
        fast = self._fast(text, name, fid, scope, anchor)
        if fast is not None:
            return fast[0], False, fast[1], []
        touched, self.touched = self.touched, False
        out, values = self._targets(text, fid, scope)
        named = self._decorated(text, fid, scope, out)
        hit = (self._settle(out, values, named, callee, name), self.touched, out, named)
        self.touched = touched or self.touched
        return hit

    # -- the fast path: most calls need no value flow -----------------------------------------

    def _fast(self, text: str, name: str, fid: int, scope: int | None, anchor):
        """(row(s), targets) of a call whose callee is a name followed by attributes and calls
        (`f`, `self.m`, `mod.Cls().run`), when every step has at most one value found by plain
        lookups: a name bound only by a def, class or import (global or local), `self`/`cls`, a
        module's member, a class's method (no decorators, no attribute assigned by that name anywhere). The evaluator
        would find the same; None sends the call to it."""
        m = _PURE.match(text)
        if not m or m.group(1) == "super":
            return None
        head = m.group(1)
        if anchor is None:  # not bound in an enclosing function or class (see _anchor)
            v = self._global(self.file_module.get(fid, ""), head)
            if v is None and head in BUILTINS:
                v = ("builtin", head)
        elif type(anchor) is tuple:  # self / cls
            values = self.lookup(head, fid, self.chain(scope))
            v = next(iter(values)) if len(values) == 1 else UNSURE
        else:  # bound in an enclosing scope: plain when only by a def or an import there
            v = self._local(head, fid, anchor)
        base = via_attr = None
        for step in _STEPS.findall(m.group(2)):
            if v is UNSURE:
                return None
            base, via_attr = v, step != "()"
            v = self._fast_call(v) if step == "()" else self._fast_attr(v, step[1:])
        if v is UNSURE or v == ("builtin", "super"):
            return None
        out: list[tuple[str, int]] = []
        for t in self.callee_targets(v) if v is not None else ():
            if t in self.wrappers:
                return None
            offset = 1 if (t != v[1] and self.kind_of(t) in FUNCS) else 0  # __init__ / __call__
            if via_attr and base is not None and v[0] == "def" and \
                    base[0] in ("inst", "super") and self.kind_of(t) == "method" and not self._static(self.qual_id[t]):
                offset = 1
            if (t, offset) not in out:
                out.append((t, offset))
        return self._settle(out, (v,) if v is not None else (), [], text, name), out

    def _certain_def(self, qual: str):
        """A function or class without decorators as a value; UNSURE for anything else."""
        sid = self.qual_id.get(qual)
        kind = self.kind_of(qual)
        if sid is None or not (kind in FUNCS or kind in CLASSISH) or self._decorators(sid):
            return UNSURE
        return ("def", qual)

    def _global(self, module: str, name: str):
        """What `module.name` is, when one def, class, import or submodule settles it: a value, None
        (nothing) or UNSURE (the evaluator must say)."""
        key = (module, name)
        hit = self._globals.get(key, self)
        if hit is self:
            self._globals[key] = UNSURE  # an import cycle
            hit = self._globals[key] = self._find_global(module, name)
        return hit

    def _find_global(self, module: str, name: str):
        q = self.members_of(module).get(name)
        if q is not None:
            return self._certain_def(q)
        mfid = self.mod_file.get(module)
        if mfid is None:
            return UNSURE
        self.ensure_file(mfid)
        if self.assigns.get((mfid, None), _EMPTY).get(name):
            return UNSURE
        imps = self.imports.get((mfid, None), _EMPTY).get(name)
        if imps:
            return self._fast_import(imps[-1], mfid)
        if self.stars.get((mfid, None)):
            return UNSURE
        sub = f"{module}.{name}" if module else name
        return ("mod", sub) if self.is_module(sub) else None

    def _fast_import(self, entry: tuple, fid: int):
        """What an import binds (see import_value), or UNSURE."""
        mod, imported, alias, level = entry
        full = self.absolute(mod, level, fid)
        if not imported:  # import a.b.c  /  import a.b as x
            target = full if alias else full.split(".")[0]
            return ("mod", target) if self.is_module(target) else ("ext", target)
        sub = f"{full}.{imported}" if full else imported
        if self.is_module(sub):
            return ("mod", sub)
        if self.is_module(full):
            v = self._global(full, imported)
            return UNSURE if v is None else v
        return ("ext", sub)

    def _local(self, name: str, fid: int, sid: int):
        """What `name` is in the function or class scope that binds it (see _in_scope), when that is
        one undecorated def or one import and nothing else; else UNSURE."""
        key = (fid, sid)
        if name in self.assigns.get(key, _EMPTY) or name in self.types.get(key, _EMPTY) or \
                (self.sym[sid][4] in FUNCS and any(p == name for p, _k in self.params(sid))):
            return UNSURE
        q = self.members_of(self.sym[sid][3]).get(name)
        imps = self.imports.get(key, _EMPTY).get(name)
        if q is not None:
            return UNSURE if imps else self._certain_def(q)
        return self._fast_import(imps[-1], fid) if imps else UNSURE

    def _fast_attr(self, v, name: str):
        if v is None:
            return None
        tag, x = v
        if tag == "mod":
            return self._global(x, name)
        if tag == "ext":
            return ("ext", f"{x}.{name}")
        if tag in ("def", "inst") and self.kind_of(x) in CLASSISH:
            if name in self.attr_facts:
                return UNSURE
            for k in self.mro(x):
                q = self.members_of(k).get(name)
                if q is not None:
                    return self._certain_def(q)
            return None
        return None if tag in ("def", "builtin") else UNSURE

    def _fast_call(self, v):
        if v is None:
            return None
        tag, x = v
        if tag == "def":
            return ("inst", x) if self.kind_of(x) in CLASSISH else UNSURE
        if tag == "ext":
            return ("ext", x + "()")
        if tag == "inst":
            return UNSURE if self.member(x, "__call__") else None
        return None if tag in ("mod", "builtin") and v != ("builtin", "super") else UNSURE

    def normal(self, callee: str) -> str:
        """A callee with its arguments left out: `f(a, g(b)).m` is `f().m`."""
        text = self._normal.get(callee)
        if text is None:
            prev, text = None, callee
            while prev != text:
                prev, text = text, _PARENS.sub("()", text)
            self._normal[callee] = text
        return text

    def _settle(self, out: list, values, named: list, callee: str, name: str):
        """The row(s) one call site gets from the values its callee reaches."""
        ours = [o for o in out if not o[0].startswith("<")]
        if ours:
            return ours + named, ("resolved" if len(ours) == 1 else "name")
        if out:
            t = out[0][0]
            return [(t, 0)], ("builtin" if t.startswith("<builtin>") else "external")
        if values and all(v[0] == "mod" for v in values):
            return [(None, 0)], "external"
        if callee.startswith("super()."):  # the base is outside the repository: never the method itself
            return [(f"<external>.{name}", 0)], "external"
        if name.endswith("()") or not self.has_name(name):
            return [(f"<external>.{name}" if not name.endswith("()") else None, 0)], "external"
        return [(None, 0)], "name"

    def _anchor(self, callee: str, fid: int, scope: int | None):
        """What a callee's value depends on besides the file: the scope that binds its first name
        (`self`: the class; `super`: the class; a global or builtin: none), so that call sites in
        different functions share one evaluation."""
        head = _HEAD.match(callee).group()
        self.ensure_file(fid)
        chain = self.chain(scope)
        if head == "super":
            return ("class", self._class_of(chain))
        if head not in self.visible(fid, scope):
            return None
        for i, sid in enumerate(chain):
            _f, parent, _n, _q, kind, sig = self.sym[sid]
            if kind in CLASSISH and i > 0:
                continue
            if kind == "method" and parent in self.sym and (m := _FIRST.match(sig.partition("(")[2])) and \
                    m.group(1) == head:
                return ("class", parent) if not self._decorators(sid) else sid
            if head in self.bound(fid, sid):
                return sid
        return None

    def _decorated(self, callee: str, fid: int, scope: int | None, out: list) -> list:
        """When a call reaches what a decorator returned, the decorated function it names too, marked
        DECORATED (navigation wants `callers_of(f)` to list `f()`; PyCG's graph leaves the edge out)."""
        if not out or self.wrappers.isdisjoint([t for t, _o in out]):
            return []
        self._raw = True
        try:
            raw = self._targets(callee, fid, scope)[0]
        finally:
            self._raw = False
        return [(t, DECORATED) for t, o in raw if (t, o) not in out and not t.startswith("<")]

    def _targets(self, callee: str, fid: int, scope: int | None) -> tuple[list, frozenset]:
        self.ensure_file(fid)
        callee = self.normal(callee)
        chain = self.chain(scope)
        node = self.tree(callee)
        values = self.ev(node, fid, chain)
        out: list[tuple[str, int]] = []
        via_attr = node[0] == "attr"
        for v in (sorted(values, key=repr) if len(values) > 1 else values):
            for t in self.callee_targets(v):
                offset = 1 if (t != v[1] and self.kind_of(t) in FUNCS) else 0  # __init__ / __call__
                if via_attr and v[0] == "def" and self.kind_of(t) == "method":
                    base = self.ev(node[1], fid, chain)
                    if any(b[0] in ("inst", "super") for b in base) and not (t in self.qual_id and self._static(self.qual_id[t])):
                        offset = 1
                if (t, offset) not in out:
                    out.append((t, offset))
        return out, values

    def add_callsites(self, targets: list, fid: int, line: int, col: int) -> None:
        """Remember a call site of each function it reaches, for the parameters' values."""
        key = None  # packed once, and only for a call reaching a definition here (most reach none)
        for t, offset in targets:
            if t and offset != DECORATED and t[0] != "<":
                if key is None:
                    key = site(fid, line, col, 0)
                self.callsites[t].add(key | offset)

    def param_head(self, callee: str, scope: int | None) -> bool:
        """Is the callee's first name a parameter (not `self`/`cls`) of an enclosing function?"""
        head = _NAME.match(callee)
        if not head:
            return False
        for sid in self.chain(scope):
            if self.sym[sid][4] in FUNCS:
                params = self.params(sid)
                if any(p == head.group() for p, _k in params[1 if self.sym[sid][4] == "method" else 0:]):
                    return True
        return False

    def assigned(self, value: str, fid: int, scope: int | None) -> bool:
        """Is the first name of an operand `self` or assigned in its scope (so worth evaluating)?"""
        head = _NAME.match(value)
        return bool(head) and (head.group() == "self" or head.group() in self.assigns.get((fid, scope), _EMPTY))

    def protocol_targets(self, kind: str, name: str, value: str, fid: int, scope) -> list[tuple[str, str]]:
        """Calls that `for`, `with` and operators make on instances: [(dunder method, its name)]. An
        operand that is one name, its attributes, calls and subscripts depends on where that name is
        bound (see _anchor): scopes that share it share the answer."""
        if not _IDENT.match(value) or "|" in value:
            return self._protocol_targets(kind, name, value, fid, scope)
        key = (fid, self._anchor(value, fid, scope), kind, name, value)
        hit = self._protocols.get(key)
        if hit is None:
            hit = self._protocols[key] = self._protocol_targets(kind, name, value, fid, scope)
        return hit

    def _protocol_targets(self, kind: str, name: str, value: str, fid: int, scope) -> list[tuple[str, str]]:
        out = []
        values = self.ev(self.tree(value), fid, self.chain(scope))
        for v in sorted(values, key=repr) if len(values) > 1 else values:
            if v[0] != "inst":
                continue
            names = {"iter": ("__iter__",), "with": ("__enter__", "__exit__"), "op": (name,)}[kind]
            for n in names:
                q = self.member(v[1], n)
                if q and (q, n) not in out:
                    out.append((q, n))
            if kind == "iter" and self.member(v[1], "__iter__"):
                for it in self.call_result(("def", self.member(v[1], "__iter__"))):
                    q = self.member(it[1], "__next__") if it[0] == "inst" else None
                    if q and (q, "__next__") not in out:
                        out.append((q, "__next__"))
        return out


def resolve_files(conn: sqlite3.Connection, file_ids: list[int], params_only: dict[int, set[int]] | None = None,
                  unresolved_only: list[int] = (), rechecked: dict | None = None) -> None:
    """Resolve the call sites, imports and bases of these files; in the files of `params_only` (file
    id -> definitions, as `calls.caller_id`) only those definitions' calls that needed parameters'
    values (`calls.via_params`): arguments moved elsewhere can move nothing else there; in the
    files of `unresolved_only`, the calls with no target yet (invalidate.carry_targets,
    .recheck_calls), imports and bases; but in a file of `rechecked` (file id -> invalidate.Again:
    from .recheck_calls, or .carry_protocols for a changed file), only the imports, bases, `for`,
    `with` and operators it names.
    The resolver makes millions of small tuples and sets that live until it returns: the cyclic
    garbage collector would walk them again and again for nothing (it took a third of the time),
    so it waits until the end."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        _resolve_files(conn, file_ids, params_only or {}, unresolved_only, rechecked or {})
    finally:
        if enabled:
            gc.enable()


def _resolve_files(conn: sqlite3.Connection, file_ids: list[int], params_only: dict[int, set[int]],
                   unresolved_only: list[int], rechecked: dict) -> None:
    """Two passes (see the module docstring). Call sites are read as they are resolved and their
    targets written as they are settled: on a large repository, a list of every call site and
    every target was the resolver's largest object."""
    bulk = len(file_ids) > resolve_base.BULK
    world = PyWorld(conn, bulk=bulk)
    whole = set(file_ids)
    partly = {fid: scopes for fid, scopes in params_only.items() if fid not in whole}
    fresh = set(unresolved_only) - whole  # new rows: no made rows, no stored targets to skip as call sites
    wanted = whole | set(partly) | fresh
    resolve_base.clear_made(conn, sorted(whole))
    resolve_base.clear_params(conn, partly)
    world.resolving = whole
    if bulk:
        if not whole >= world.file_module.keys():
            world.read_stored_sites()
        rows = conn.execute("SELECT c.id, c.file_id, c.caller_id, c.callee_text, c.name, c.line, c.col, c.target, "
                            "c.resolution, c.via_params FROM calls c JOIN files f ON f.id = c.file_id "
                            f"WHERE f.lang = 'python' AND (f.resolved = 0 OR (f.resolved = {store.PARAMS_ONLY} "
                            "AND c.via_params = 1 AND c.is_new < 2) "
                            f"OR (f.resolved = {store.UNRESOLVED_ONLY} AND c.resolution IS NULL))")
    else:
        # the changed files last, as when their rows were new (Indexer._write_calls keeps them in place): the
        # order moves a few answers at cycles and the depth limit (on sympy's checkout of HEAD~50, 559
        # rows differ from a cold build in file order, 244 this way)
        rows = [r for fid in sorted(wanted, key=lambda f: (f in fresh, f)) for r in conn.execute(
            "SELECT id, file_id, caller_id, callee_text, name, line, col, target, resolution, via_params "
            "FROM calls WHERE file_id=?"
            + (" AND via_params = 1 AND is_new < 2" if fid in partly else " AND resolution IS NULL" if fid in fresh else ""),
            (fid,))]
        world.stored_sites = True  # call sites elsewhere keep their stored targets: read them as needed
    out = resolve_base.CallTargets(conn)  # a target is written where it moved (most of an unchanged file's stay)
    several: dict[int, tuple] = {}  # call id -> what a call reaching several definitions found
    # the first pass: parameters have no values yet; a call that reached one is resolved again
    todo: list[tuple] = []
    pending: dict[int, tuple] = {}  # call id -> its latest result, for the calls resolved again
    stored: dict[int, tuple] = {}  # ... and its stored target, if it had one
    last = None
    for row in rows:
        cid, fid, scope, callee, name, line, col, old_target, old_how, old_via = row
        if fid not in wanted or fid in partly and scope not in partly[fid]:
            continue
        if fid != last:
            world.next_file()
            last = fid
        world.touched = False
        found = world.targets(callee, name, fid, scope, line, col)
        # a parameter was reached: again with parameter values, unless a definition was found
        # already through something else (a method call on a typed or assigned receiver); a call
        # that needed them when its file was resolved whole needs them still
        if world.touched and (found[1] != "resolved" or world.param_head(callee, scope)) or fid in partly:
            todo.append((cid, fid, scope, callee, name, line, col))
            pending[cid] = found
            if old_how is not None:
                stored[cid] = (old_target, old_how, old_via)
        else:
            if found[0][0][0] != old_target or found[1] != old_how or old_via:  # written where it moved
                out.add(found[0][0][0], found[1], cid)
            if len(found[0]) > 1:
                several[cid] = found
            world.add_callsites(found[0], fid, line, col)  # a call site: settled without parameters' values
    extra = _protocol_calls(world, whole | fresh, rechecked)  # from first-pass values: no parameter moves them
    if todo:  # the second pass, with the call sites of the first
        world.second_pass()
        for cid, fid, scope, callee, name, line, col in todo:
            if fid != last:
                world.next_file()
                last = fid
            pending[cid] = world.targets(callee, name, fid, scope, line, col)
    for cid, found in pending.items():
        if stored.get(cid) != (found[0][0][0], found[1], 1):
            out.add(found[0][0][0], found[1], cid, 1)
        if len(found[0]) > 1:
            several[cid] = found
    for cid, (targets, how) in several.items():  # a row per further target, a copy of the call's own
        row = conn.execute("SELECT file_id, caller_id, caller, callee_text, name, line, col, text FROM calls "
                           "WHERE id = ?", (cid,)).fetchone()
        for t, offset in targets[1:]:
            extra.append(row + (t, how, resolve_base.DECORATED if offset == DECORATED else resolve_base.MADE,
                                int(cid in pending)))
    out.finish(extra)
    imports, bases = [], []
    for fid in whole | fresh:
        again = rechecked.get(fid)
        if again is not None and not again.imports and not again.bases:
            continue
        world.ensure_file(fid)
        for iid, module, name, alias, level in world.import_rows.get(fid, ()):
            if again is not None and iid not in again.imports:
                continue
            full = world.absolute(module, level, fid)
            v = world.import_value((module, name, alias, level), fid) if name != "*" else NOTHING
            hit = sorted(x[1] for x in v if x[0] in ("def", "mod"))
            if hit:
                target = hit[0]
            elif (name == "*" or not name) and world.is_module(full):
                target = full
            else:
                target = None
            imports.append((target, iid))
        for sid, base in world.base_rows.get(fid, ()):
            if again is not None and (sid, base) not in again.bases:
                continue
            v = world.ev(world.tree(_PARENS.sub("()", base)), fid, world.chain(world.sym[sid][1]))
            hit = sorted(x[1] for x in v if x[0] == "def")
            bases.append((hit[0] if hit else None, sid, base))
    resolve_base.write_imports_and_bases(conn, imports, bases)


def _protocol_calls(world: PyWorld, files: set[int], only: dict) -> list[tuple]:
    """The calls that `for`, `with` and operators make, from the first pass's values. Their facts
    are read here, as they are used, not kept in the world (a bulk resolve streams them). In the
    files of `only`, just those of its (line, value)s (the others kept theirs: invalidate.recheck_calls)."""
    read = world.conn.execute
    sql = f"SELECT file_id, scope_id, kind, name, value, line FROM binds WHERE kind IN ({PROTOCOL_KINDS})"
    rows = read(sql) if world.bulk else (r for fid in sorted(files) for r in read(f"{sql} AND file_id = ?", (fid,)))
    extra = []
    for fid, scope, kind, name, value, line in rows:
        if fid not in files or (fid in only and (line, value) not in only[fid].protocols):
            continue
        if not world.has_name({"iter": "__iter__", "with": "__enter__"}.get(kind, name)):
            continue  # no class here defines it
        world.ensure_file(fid)
        if kind == "op" and not world.assigned(value, fid, scope):
            continue  # `a + b` on a parameter or a global: too common to follow on one context
        caller = world.sym[scope][3] if scope in world.sym else world.file_module.get(fid, "")
        for target, method in world.protocol_targets(kind, name, value, fid, scope):
            extra.append((fid, scope, caller, f"{value}.{method}", method, line, 1, "", target, "resolved", resolve_base.MADE))
    return extra
