"""Which files to resolve again after an update: the old and new *shapes* of the changed files,
compared by qualified name, and the stored facts of the other files that read what changed.

A file's shape is what other files' resolution can see of it, without positions (a line shift
changes nothing): its definitions (qualname, kind, signature), its classes' bases, its imports
and its value-flow facts (pyflow binds: returns, assignments, decorators, annotations, call
arguments), each keyed by the qualified name it is reached through (a function for its returns
and locals, `mod.x` / `Cls.x` for a module or class attribute, the decorated definition for a
decorator). Within the file, an item whose value names something bound differently (`handler =
real` when the import of `real` changed) counts as changed too. A body edit that changes none of
this re-resolves no other file. Otherwise, besides the changed files themselves, all by SQL over
the stored facts:

- target: changed or removed keys: files whose calls, imports or bases target one (or, for a
  changed function, a definition nested in it);
- attribute: a changed module attribute or import `mod.x`: files that import `x` from `mod` (or
  `*`), or import `mod` whole and call an `x`; a class attribute or `obj.x = v` (and a class
  whose bases changed, for constructors reaching an inherited `__init__`): files that read the
  class (target it or its members) and call an `x`;
- mro / capture: an added definition `C.doit` may capture calls today resolved to `doit` in a
  class of C's old MRO, and unresolved `doit` calls in files that read C, a subclass or the module;
- defined: a name defined nowhere before (or nowhere any more) flips its calls `external` <-> `name`;
- module: a module that appeared or went: its importers (for other languages, imports whose path
  ends in its name);
- value flow, for a few rounds: a function that returns (directly or through a local) the result
  of a call of a changed function changes too, in a changed file as well (through the targets
  its calls had); so does a module or class attribute assigned it;
- arguments (`argument_scopes`): a call site whose arguments may carry other values (or whose
  callee moved) changes the parameters of the functions it reached before and reaches now; those
  functions are resolved too where they use a parameter in a call or flow fact, but only their
  calls (and those of the definitions nested in them) whose target needed parameters' values
  (`calls.via_params`).

The changed Python files themselves are not resolved whole: a call found again (same caller,
callee text and name) keeps its stored target (`carry_targets`) unless `carry_plan` finds that
something it may read changed, the same rules seen from one call: it lies in a definition that
changed or whose bindings changed, or a class whose bases changed (and its subclasses here); its
text names an attribute or import that changed in a module or class the file reads, a new or
removed definition, a module that came or went, or a name the file binds to any of these (to a
fixed point), or calls a function whose result changed; its arguments moved; or its old target
changed or went. Its calls that needed parameters' values follow the arguments rule. Its `for`,
`with` and operators found again keep their rows (`carry_protocols`), and its imports and bases
found again their targets (`carry_imports`), by the same rules.

What it does not follow (a full rebuild would): values through more rounds than VALUE_ROUNDS,
arguments passed in unchanged files whose values moved elsewhere, a new method capturing a
call on a receiver whose class no file on the way reads, and, in a changed file, a value read
by a name its text does not show (`getattr`, a parameter whose callers are unchanged).
tests/test_incremental.py checks that incremental == fresh on every fixture under generated edits.
"""
from __future__ import annotations

import copy
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from .names import CLASS_KINDS, absolute_module
from .parse import FileFacts, place

FUNCS = {"function", "method", "lambda"}
CALLABLE = {"function", "method", "class"}  # what `has_name` counts (resolve_python / resolve_generic)
LOCAL_ONLY = {"iter", "with", "op"}  # binds that only make calls in their own file
PROTOCOL_CALLS = {"iter": ("__iter__", "__next__"), "with": ("__enter__", "__exit__")}  # (`op`: its own name)
_IDENT = re.compile(r"[A-Za-z_]\w*")
_SEGMENTS = re.compile(r"[./\\:]+")
_WORDS = re.compile(r"\w+")
VALUE_ROUNDS = 3  # rounds of value flow followed from a changed function to its callers' bindings


@dataclass
class Shape:
    defs: dict = field(default_factory=dict)  # qualname -> (name, kind, signature)
    items: set = field(default_factory=set)  # (key, tag, ...) position-free facts
    base_targets: dict = field(default_factory=dict)  # class qualname -> [stored base targets] (old only)
    call_targets: dict = field(default_factory=dict)  # (caller, callee text) -> {stored targets} (old only)
    site_targets: dict = field(default_factory=dict)  # ... of the calls that pass their arguments: via_params = 0
    order: list = field(default_factory=list)  # the items that bind names, in file order (the last binding wins)
    calls: list = field(default_factory=list)  # stored call rows (old only): see carry_targets
    reads: set = field(default_factory=set)  # (old only) what its calls, imports and bases reached, and their owners
    protocols: list = field(default_factory=list)  # (old only) `for`, `with`, operators: (scope, kind, name, value, line)
    import_targets: dict = field(default_factory=dict)  # (old only) (module, name, alias, level) -> {stored targets}
    base_rows: dict = field(default_factory=dict)  # (old only) (class qualname, base as written) -> {stored targets}

    def same(self, other: Shape) -> bool:
        """Does the other shape bind and define the same, in the same order? Then this file's calls
        resolve as before, wherever they moved (see carry_targets)."""
        return self.defs == other.defs and self.items == other.items and self.order == other.order


def _join(scope: str, name: str) -> str:
    return f"{scope}.{name}" if scope else name


def _shape(module: str, defs: list[tuple], bases, binds, imports, calls) -> Shape:
    """defs: (name, qual, kind, sig, parent idx or -1); bases: (def idx, base); binds: (scope idx,
    name, kind, value, line); imports: (scope idx, module, name, alias, level); calls: (line, col) -> callee text."""
    sh = Shape()
    order = sh.order
    for name, qual, kind, sig, _p in defs:
        sh.defs[qual] = (name, kind, sig)
    items = sh.items

    def scope(i: int) -> tuple[str, str]:
        return (defs[i][1], defs[i][2]) if 0 <= i < len(defs) else (module, "module")

    def owner(i: int) -> str:
        """Whose attribute `obj.x = v` in this scope sets, as readers find it: a method's class, else the scope's module or class."""
        sq, sk = scope(i)
        if sk == "method" and 0 <= defs[i][4] < len(defs):
            return defs[defs[i][4]][1]
        return sq if sk not in FUNCS else module

    for d, base in bases:
        if 0 <= d < len(defs):
            items.add((defs[d][1], "base", base))
    for s, name, kind, value, line in binds:
        if kind in LOCAL_ONLY:
            continue
        sq, sk = scope(s)
        if kind != "arg":
            order.append((sq, name, kind, value))
        if kind == "arg":
            col, _, slot = name.partition("|")
            items.add((sq, "arg", calls.get((line, int(col)) if col.isdigit() else None, ""), slot, value))
        elif kind == "deco":
            items.add((_join(sq, name), "deco", value))
        elif kind in ("=", "type") and sk not in FUNCS:
            if name.isidentifier():  # a module or class attribute
                items.add((_join(sq, name), "attr", kind, value))
            elif "[" not in name:  # `obj.x = v`: class attributes are looked up by attribute name
                items.add((name.rsplit(".", 1)[-1], "setattr", owner(s), value))
        elif kind == "=" and "[" not in name and "." in name:  # `self.x = v` in a method
            items.add((name.rsplit(".", 1)[-1], "setattr", owner(s), value))
            items.add((sq, "flow", kind, name, value))
        else:  # returns and locals of a function: its value as a callee sees it
            items.add((sq, "flow", kind, name, value))
    for s, mod, name, alias, level in imports:
        sq, sk = scope(s)
        local = alias or name or mod.split(".")[0]
        order.append((sq, local, mod, name, level))
        if sk in FUNCS:  # a local name of a function: part of its value
            items.add((sq, "flow", "import", local, f"{mod}|{name}|{level}"))
        else:
            items.add((_join(sq, local), "import", mod, name, alias, level))
    return sh


def facts_shape(f: FileFacts) -> Shape:
    """The shape of freshly extracted (placed) facts."""
    defs = [(d[0], d[1], d[2], d[7], d[9]) for d in f.defs]
    calls = {(c[3], c[4]): c[1] for c in f.calls if not c[6] or c[6] == 1}
    return _shape(f.module, defs, f.bases, [(s, n, k, v, ln) for s, n, k, v, ln in f.binds],
                  [(s, m, n, a, lv) for s, m, n, a, _ln, lv in f.imports], calls)


def stored_shape(conn: sqlite3.Connection, file_id: int, cached: FileFacts | None = None) -> Shape:
    """The shape of a file as the index holds it, with the targets it resolved to then. `cached`:
    the fact cache's facts of its stored blob (not placed), which the index's rows were made from:
    its definitions, bindings and imports are taken from them, two to three times cheaper than
    reading them back; only the targets (and the call rows) are read."""
    q = conn.execute
    module, path = q("SELECT module, path FROM files WHERE id=?", (file_id,)).fetchone() or ("", "")
    if cached is not None:
        f = place(copy.copy(cached), path, module)
        symbols = q("SELECT id, name FROM symbols WHERE file_id=? ORDER BY id", (file_id,)).fetchall()
        imported = q("SELECT target, name FROM imports WHERE file_id=? ORDER BY id", (file_id,)).fetchall()
        ids, targets = [r[0] for r in symbols], [r[0] for r in imported]
        if [r[1] for r in symbols] != [d[0] for d in f.defs] or [r[1] for r in imported] != [i[2] for i in f.imports]:
            cached = None  # not what the rows were made from
    if cached is not None:
        index = {sid: i for i, sid in enumerate(ids)}
        defs = [(d[0], d[1], d[2], d[7], d[9]) for d in f.defs]
        bases, binds = f.bases, f.binds
        imports = [(s, m, n, a, lv) for s, m, n, a, _ln, lv in f.imports]
    else:
        rows = list(q("SELECT id, name, qualname, kind, signature, parent_id FROM symbols WHERE file_id=? ORDER BY id",
                      (file_id,)))
        index = {r[0]: i for i, r in enumerate(rows)}
        defs = [(n, qual, k, sig, index.get(p, -1)) for _id, n, qual, k, sig, p in rows]
        binds = [(index.get(s, -1), n, k, v, ln) for s, n, k, v, ln in
                 q("SELECT scope_id, name, kind, value, line FROM binds WHERE file_id=? ORDER BY rowid", (file_id,))]
        imports, targets = [], []
        for s, mod, name, alias, level, target in q(
                "SELECT scope_id, module, name, alias, level, target FROM imports WHERE file_id=? ORDER BY id", (file_id,)):
            imports.append((index.get(s, -1), mod, name, alias, level))
            targets.append(target)
        bases = []
    base_targets, base_rows, import_targets = {}, {}, {}
    for sid, base, target in q("SELECT symbol_id, base, target FROM bases WHERE file_id=?", (file_id,)):
        if sid in index:
            if cached is None:
                bases.append((index[sid], base))
            base_rows.setdefault((defs[index[sid]][1], base), set()).add(target)
            if target:
                base_targets.setdefault(defs[index[sid]][1], []).append(target)
    reads = {t for ts in base_targets.values() for t in ts}
    for (_s, mod, name, alias, level), target in zip(imports, targets):
        import_targets.setdefault((mod, name, alias, level), set()).add(target)
        reads.add(target)  # and what it names, resolved or not (a variable: `from registry import default`)
        reads.add(_join(absolute_module(module, path, mod, level), name if name != "*" else ""))
    calls, call_targets, site_targets = {}, {}, {}
    rows = q("SELECT caller, callee_text, name, line, col, is_new, target, resolution, via_params, text != '', id "
             "FROM calls WHERE file_id=?", (file_id,)).fetchall()
    for caller, callee, _n, line, col, is_new, target, _r, via, _t, _id in rows:
        if is_new <= 1:
            calls[(line, col)] = callee
        if target and not target.startswith("<"):
            call_targets.setdefault((caller, callee), set()).add(target)
            if not via:
                site_targets.setdefault((caller, callee), set()).add(target)
    sh = _shape(module, defs, bases, binds, imports, calls)
    sh.base_targets, sh.call_targets, sh.site_targets, sh.calls = base_targets, call_targets, site_targets, rows
    sh.protocols = [(defs[s][1] if s >= 0 else module, k, n, v, ln) for s, n, k, v, ln in binds if k in LOCAL_ONLY]
    sh.import_targets, sh.base_rows = import_targets, base_rows
    reads.update(t for ts in call_targets.values() for t in ts)
    sh.reads = {module} | {p for t in reads if t for p in _prefixes(t)}
    return sh


@dataclass
class Changes:
    """What the changed files of one update changed, for `files_to_resolve`."""

    keys: set = field(default_factory=set)  # qualnames whose definition or value changed or went
    prefixes: set = field(default_factory=set)  # changed functions: definitions nested in them too
    values: set = field(default_factory=set)  # keys whose value changed (followed through callers)
    results: set = field(default_factory=set)  # ... of them, functions (what a call of them returns)
    scoped: set = field(default_factory=set)  # (module or class, name): its readers' calls and imports of name
    added: dict = field(default_factory=dict)  # added definition -> (name, owner, owner's old base targets, its bases as written)
    counts: Counter = field(default_factory=Counter)  # callable name -> definitions added minus removed
    modules: set = field(default_factory=set)  # (module, language) added or removed
    arg_calls: set = field(default_factory=set)  # (caller, callee text) whose arguments may have moved
    arg_targets: set = field(default_factory=set)  # their old targets, where they passed their arguments
    arg_sources: set = field(default_factory=set)  # ((caller, callee text), old target)
    called: set = field(default_factory=set)  # what changed non-Python files called: callbacks they passed may have moved
    found: dict = field(default_factory=dict)  # (files_to_resolve) rule -> the ids of the files it found
    read: set = field(default_factory=set)  # (files_to_resolve) the changed keys, value flow included
    names: tuple | None = None  # (changed_names) what every changed file's calls are checked against
    owners: set | None = None  # (recheck_calls) the modules and classes holding a changed key
    param_scopes: dict = field(default_factory=dict)  # (argument_scopes) function id -> _param_scopes of it
    calls_to: dict = field(default_factory=dict)  # stored target -> {(caller, callee name)} of changed Python files
    # (their calls gone are in no row any more: _value_flow follows these)
    flow_facts: dict = field(default_factory=dict)  # file id -> _flow_facts of it, read once per update

    def note_calls(self, old: Shape) -> None:
        """A changed Python file's stored calls, for _value_flow: `build()` returning `make()` in
        the same file follows a change of make's value though the file's new rows have no targets."""
        for (caller, callee), targets in old.call_targets.items():
            name = _IDENT.findall(callee)
            for t in targets if name else ():
                self.calls_to.setdefault(t, set()).add((caller, name[-1]))

    def add(self, old: Shape | None, new: Shape | None, module: str, lang: str) -> None:
        """One changed file: `old` is None for a new file, `new` None for a deleted one."""
        if (old is None or new is None) and module:
            self.modules.add((module, lang))
        if old is not None and lang != "python" and (new is None or old.items != new.items):
            # JS/TS and Go bind a called parameter to what call sites pass (arguments are binds: items)
            self.called |= {t for ts in old.call_targets.values() for t in ts}
        old, new = old or Shape(), new or Shape()
        for qual, (name, kind, sig) in old.defs.items():
            now = new.defs.get(qual)
            if now is None or now[1:] != (kind, sig):
                self.keys.add(qual)
                if kind in FUNCS:
                    self.prefixes.add(qual)
            if kind in CALLABLE and (now is None or now[1] not in CALLABLE):
                self.counts[name] -= 1
            if kind == "class" and (now is None or now[1] != kind):
                self.scoped |= {(qual, name), (module, name)}  # constructors reaching an inherited __init__
        for qual, (name, kind, _sig) in new.defs.items():
            was = old.defs.get(qual)
            if was is None:
                owner = qual.rsplit(".", 1)[0] if "." in qual else ""
                written = tuple(it[2] for it in new.items if it[0] == owner and it[1] == "base")
                self.added[qual] = (name, owner, tuple(old.base_targets.get(owner, ())), written)
            if kind in CALLABLE and (was is None or was[1] not in CALLABLE):
                self.counts[name] += 1
        for item in _moved(old, new, old.items ^ new.items):
            key, tag = item[0], item[1]
            if tag == "arg":  # the callee's parameters: see argument_scopes
                self.arg_calls.add((key, item[2]))
                for t in old.call_targets.get((key, item[2]), ()):
                    self.arg_sources.add(((key, item[2]), t))
                # a call found through a parameter's values passes nothing (resolve_python._param_value)
                self.arg_targets |= old.site_targets.get((key, item[2]), set())
            elif tag == "base":  # the class's MRO: its readers, and constructors reaching an inherited __init__
                self.keys.add(key)
                self.scoped |= {(key, key.rsplit(".", 1)[-1]), (module, key.rsplit(".", 1)[-1])}
            elif tag == "setattr":  # `obj.x = v`: calls of `.x` where the class or module is read
                self.scoped.add((item[2], key))
            elif tag in ("attr", "import"):  # `mod.x` / `Cls.x`: reached through its module or class
                self.keys.add(key)
                self.values.add(key)
                if "." in key:
                    self.scoped.add(tuple(key.rsplit(".", 1)))
            else:  # flow, deco: the value of a function or a decorated definition
                self.keys.add(key)
                self.values.add(key)
                self.prefixes.add(key)
                if tag == "flow":
                    self.results.add(key)

    def __bool__(self) -> bool:
        return bool(self.keys or self.scoped or self.added or self.counts or self.modules or self.arg_calls or self.called)


def _moved(old: Shape, new: Shape, diff: set) -> set:
    """The changed items, and the items whose value names something bound differently in this file
    (directly or through the file's own assignments, to a fixed point; scopes are not told apart):
    `handler = real` when the import of `real` changed. An argument also moves when its callee does."""
    dirty = {v[0] for q, v in old.defs.items() if new.defs.get(q) != v}
    dirty |= {v[0] for q, v in new.defs.items() if old.defs.get(q) != v}
    for item in diff:
        tag = item[1]
        if tag in ("attr", "import", "deco"):
            dirty.add(item[0].rsplit(".", 1)[-1])
        elif tag == "flow" and item[3]:
            dirty.add(item[3].rsplit(".", 1)[-1])
    out = set(diff)
    if not dirty:
        return out
    both = old.items | new.items
    flows = [(i, i[3].rsplit(".", 1)[-1], set(_IDENT.findall(i[4]))) for i in both if i[1] == "flow" and i[3]]
    flows += [(i, i[0].rsplit(".", 1)[-1], set(_IDENT.findall(i[3]))) for i in both if i[1] == "attr"]
    grew = True
    while grew:
        grew = False
        for item, name, uses in flows:
            if item not in out and uses & dirty:
                out.add(item)
                dirty.add(name)
                grew = True
    for item in both:
        if item[1] == "arg" and (set(_IDENT.findall(item[4])) | set(_IDENT.findall(item[2])[:1])) & dirty:
            out.add(item)
    return out


def _temp(conn: sqlite3.Connection, name: str, values, kind: str = "TEXT") -> None:
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name}(v {kind} PRIMARY KEY)")
    conn.execute(f"DELETE FROM {name}")
    conn.executemany(f"INSERT OR IGNORE INTO {name} VALUES(?)", [(v,) for v in values])


def _value_flow(conn: sqlite3.Connection, values: set, scoped: set, calls_to: dict, cache: dict) -> set:
    """Keys whose value follows from a changed one, for a few rounds: a function that returns the
    result of a call of a changed function (`return make()`, or `x = make()` and `return x`), a
    module or class attribute assigned it (`obj = make()`; also put in `scoped`: an import of one
    has no target to follow), `self.x = make()` (the class's attribute `x`, in `scoped`). The
    calls of changed files are read from `calls_to` (Changes.note_calls), the others' from the index.
    `cache`: the files' binds read so far (Changes.flow_facts)."""
    out, frontier = set(), set(values)
    returns: dict[tuple, set] = {}
    binds: dict[str, list] = {}  # a changed file's scope -> _scope_binds

    def flows(fid: int, sid: int | None) -> list[tuple]:
        """(kind, name, value) of a scope's assignments and returns."""
        return [b for b in _flow_facts(conn, cache, fid).get(sid, ()) if b[0] in ("=", "return")]

    for _round in range(VALUE_ROUNDS):
        if not frontier:
            break
        _temp(conn, "inv_front", frontier)
        found = set()
        rows = []
        for fid, sid, caller, cname, *scope in conn.execute(
                "SELECT DISTINCT c.file_id, c.caller_id, c.caller, c.name, s.qualname, s.kind, p.qualname "
                "FROM inv_front k CROSS JOIN calls c ON c.target = k.v "
                "LEFT JOIN symbols s ON s.id = c.caller_id LEFT JOIN symbols p ON p.id = s.parent_id").fetchall():
            rows += [(fid, sid, caller, cname, *scope, *bind) for bind in flows(fid, sid)]
        names: dict[str, set[str]] = {}
        for k in frontier:
            for caller, cname in calls_to.get(k, ()):
                names.setdefault(caller, set()).add(cname)
        for caller in sorted(names):
            if caller not in binds:
                binds[caller] = _scope_binds(conn, caller, flows)
            rows += [(fid, sid, caller, cname, *rest) for fid, sid, *rest in binds[caller] for cname in names[caller]]
        for fid, sid, caller, cname, sq, skind, parent, bkind, bname, value in rows:
            if cname + "()" not in value:
                continue
            if skind in FUNCS:
                if bkind == "=" and "." in bname and skind == "method" and parent:  # self.x = make()
                    scoped.add((parent, bname.rsplit(".", 1)[-1]))
                    continue
                if bkind == "=":  # a local: only if the function returns it
                    key = (fid, sid)
                    if key not in returns:
                        returns[key] = {n for kind, _n, v in flows(fid, sid) if kind == "return"
                                        for n in _IDENT.findall(v)}
                    if bname not in returns[key]:
                        continue
                found.add(caller)
            elif bname.isidentifier():  # a module or class attribute
                found.add(_join(sq or caller, bname))
                scoped.add((sq or caller, bname))
        frontier = found - out - values
        out |= frontier
    return out


def _scope_binds(conn: sqlite3.Connection, caller: str, flows: Callable[[int, int | None], list]) -> list[tuple]:
    """The assignments and returns of a definition or module of a changed file, as _value_flow reads
    them: (file id, scope id, scope, scope kind, its parent, bind kind, name, value)."""
    rows = [(fid, sid, qual, kind, parent, *bind) for fid, sid, qual, kind, parent in conn.execute(
        "SELECT s.file_id, s.id, s.qualname, s.kind, p.qualname FROM symbols s LEFT JOIN symbols p ON p.id = s.parent_id "
        "WHERE s.qualname = ?", (caller,)) for bind in flows(fid, sid)]
    return rows or [(fid, None, None, None, None, *bind) for (fid,) in conn.execute(
        "SELECT id FROM files WHERE module = ? AND lang = 'python'", (caller,)) for bind in flows(fid, None)]


class _Readers:
    """The files that read a module or a class: their calls, imports or bases target it or something
    in it, or (a module) they import from it, absolutely or relatively."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._memo: dict[str, set[int]] = {}
        self._relative: list | None = None

    def __call__(self, key: str) -> set[int]:
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = self._find(key)
        return hit

    def _find(self, key: str) -> set[int]:
        q, lo, hi = self.conn.execute, key + ".", key + "/"
        out = {r[0] for r in q("SELECT file_id FROM calls WHERE target = ? OR (target > ? AND target < ?)", (key, lo, hi))}
        out.update(r[0] for r in q("SELECT file_id FROM imports WHERE target = ? OR (target > ? AND target < ?)", (key, lo, hi)))
        out.update(r[0] for r in q("SELECT file_id FROM bases WHERE target = ?", (key,)))
        if q("SELECT 1 FROM files WHERE module = ? LIMIT 1", (key,)).fetchone() is not None:
            out.update(r[0] for r in q("SELECT file_id FROM imports WHERE level = 0 AND (module = ? OR "
                                       "(module > ? AND module < ?))", (key, lo, hi)))
            out.update(fid for fid, full, _n in self.relative() if full == key or full.startswith(lo))
        return out

    def through(self, module: str, name: str) -> set[int]:
        """Files that reach `module.name` through the module: `from module import name` (or `*`),
        or the module imported whole and a call or import of that name."""
        q = self.conn.execute
        out = {r[0] for r in q("SELECT file_id FROM imports WHERE level = 0 AND module = ? AND name IN (?, '*')",
                               (module, name))}
        out.update(fid for fid, full, n in self.relative() if full == module and n in (name, "*"))
        whole = {r[0] for r in q("SELECT file_id FROM imports WHERE target = ?", (module,))}
        if whole:
            out |= whole & {r[0] for r in q("SELECT DISTINCT file_id FROM calls WHERE name = ?", (name,))}
        return out

    def relative(self) -> list[tuple[int, str, str]]:
        """(file id, absolute module, name) of every relative import."""
        if self._relative is None:
            self._relative = [(fid, absolute_module(fmod, path, module, level), name) for fid, path, fmod, module, name, level
                              in self.conn.execute("SELECT f.id, f.path, f.module, i.module, i.name, i.level FROM imports i "
                                                   "JOIN files f ON f.id = i.file_id WHERE i.level > 0")]
        return self._relative

    def descendants(self, cls: str) -> set[str]:
        out, todo = set(), [cls]
        while todo:
            for (q,) in self.conn.execute("SELECT s.qualname FROM bases b JOIN symbols s ON s.id = b.symbol_id "
                                          "WHERE b.target = ?", (todo.pop(),)):
                if q not in out:
                    out.add(q)
                    todo.append(q)
        return out


def files_to_resolve(conn: sqlite3.Connection, ch: Changes) -> set[int]:
    """The ids of unchanged files whose calls may now resolve differently (see the module docstring).
    `ch.found` holds the files each rule found (a file may be found by several)."""
    q = conn.execute
    keys = set(ch.keys)
    if ch.values:
        flow = _value_flow(conn, ch.values, ch.scoped, ch.calls_to, ch.flow_facts)
        keys |= flow
        ch.prefixes |= {k for k in flow if k not in ch.keys}
    ch.read = keys
    why: dict[str, set[int]] = {}
    readers = _Readers(conn)

    def found(rule: str, sql: str, args=()) -> set[int]:
        ids = {r[0] for r in q(sql, args)}
        why.setdefault(rule, set()).update(ids)
        return ids

    importers = _importers(conn, {n for _o, n in ch.scoped} | {added[0] for added in ch.added.values()})

    def named(name: str, within: Callable[[], set[int]], unresolved: bool = False) -> set[int]:
        """The files of `within()` with calls or imports of this name (unresolved ones only).
        `within` is asked only when some file names it: the readers of a hub module are thousands
        of files, and most names added to it (a new function) are called nowhere yet."""
        cond = " AND target IS NULL" if unresolved else ""
        ids = {r[0] for r in q(f"SELECT DISTINCT file_id FROM calls WHERE name = ?{cond}", (name,))}
        ids |= {fid for fid, open_ in importers.get(name, ()) if open_ or not unresolved}
        return ids & within() if ids else ids

    _temp(conn, "inv_keys", keys)
    found("target", "SELECT c.file_id FROM inv_keys k CROSS JOIN calls c ON c.target = k.v")
    found("target", "SELECT i.file_id FROM inv_keys k CROSS JOIN imports i ON i.target = k.v")
    found("target", "SELECT b.file_id FROM inv_keys k CROSS JOIN bases b ON b.target = k.v")
    for p in ch.prefixes:  # definitions nested in a changed function (closures, lambdas)
        found("nested", "SELECT file_id FROM calls WHERE target > ? AND target < ?", (p + ".", p + "/"))
    modules = {r[0] for r in q("SELECT DISTINCT module FROM files WHERE lang = 'python'")}
    for owner, name in ch.scoped:  # `mod.x`, `Cls.x`, `obj.x = v`: where the module or class is read
        why.setdefault("attribute", set()).update(
            readers.through(owner, name) if owner in modules else named(name, lambda: readers(owner)))
    # added definitions: the calls they may capture, today resolved to the same name in an
    # ancestor of their class, or unresolved where their class (or a subclass) or module is read
    captured: set[str] = set()
    for qual, (name, owner, old_bases, written) in ch.added.items():
        # a new class's bases are not resolved yet: the classes their last names name stand in
        kinds = ",".join(f"'{k}'" for k in sorted(CLASS_KINDS))
        named_bases = tuple(r[0] for b in written for r in q(
            f"SELECT qualname FROM symbols WHERE name = ? AND kind IN ({kinds})",
            (_base_name(b),)))
        for anc in _ancestors(conn, owner, old_bases + named_bases):
            captured.add(_join(anc, name))
        why.setdefault("capture", set()).update(named(name, lambda: readers(owner).union(
            *map(readers, readers.descendants(owner))), unresolved=True))
    _temp(conn, "inv_keys", captured)
    found("mro", "SELECT c.file_id FROM inv_keys k CROSS JOIN calls c ON c.target = k.v")
    # functions the changed non-Python files called, where they call a parameter: its callbacks
    _temp(conn, "inv_keys", ch.called)
    why.setdefault("callback", set()).update(fid for fid, name, sig in q(
        "SELECT c.file_id, c.name, s.signature FROM inv_keys k CROSS JOIN symbols s ON s.qualname = k.v "
        "CROSS JOIN calls c ON c.caller_id = s.id WHERE instr(c.callee_text, '.') = 0")
        if name in _WORDS.findall(sig or ""))
    # a name now defined nowhere, or defined for the first time: `external` <-> `name`
    for name, delta in ch.counts.items():
        now = q("SELECT COUNT(*) FROM symbols WHERE name=? AND kind IN ('function','method','class')",
                (name,)).fetchone()[0]
        if delta and (now == 0) != (now - delta == 0):
            found("defined", "SELECT file_id FROM calls WHERE name = ? AND (target IS NULL OR target = ?)",
                  (name, f"<external>.{name}"))
    for mod, lang in ch.modules:  # a module that appeared or went: imports of it
        why.setdefault("module", set()).update(readers(mod))
        parent, _, last = mod.rpartition(".")
        found("module", "SELECT file_id FROM imports WHERE target IS NULL AND name = ? AND module = ?", (last, parent))
        if mod in modules or lang == "python":
            continue
        # other languages import paths (`./auth` for src/auth/index.ts, "hash.h"): by their last parts
        tails = {last, parent.rpartition(".")[2] if last in ("index", "mod", "lib", "main") else ""} - {""}
        for tail in tails:
            why["module"].update(fid for fid, m in q("SELECT file_id, module FROM imports WHERE instr(module, ?) > 0", (tail,))
                                 if tail in _SEGMENTS.split(m))
    for t in ("inv_keys", "inv_front"):
        q(f"DROP TABLE IF EXISTS temp.{t}")
    ch.found = why
    return set().union(*why.values()) if why else set()


def _importers(conn: sqlite3.Connection, names: set[str]) -> dict[str, list[tuple[int, bool]]]:
    """name -> (file id, unresolved) of the imports of these names (as imported or as aliased), in one
    scan: no index leads to an import by its name, and a scan for each name (4-10 ms on sympy) cost
    0.8 s of a checkout whose files add or change about two hundred names."""
    out: dict[str, list[tuple[int, bool]]] = {}
    if names:
        _temp(conn, "inv_names", names)
        for fid, name, alias, unresolved in conn.execute(
                "SELECT file_id, name, alias, target IS NULL FROM imports "
                "WHERE name IN (SELECT v FROM inv_names) OR alias IN (SELECT v FROM inv_names)"):
            for key in {name, alias} & names:
                out.setdefault(key, []).append((fid, bool(unresolved)))
        conn.execute("DROP TABLE IF EXISTS temp.inv_names")
    return out


def _ancestors(conn: sqlite3.Connection, cls: str, old_bases: tuple) -> set[str]:
    """A class and its ancestors, through the stored bases' targets (and the class's old bases)."""
    out, todo = {cls}, [cls, *old_bases]
    while todo:
        c = todo.pop()
        if c not in out:
            out.add(c)
        for (t,) in conn.execute("SELECT b.target FROM symbols s JOIN bases b ON b.symbol_id = s.id "
                                 "WHERE s.qualname = ? AND b.target IS NOT NULL", (c,)):
            if t not in out:
                todo.append(t)
    return out


def changed_names(ch: Changes, reads: set[str]) -> tuple[set[str], set[str]]:
    """The last names of what this update changed, as the calls of a file that `reads` these
    modules and classes name them: (names bound to other values now, anywhere in a call's text:
    attributes and imports of a module or class it reads, decorated definitions, new definitions,
    modules that came or went; functions whose result changed, where a call's text calls them:
    `make().run`). A definition that changed or went is found by the calls' old targets."""
    if ch.names is None:  # what every file reads alike, once per update
        owned: dict[str, set] = {}
        for owner, n in ch.scoped:
            owned.setdefault(owner, set()).add(n)
        names = {_last(k) for k in ch.values - ch.results if "." not in k} | {_last(q) for q in ch.added}
        names |= set(ch.counts) | {_last(m) for m, _lang in ch.modules}
        ch.names = (names, {_last(k) for k in ch.results | (ch.read - ch.keys)}, owned)
    names, results, owned = ch.names
    return names.union(*(n for owner, n in owned.items() if owner in reads)), set(results)


def _last(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def _base_name(written: str) -> str:
    """The class a base as written names, by its last name (`mod.Base[T]`, `Base<T>`: Base)."""
    return _SEGMENTS.split(re.split(r"[<\[(]", written, 1)[0].strip())[-1]


def _prefixes(qual: str):
    """`a.b.c`, `a.b`, `a`."""
    while qual:
        yield qual
        qual = qual.rpartition(".")[0]


_CALLED = re.compile(r"([A-Za-z_]\w*)\s*\(")  # names a call's text calls on the way (`make(x).run`: make)


@dataclass
class Carry:
    """What of a changed Python file must be resolved again although its calls are found again
    (`carry_plan`); the rest keep their targets (`carry_targets`)."""

    scopes: set = field(default_factory=set)  # definitions whose calls all are (and those nested in them)
    calls: set = field(default_factory=set)  # (caller, callee text) whose arguments moved
    names: set = field(default_factory=set)  # a call whose text names one of these
    results: set = field(default_factory=set)  # ... or calls one of these on the way
    keys: set = field(default_factory=set)  # a call whose old target is one of these (or nested in a prefix);
    prefixes: set = field(default_factory=set)  # both the update's own (Changes.read, .prefixes): not to be changed

    def again(self, caller: str, callee: str, targets) -> bool:
        """Must this call, found again, be resolved again?"""
        inside = self._scoped.get(caller)
        if inside is None:
            inside = self._scoped[caller] = _within(caller, self.scopes)
        reads = self._reads.get(callee)
        if reads is None:
            reads = self._reads[callee] = (not self.names.isdisjoint(_IDENT.findall(callee))
                                           or not self.results.isdisjoint(_CALLED.findall(callee)))
        if inside or reads or (caller, callee) in self.calls:
            return True
        for t in targets:
            if t:
                moved = self._moved.get(t)
                if moved is None:
                    moved = self._moved[t] = t in self.keys or _within(t, self.prefixes)
                if moved:
                    return True
        return False

    def __post_init__(self) -> None:
        self._scoped: dict[str, bool] = {}
        self._reads: dict[str, bool] = {}
        self._moved: dict[str, bool] = {}  # target -> did it change or go (or lie in what did)


def carry_plan(old: Shape, new: Shape, ch: Changes) -> Carry:
    """Within one changed file: definitions that changed (and those nested in them), functions
    whose bindings or returns changed, classes whose bases or decorators changed and their
    subclasses here, and, through the file's own bindings to a fixed point, the names bound to
    something that changed, starting from what the whole update changed (`changed_names`)."""
    names, results = changed_names(ch, old.reads)
    plan = Carry(names=names, results=results, keys=ch.read, prefixes=ch.prefixes)
    scopes = plan.scopes
    for qual in old.defs.keys() | new.defs.keys():
        if old.defs.get(qual) != new.defs.get(qual):
            scopes.add(qual)
            if qual not in old.defs or qual not in new.defs:  # new: it may capture calls; gone: they read another
                names.add(_last(qual))
            if _last(qual).startswith("__") and "." in qual:  # `Cls()` reaches `__init__`: calls naming the class
                names.add(_last(qual.rsplit(".", 1)[0]))
    for item in old.items ^ new.items:
        key, tag = item[0], item[1]
        if tag == "arg":
            plan.calls.add((key, item[2]))
        elif tag == "flow":  # a function's locals or returns: its calls, and what it returns
            scopes.add(key)
            results.add(_last(key))
        elif tag == "setattr":
            names.add(key)
        else:  # base, attr, import, deco: a name a module or class binds
            names.add(_last(key))
            if tag in ("base", "deco") or (tag == "import" and item[3] == "*"):  # `*`: any name of the module
                scopes.add(key.rpartition(".")[0] if tag == "import" else key)
    both = old.items | new.items
    subclasses = [(i[0], _base_name(i[2])) for i in both if i[1] == "base"]
    bindings = [(i[0] if i[1] == "flow" else None, i[0] if i[1] in ("attr", "setattr") else None, i[-1])
                for i in both if i[1] in ("flow", "attr", "setattr")]
    bindings = [(scope, _last(name) if name else None, set(_IDENT.findall(v)), set(_CALLED.findall(v)))
                for scope, name, v in bindings]
    grew = True
    while grew:
        grew = False
        for cls, base in subclasses:  # a class whose bases' MRO changed
            if cls not in scopes and base and any(_last(s) == base for s in scopes):
                scopes.add(cls)
                names.add(_last(cls))
                grew = True
        for scope, name, uses, calls in bindings:  # a binding whose value reads what changed
            if uses & names or calls & results:
                if scope is not None and scope not in scopes:
                    scopes.add(scope)
                    results.add(_last(scope))
                    grew = True
                if name is not None and name not in names:
                    names.add(name)
                    grew = True
    for item in both:  # an argument reading what changed: that call (`map(f, xs)` calls it)
        if item[1] == "arg" and (set(_IDENT.findall(item[4])) & names or set(_CALLED.findall(item[4])) & results):
            plan.calls.add((item[0], item[2]))
    names.discard("")
    return plan


def _within(qual: str, scopes: set) -> bool:
    """Is `qual` one of these definitions or nested in one?"""
    return not scopes.isdisjoint(_prefixes(qual))


def carry_targets(conn: sqlite3.Connection, file_id: int, old_calls: list, plan: Carry) -> int:
    """A changed Python file's calls found again (same caller, callee text and name, every old one
    of them agreeing) take their stored targets, with the copies of a call that reached several
    definitions, unless `plan` says they may resolve differently now; the rest (new calls among
    them) are left unresolved for the resolver, their targets cleared. Returns how many were carried."""
    copies: dict[tuple, list] = {}  # (line, col, callee) -> further targets (a `for`/`with`/operator row has no text)
    for _c, callee, _n, line, col, is_new, target, _h, _v, text, _id in old_calls:
        if is_new >= 2 and text:
            copies.setdefault((line, col, callee), []).append((target, is_new))
    was: dict[tuple, set] = {}
    for caller, callee, name, line, col, is_new, target, how, via, _t, _id in old_calls:
        if is_new <= 1:
            more = copies.get((line, col, callee), ())
            more = tuple(sorted(more, key=repr)) if more else ()
            was.setdefault((caller, callee, name, is_new), set()).add((target, how, via, more) if how else None)
    rows, made, carried = [], [], 0
    kept: dict[tuple, tuple | None] = {}  # (caller, callee, name, is_new) -> what its calls keep (None: nothing)
    for cid, caller, callee, name, is_new, *now in conn.execute(
            "SELECT id, caller, callee_text, name, is_new, target, resolution, via_params FROM calls "
            "WHERE file_id = ? AND is_new <= 1", (file_id,)):
        key = (caller, callee, name, is_new)
        keep = kept.get(key, False)
        if keep is False:
            hit, keep = was.get(key), None
            if hit and len(hit) == 1 and None not in hit:
                keep = next(iter(hit))
                if plan.again(caller, callee, (keep[0], *(m[0] for m in keep[3]))):
                    keep = None
            kept[key] = keep
        if keep is not None:
            target, how, via, more = keep
            carried += 1
            made += [(t, how, kind, via, cid) for t, kind in more]
            if now != [target, how, via]:  # a new row (a row kept in place has them: Indexer._write_calls)
                rows.append((target, how, via, cid))
        elif now != [None, None, 0]:  # a row kept in place, to resolve again
            rows.append((None, None, 0, cid))
    conn.executemany("UPDATE calls SET target = ?, resolution = ?, via_params = ? WHERE id = ?", rows)
    conn.executemany("INSERT INTO calls(file_id, caller_id, caller, callee_text, name, line, col, text, target, "
                     "resolution, is_new, via_params) SELECT file_id, caller_id, caller, callee_text, name, line, "
                     "col, text, ?, ?, ?, ? FROM calls WHERE id = ?", made)
    return carried


def carry_protocols(conn: sqlite3.Connection, file_id: int, old: Shape, plan: Carry) -> Again:
    """A changed Python file's `for`, `with` and operators found again (same scope, kind, name and
    operand, once in the old file and once in the new) keep the rows the resolver made for them, at
    their new line, unless `plan` says they may resolve differently. Returns what the resolver must
    do for the file besides its calls with no target: the other protocols (carry_imports adds the
    imports and bases)."""
    from .resolve_base import MADE

    made = _protocol_rows(old.calls)
    seen = Counter((scope, kind, name, value) for scope, kind, name, value, _ln in old.protocols)
    at = Counter((line, value) for _s, _k, _n, value, line in old.protocols)
    was = {(scope, kind, name, value): line for scope, kind, name, value, line in old.protocols}
    module = conn.execute("SELECT module FROM files WHERE id = ?", (file_id,)).fetchone()[0]
    now = [(sid, qual or module, kind, name, value, line) for sid, qual, kind, name, value, line in conn.execute(
        "SELECT b.scope_id, s.qualname, b.kind, b.name, b.value, b.line FROM binds b LEFT JOIN symbols s "
        "ON s.id = b.scope_id WHERE b.file_id = ? AND b.kind IN ('iter', 'with', 'op')", (file_id,))]
    fresh = Counter((scope, kind, name, value) for _sid, scope, kind, name, value, _ln in now)
    todo, rows = Again(), []
    for sid, scope, kind, name, value, line in now:
        key = (scope, kind, name, value)
        before = was.get(key)
        old_rows = made.get((before, value), ())
        if seen[key] != 1 or fresh[key] != 1 or at[(before, value)] != 1 or _protocol_moves(plan, key, old_rows):
            todo.protocols.add((line, value))
            continue
        rows += [(file_id, sid, caller, callee, method, line, target) for caller, callee, method, target, _id in old_rows]
    conn.executemany("INSERT INTO calls(file_id, caller_id, caller, callee_text, name, line, col, text, target, "
                     f"resolution, is_new) VALUES(?, ?, ?, ?, ?, ?, 1, '', ?, 'resolved', {MADE})", rows)
    return todo


def carry_imports(conn: sqlite3.Connection, file_id: int, old: Shape, plan: Carry, ch: Changes, todo: Again) -> int:
    """A changed Python file's imports and bases found again (the same import, or the same base of
    the same class), whose stored rows all had one target, keep it, unless it may move now: as an
    unchanged file's would (`_moves`: a name that changed, a target that changed or went), or (a
    base) the class or a definition around it changed. Where the imported modules did not change,
    the resolver need not load them again: an edit of a hub importing 100 modules loaded 40 files
    for none of its calls. The others are left to the resolver (`todo`). Returns how many kept theirs."""
    q = conn.execute
    imports, bases = [], []
    for iid, *key in q("SELECT id, module, name, alias, level FROM imports WHERE file_id = ?", (file_id,)):
        target = _only(old.import_targets.get(tuple(key), ()))
        if target is None or _moves(plan, ch, key[:3], target):
            todo.imports.add(iid)
        else:
            imports.append((target, iid))
    for sid, qual, base in q("SELECT b.symbol_id, s.qualname, b.base FROM bases b JOIN symbols s ON s.id = b.symbol_id "
                             "WHERE b.file_id = ?", (file_id,)):
        target = _only(old.base_rows.get((qual, base), ()))
        if target is None or _within(qual, plan.scopes) or _moves(plan, ch, (base,), target):
            todo.bases.add((sid, base))
        else:
            bases.append((target, sid, base))
    conn.executemany("UPDATE imports SET target = ? WHERE id = ?", imports)
    conn.executemany("UPDATE bases SET target = ? WHERE symbol_id = ? AND base = ?", bases)
    return len(imports) + len(bases)


def _only(targets) -> str | None:
    """The one target stored rows agreed on (None: they had none, or several)."""
    return next(iter(targets)) if len(targets) == 1 else None


def _protocol_rows(calls: list) -> dict[tuple, list]:
    """The rows the resolver made for a file's `for`, `with` and operators (stored call rows, as
    Shape.calls): (line, operand) -> [(caller, `operand.method`, method, target, row id)]."""
    out: dict[tuple, list] = {}
    for caller, callee, name, line, _col, is_new, target, _h, _v, text, cid in calls:
        if is_new >= 2 and not text:
            out.setdefault((line, callee.rpartition(".")[0]), []).append((caller, callee, name, target, cid))
    return out


def _protocol_moves(plan: Carry, key: tuple, rows: list) -> bool:
    """May a `for`, `with` or operator (scope, kind, name, operand) reach other methods now: its
    methods' calls would resolve again, or what its rows reached changed?"""
    scope, kind, name, value = key
    return (any(plan.again(scope, f"{value}.{m}", ()) for m in PROTOCOL_CALLS.get(kind, (name,)))
            or any(plan.again(caller, callee, (target,)) for caller, callee, _m, target, _id in rows))


@dataclass
class Again:
    """What of a file the resolver must do again, besides its calls with no target (recheck_calls;
    carry_protocols and carry_imports for a changed file)."""

    protocols: set = field(default_factory=set)  # the `for`, `with` and operators at these (line, value)s
    imports: set = field(default_factory=set)  # import ids
    bases: set = field(default_factory=set)  # (class id, base as written)


def _moves(plan: Carry, ch: Changes, texts, target: str | None) -> bool:
    """May this import or base reach another definition now? It names what changed, or reaches
    what changed or went, or a module or class holding it (a module placed under another name:
    its old definitions went)."""
    if ch.owners is None:
        ch.owners = {p for k in ch.read for p in _prefixes(k)}
    return (any(not plan.names.isdisjoint(_IDENT.findall(t)) for t in texts if t)
            or (target is not None and (target in ch.owners or _within(target, plan.prefixes))))


def recheck_calls(conn: sqlite3.Connection, file_id: int, ch: Changes) -> tuple[int, Again]:
    """An unchanged Python file that the rules found reads something that changed, but mostly not:
    only its calls that `carry_plan` (the update's changes seen from a file whose own shape stayed)
    says may resolve differently lose their targets, with the rows made for them; so do the rows
    made for a `for`, `with` or operator that may. Those, and its imports and bases that may now
    reach another definition, are what the resolver does again; the rest keep theirs. Returns
    (how many calls kept their targets, what to do again)."""
    sh = stored_shape(conn, file_id)
    plan = carry_plan(sh, sh, ch)
    todo = Again()
    q = conn.execute
    todo.imports = {iid for iid, *texts, target in q(
        "SELECT id, module, name, alias, target FROM imports WHERE file_id = ?", (file_id,)) if _moves(plan, ch, texts, target)}
    todo.bases = {(sid, base) for sid, base, target in q(
        "SELECT symbol_id, base, target FROM bases WHERE file_id = ?", (file_id,)) if _moves(plan, ch, (base,), target)}
    copies: dict[tuple, list] = {}  # (line, col, callee) -> [(target, row id)] of the rows made for a call
    for _c, callee, _n, line, col, is_new, target, _h, _v, text, cid in sh.calls:
        if is_new >= 2 and text:
            copies.setdefault((line, col, callee), []).append((target, cid))
    protocols = _protocol_rows(sh.calls)
    again, drop, kept = [], [], 0
    for scope, kind, name, value, line in sh.protocols:
        rows = protocols.get((line, value), ())
        if _protocol_moves(plan, (scope, kind, name, value), rows):
            todo.protocols.add((line, value))
            drop += [cid for *_r, cid in rows]
    for caller, callee, _n, line, col, is_new, target, _h, _v, _t, cid in sh.calls:
        if is_new >= 2:
            continue
        more = copies.get((line, col, callee), ())
        if plan.again(caller, callee, (target, *(t for t, _c in more))):
            again.append((cid,))
            drop += [c for _t, c in more]
        else:
            kept += 1
    conn.executemany("UPDATE calls SET target = NULL, resolution = NULL, via_params = 0 WHERE id = ?", again)
    conn.executemany("DELETE FROM calls WHERE id = ?", [(c,) for c in drop])
    return kept, todo


def unsettle_params(conn: sqlite3.Connection, scopes: dict[int, set[int]]) -> None:
    """Calls kept by carry_targets that needed parameters' values, whose arguments moved (file id ->
    the definitions that read them, `argument_scopes`): to resolve."""
    from .resolve_base import clear_params, scopes_clauses

    clear_params(conn, scopes)
    for where, args in scopes_clauses(scopes):
        conn.execute(f"UPDATE calls SET target = NULL, resolution = NULL, via_params = 0 WHERE via_params = 1 AND {where}",
                     args)


def argument_scopes(conn: sqlite3.Connection, ch: Changes, changed_ids: set[int],
                    before: bool = False) -> dict[int, set[int]]:
    """The functions that calls whose arguments moved reached before or reach now, where such a
    function uses a parameter's value (see `_param_scopes`): file id -> the ids of those functions
    and of the definitions nested in them, whose calls read the parameters. `before` the resolve, a
    call that had no target stands for the functions of its name, if there are few: so the resolve
    after it is rarely needed."""
    if not ch.arg_calls:
        return {}
    targets = set(ch.arg_targets)
    if before:  # calls with no old target: functions of that name (few) stand in for what they will reach
        known = {c for c, _t in ch.arg_sources}
        for name in {_IDENT.findall(callee)[-1] for caller, callee in ch.arg_calls
                     if (caller, callee) not in known and _IDENT.findall(callee)}:
            quals = [r[0] for r in conn.execute("SELECT qualname FROM symbols WHERE name = ? AND kind IN "
                                                "('function', 'method', 'class') LIMIT 17", (name,))]
            if len(quals) <= 16:
                targets.update(quals)
    ids = sorted(changed_ids)
    for i in range(0, len(ids), 500):
        part = ids[i:i + 500]
        for caller, callee, target in conn.execute(
                f"SELECT caller, callee_text, target FROM calls WHERE target IS NOT NULL AND via_params = 0 AND file_id IN "
                f"({','.join('?' * len(part))})", part):
            if (caller, callee) in ch.arg_calls:
                targets.add(target)
    _temp(conn, "inv_keys", {t for t in targets if not t.startswith("<")})
    out: dict[int, set[int]] = {}
    for sid, fid, qual, kind, sig, lang in conn.execute(
            "SELECT s.id, s.file_id, s.qualname, s.kind, s.signature, f.lang FROM inv_keys k CROSS "
            "JOIN symbols s ON s.qualname = k.v JOIN files f ON f.id = s.file_id"):
        if lang != "python":  # only Python's resolver gives parameters values
            continue
        if kind == "class":  # its __init__ takes the arguments
            row = conn.execute("SELECT id, qualname, kind, signature FROM symbols WHERE parent_id=? AND name='__init__'",
                               (sid,)).fetchone()
            if row is None:
                continue
            sid, qual, kind, sig = row
        if kind in FUNCS:
            scopes = ch.param_scopes.get(sid)
            if scopes is None:  # the second call (after the resolve) meets most functions again
                scopes = ch.param_scopes[sid] = _param_scopes(conn, fid, sid, qual, sig, ch.flow_facts)
            if scopes:
                out.setdefault(fid, set()).update(scopes)
    conn.execute("DROP TABLE IF EXISTS temp.inv_keys")
    return out


def _param_scopes(conn: sqlite3.Connection, fid: int, sid: int, qual: str, sig: str, cache: dict) -> list[int]:
    """A function and the definitions nested in it, if it uses a parameter's value where resolution
    looks at it: a call or a flow fact of it or of a function nested in it (where a parameter's
    value is only passed on, it does not); else none."""
    from .resolve_python import params_of

    params = {p for p, _k in params_of(sig)} - {"self", "cls"}
    if not params:
        return []
    scopes = [sid] + [r[0] for r in conn.execute("SELECT id FROM symbols WHERE qualname > ? AND qualname < ?",
                                                 (qual + ".", qual + "/"))]
    marks = ",".join("?" * len(scopes))
    for (callee,) in conn.execute(f"SELECT callee_text FROM calls WHERE caller_id IN ({marks})", scopes):
        m = _IDENT.match(callee)
        if m and m.group() in params:
            return scopes
    facts = _flow_facts(conn, cache, fid)
    for scope in scopes:
        for _kind, _name, value in facts.get(scope, ()):
            if params & set(_IDENT.findall(value)):
                return scopes
    return []


def _flow_facts(conn: sqlite3.Connection, cache: dict, fid: int) -> dict:
    """scope id -> (kind, name, value) of a file's binds but its arguments, read once per update
    (Changes.flow_facts): the rules read them for one scope at a time, and a file's binds are found
    by file only, so a scan of the file's binds each (711 of them on sympy's checkout of HEAD~50)."""
    hit = cache.get(fid)
    if hit is None:
        hit = cache[fid] = {}
        for sid, *bind in conn.execute("SELECT scope_id, kind, name, value FROM binds WHERE file_id = ? AND kind != 'arg'",
                                       (fid,)):
            hit.setdefault(sid, []).append(tuple(bind))
    return hit
