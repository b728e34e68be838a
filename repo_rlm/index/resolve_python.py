"""Tie Python call sites to the definitions they reach, PyCG-style but per expression.

An abstract value is one of: ("mod", module), ("def", qualname), ("inst", class qualname),
("super", class qualname), ("ext", dotted name outside the repository), ("builtin", name), or
None (unknown). A callee expression is evaluated left to right through imports (absolute,
relative, aliased, `*`), enclosing function scopes (closures), module globals, `self`/`cls`,
class hierarchies (first match in the MRO), constructors and typed bindings (`x = Foo()`,
`x: Foo`, `self.x = Foo()`). What cannot be evaluated falls back to name matching, labelled so.
"""
from __future__ import annotations

import builtins
import re
import sqlite3
from collections import defaultdict

BUILTINS = set(dir(builtins))
_PARENS = re.compile(r"\([^()]*\)")
_CHAIN = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\(\))*$")
_OPTIONAL = re.compile(r"^(?:typing\.)?Optional\[(.*)\]$")
_TOKENS = re.compile(r"\.?[A-Za-z_]\w*|\(\)")
_EMPTY: dict = {}
CLASSISH = {"class"}


class PyWorld:
    """What the resolver knows about the repository's Python code.

    A few files' worth (an editor's save) is loaded lazily, per file, as evaluation reaches it;
    a bulk update loads everything in four SELECTs instead.
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
        self.packages = set()
        for m in self.mod_file:
            parts = m.split(".")
            for i in range(1, len(parts)):
                self.packages.add(".".join(parts[:i]))
        self.sym: dict[int, tuple] = {}  # id -> (file_id, parent_id, name, qualname, kind)
        self.members: dict[str, dict[str, str]] = defaultdict(dict)
        self.qual_kind: dict[str, str] = {}
        self.qual_id: dict[str, int] = {}
        # (file_id, scope_id) -> {binding name: [(module, name, alias, level)]}
        self.imports: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        self.stars: dict[tuple, list] = defaultdict(list)
        self.import_rows: dict[int, list[tuple]] = defaultdict(list)
        # (file_id, scope_id) -> {name: [(line, kind, value)]}; class qualname -> {attr: [(kind, value, scope)]}
        self.binds: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        self.attrs: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        self.bases: dict[str, list[str]] = defaultdict(list)
        self.base_rows: dict[int, list[tuple]] = defaultdict(list)
        self._mro: dict[str, list[str]] = {}
        self._modattr: dict[tuple, object] = {}
        self._busy: set = set()
        self._depth = 0
        self._targets: dict[tuple, tuple] = {}
        self._loaded: set[int] = set()
        self._qual_file: dict[str, int | None] = {}
        self._names: dict[str, bool] = {}
        self.bulk = bulk
        if bulk:
            self._load("f.lang='python'", ())
            self._loaded = set(self.file_module)
            self._names = {r[0]: True for r in conn.execute(
                "SELECT DISTINCT name FROM symbols WHERE kind IN ('function','method','class')")}

    def _load(self, where: str, args: tuple) -> None:
        q = self.conn.execute
        for sid, fid, parent, name, qual, kind in q(
                "SELECT s.id, s.file_id, s.parent_id, s.name, s.qualname, s.kind FROM symbols s "
                f"JOIN files f ON f.id = s.file_id WHERE {where} ORDER BY s.id", args):
            self.sym[sid] = (fid, parent, name, qual, kind)
            owner = self.sym[parent][3] if parent in self.sym else self.file_module.get(fid, "")
            self.members[owner].setdefault(name, qual)
            self.qual_kind.setdefault(qual, kind)
            self.qual_id.setdefault(qual, sid)
        for iid, fid, scope, module, name, alias, level in q(
                "SELECT i.id, i.file_id, i.scope_id, i.module, i.name, i.alias, i.level FROM imports i "
                f"JOIN files f ON f.id = i.file_id WHERE {where}", args):
            entry = (module, name, alias, level)
            self.import_rows[fid].append((iid,) + entry)
            if name == "*":
                self.stars[(fid, scope)].append(entry)
            else:
                key = alias or (name if name else module.split(".")[0])
                self.imports[(fid, scope)][key].append(entry)
        for fid, scope, name, kind, value, line in q(
                "SELECT b.file_id, b.scope_id, b.name, b.kind, b.value, b.line FROM binds b "
                f"JOIN files f ON f.id = b.file_id WHERE {where}", args):
            if kind.startswith("self_"):
                method = self.sym.get(scope)
                cls = self.sym.get(method[1]) if method and method[1] is not None else None
                if cls and cls[4] in CLASSISH:
                    self.attrs[cls[3]][name].append((kind[5:], value, scope))
            else:
                self.binds[(fid, scope)][name].append((line, kind, value))
        for sid, fid, base in q(
                f"SELECT b.symbol_id, b.file_id, b.base FROM bases b JOIN files f ON f.id=b.file_id WHERE {where}", args):
            if sid in self.sym:
                self.bases[self.sym[sid][3]].append(base)
                self.base_rows[fid].append((sid, base))

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

    # -- scopes -----------------------------------------------------------------------------

    def chain(self, scope: int | None) -> list[int]:
        out = []
        while scope is not None and scope in self.sym:
            out.append(scope)
            scope = self.sym[scope][1]
        return out

    def is_module(self, name: str) -> bool:
        return name in self.mod_file or name in self.packages

    # -- evaluation -------------------------------------------------------------------------

    def lookup(self, name: str, fid: int, chain: list[int], line: int = 1 << 30):
        for i, sid in enumerate(chain):
            _f, parent, _n, qual, kind = self.sym[sid]
            if kind in CLASSISH and i > 0:
                continue  # class bodies are not visible from nested functions
            if kind == "method" and name in ("self", "cls") and parent in self.sym:
                cls = self.sym[parent][3]
                return ("inst", cls) if name == "self" else ("def", cls)
            hit = self._in_scope(name, fid, sid, qual, line, chain[i:])
            if hit is not None:
                return hit
        module = self.file_module.get(fid, "")
        hit = self.module_attr(module, name, fid)
        if hit is not None:
            return hit
        if name in BUILTINS:
            return ("builtin", name)
        return None

    def _in_scope(self, name, fid, scope, qual, line, chain):
        q = self.members_of(qual).get(name)
        if q is not None:
            return ("def", q)
        binds = self.binds.get((fid, scope), {}).get(name)
        if binds:
            before = [b for b in binds if b[0] <= line] or binds
            return self.bind_value(max(before)[1:], fid, chain, line)
        imps = self.imports.get((fid, scope), {}).get(name)
        if imps:
            return self.import_value(imps[-1], fid)
        return None

    def module_attr(self, module: str, name: str, fid: int | None = None):
        """What `module.name` is: a definition, an imported name, a global binding or a submodule."""
        key = (module, name)
        if key in self._modattr:
            return self._modattr[key]
        if key in self._busy:
            return None
        self._busy.add(key)
        try:
            value = self._module_attr(module, name, fid)
        finally:
            self._busy.discard(key)
        self._modattr[key] = value
        return value

    def _module_attr(self, module, name, fid):
        q = self.members_of(module).get(name)
        if q is not None:
            return ("def", q)
        mfid = self.mod_file.get(module, fid if fid is not None and self.file_module.get(fid) == module else None)
        self.ensure_file(mfid)
        if mfid is not None:
            imps = self.imports.get((mfid, None), {}).get(name)
            if imps:
                return self.import_value(imps[-1], mfid)
            binds = self.binds.get((mfid, None), {}).get(name)
            if binds:
                return self.bind_value(max(binds)[1:], mfid, [], 1 << 30)
            for star in self.stars.get((mfid, None), ()):
                target = self.absolute(star[0], star[3], mfid)
                if self.is_module(target):
                    hit = self.module_attr(target, name)
                    if hit is not None:
                        return hit
        sub = f"{module}.{name}" if module else name
        if self.is_module(sub):
            return ("mod", sub)
        return None

    def absolute(self, module: str, level: int, fid: int) -> str:
        if level == 0:
            return module
        parts = self.file_module.get(fid, "").split(".")
        if not self.file_is_init.get(fid):
            parts = parts[:-1]
        if level > 1:
            parts = parts[: max(0, len(parts) - (level - 1))]
        if module:
            parts.append(module)
        return ".".join(p for p in parts if p)

    def import_value(self, entry, fid):
        module, name, alias, level = entry
        full = self.absolute(module, level, fid)
        if not name:  # import a.b.c  /  import a.b as x
            target = full if alias else full.split(".")[0]
            return ("mod", target) if self.is_module(target) else ("ext", target)
        if self.is_module(f"{full}.{name}" if full else name):
            return ("mod", f"{full}.{name}" if full else name)
        if self.is_module(full):
            return self.module_attr(full, name)
        return ("ext", f"{full}.{name}")

    def bind_value(self, bind, fid, chain, line):
        kind, value = bind
        if kind == "type":
            value = value.strip("'\"")
            m = _OPTIONAL.match(value)
            if m:
                value = m.group(1)
            value = value.split("|")[0] if value.endswith("|None") else value
            v = self.expr(value, fid, chain, line)
            return ("inst", v[1]) if v and v[0] == "def" and self.kind_of(v[1]) in CLASSISH else None
        v = self.expr(value, fid, chain, line)
        if kind == "call":
            return self.call_result(v)
        return v  # alias

    def call_result(self, v):
        if v and v[0] == "def" and self.kind_of(v[1]) in CLASSISH:
            return ("inst", v[1])
        if v and v[0] == "builtin" and v[1] == "super":
            return ("super", "")
        return None

    def attr(self, v, name: str):
        if v is None:
            return None
        tag, x = v
        if tag == "mod":
            return self.module_attr(x, name)
        if tag == "ext":
            return ("ext", f"{x}.{name}")
        if tag in ("def", "inst") and self.kind_of(x) in CLASSISH:
            q = self.member(x, name)
            if q is not None:
                return ("def", q)
            if tag == "inst":
                for cls in self.mro(x):
                    binds = self.attrs.get(cls, {}).get(name)
                    if binds:
                        kind, value, scope = binds[-1]
                        sfid = self.sym[scope][0]
                        return self.bind_value((kind, value), sfid, self.chain(scope), 1 << 30)
            return None
        if tag == "super":
            for cls in self.mro(x)[1:]:
                q = self.members_of(cls).get(name)
                if q is not None:
                    return ("def", q)
        return None

    def member(self, cls: str, name: str) -> str | None:
        for k in self.mro(cls):
            q = self.members_of(k).get(name)
            if q is not None:
                return q
        return None

    def mro(self, cls: str) -> list[str]:
        if cls in self._mro:
            return self._mro[cls]
        self._mro[cls] = [cls]  # guards against cycles
        out = [cls]
        self.ensure_qual(cls)
        sid = self.qual_id.get(cls)
        if sid is not None:
            fid = self.sym[sid][0]
            chain = self.chain(self.sym[sid][1])
            for base in self.bases.get(cls, ()):
                v = self.expr(base, fid, chain)
                if v and v[0] == "def" and self.kind_of(v[1]) in CLASSISH:
                    out.extend(k for k in self.mro(v[1]) if k not in out)
        self._mro[cls] = out
        return out

    def expr(self, text: str, fid: int, chain: list[int], line: int = 1 << 30):
        """Evaluate a dotted/call chain such as `self.repo.get`, `mod.Cls().run`, `super().save`."""
        if self._depth > 24:  # `x = x.next()` and friends: give up rather than recurse forever
            return None
        self._depth += 1
        try:
            return self._expr(text, fid, chain, line)
        finally:
            self._depth -= 1

    def _expr(self, text: str, fid: int, chain: list[int], line: int):
        prev = None
        while prev != text:
            prev, text = text, _PARENS.sub("()", text)
        if not _CHAIN.match(text):
            return None
        tokens = _TOKENS.findall(text)
        v = self.lookup(tokens[0], fid, chain, line)
        for tok in tokens[1:]:
            if tok == "()":
                v = self.call_result(v)
                if v and v[0] == "super":
                    v = ("super", self._class_of(chain))
            else:
                v = self.attr(v, tok[1:])
            if v is None:
                return None
        return v

    def _class_of(self, chain: list[int]) -> str:
        for sid in chain:
            if self.sym[sid][4] in CLASSISH:
                return self.sym[sid][3]
        return ""

    def target(self, callee: str, fid: int, scope: int | None, line: int) -> tuple[str | None, str]:
        """(target qualname or None, resolution) for one call site, memoised per scope: the same
        callee text in the same scope reaches the same target unless its head name is rebound there."""
        key = (fid, scope, callee)
        hit = self._targets.get(key)
        if hit is not None:
            return hit
        result = self._target(callee, fid, scope, line)
        head = callee.split(".", 1)[0].split("(", 1)[0]
        if all(len(self.binds.get((fid, sid), _EMPTY).get(head, ())) < 2 for sid in self.chain(scope) + [None]):
            self._targets[key] = result
        return result

    def _target(self, callee: str, fid: int, scope: int | None, line: int) -> tuple[str | None, str]:
        self.ensure_file(fid)
        v = self.expr(callee, fid, self.chain(scope), line)
        if v is not None:
            tag, x = v
            if tag == "def":
                if self.kind_of(x) in CLASSISH:
                    init = self.member(x, "__init__")
                    return (init or x), "resolved"
                return x, "resolved"
            if tag == "inst":
                call = self.member(x, "__call__")
                if call:
                    return call, "resolved"
            if tag == "ext":
                return f"<external>.{x}", "external"
            if tag == "builtin":
                return f"<builtin>.{x}", "builtin"
            if tag == "mod":
                return None, "external"
        name = callee.rsplit(".", 1)[-1]
        if self.has_name(name):
            return None, "name"
        return f"<external>.{name}", "external"


def _update_calls(conn: sqlite3.Connection, updates: list[tuple]) -> None:
    """Write (target, resolution, call id) rows. For a bulk resolve, one UPDATE ... FROM a temp table
    (a single pass over `calls`) beats many small updates; for an editor's save it is the other way."""
    if len(updates) < 50_000:
        conn.executemany("UPDATE calls SET target=?, resolution=? WHERE id=?", updates)
        return
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS resolved_calls(target TEXT, resolution TEXT, id INTEGER PRIMARY KEY)")
    conn.execute("DELETE FROM resolved_calls")
    conn.executemany("INSERT INTO resolved_calls VALUES(?,?,?)", updates)
    conn.execute("UPDATE calls SET target = r.target, resolution = r.resolution FROM resolved_calls r WHERE calls.id = r.id")
    conn.execute("DELETE FROM resolved_calls")


def resolve_files(conn: sqlite3.Connection, file_ids: list[int]) -> None:
    bulk = len(file_ids) > 200
    world = PyWorld(conn, bulk=bulk)
    wanted = set(file_ids)
    updates = []
    if bulk:
        rows = conn.execute("SELECT c.id, c.file_id, c.caller_id, c.callee_text, c.line FROM calls c "
                            "JOIN files f ON f.id = c.file_id WHERE f.resolved = 0 AND f.lang = 'python'")
    else:
        rows = (r for fid in file_ids for r in conn.execute(
            "SELECT id, file_id, caller_id, callee_text, line FROM calls WHERE file_id=?", (fid,)))
    for cid, fid, scope, callee, line in rows:
        if fid in wanted:
            target, how = world.target(callee, fid, scope, line)
            updates.append((target, how, cid))
    _update_calls(conn, updates)
    imports, bases = [], []
    for fid in wanted:
        world.ensure_file(fid)
        for iid, module, name, alias, level in world.import_rows.get(fid, ()):
            full = world.absolute(module, level, fid)
            v = world.import_value((module, name, alias, level), fid) if name != "*" else None
            if v and v[0] in ("def", "mod"):
                target = v[1]
            elif (name == "*" or not name) and world.is_module(full):
                target = full
            else:
                target = None
            imports.append((target, iid))
        for sid, base in world.base_rows.get(fid, ()):
            v = world.expr(base, fid, world.chain(world.sym[sid][1]))
            bases.append((v[1] if v and v[0] == "def" else None, sid, base))
    conn.executemany("UPDATE imports SET target=? WHERE id=?", imports)
    conn.executemany("UPDATE bases SET target=? WHERE symbol_id=? AND base=?", bases)
