"""Which files to resolve again after an update: the old and new *shapes* of the changed files,
compared by qualified name, and the call sites that read what changed.

A file's shape is what other files' resolution can see of it, without positions (a line shift
changes nothing): its definitions (qualname, kind, signature), its classes' bases, its imports
and its value-flow facts (pyflow binds: returns, assignments, decorators, annotations, call
arguments), each keyed by the qualified name it is reached through (a function for its returns
and locals, `mod.x` / `Cls.x` for a module or class attribute, the decorated definition for a
decorator). A body edit that changes none of these changes no shape and re-resolves no other
file. Otherwise, besides the changed files themselves, these are resolved again:

- changed or removed keys: files with calls, imports or bases whose stored target is the key
  (or a definition nested in a changed function); for a class whose bases changed, the calls
  named like the class (constructors reaching an inherited `__init__`); for a changed module or
  class attribute or import, the calls and imports of that name;
- added definitions (`C.doit`): calls of that name that are unresolved today, or whose target is
  that name in a class of C's MRO (they may be captured), and unresolved imports of that name;
  a name defined nowhere before (or nowhere any more) flips `external` <-> `name`;
- value flow, to a fixed point (a few rounds): a call of a changed function whose result its
  scope assigns or returns changes that scope's value too (`obj = make()` at module level makes
  `mod.obj` a changed key);
- arguments: a changed argument at a call site changes the callee's parameters: after the first
  resolve, the files defining the call's old and new targets are resolved too.

What it does not follow (a full rebuild would): values that reach a call through more than the
rounds above, or through a receiver whose type flows from an unchanged intermediate file after a
class's bases changed. tests/test_incremental.py checks incremental == fresh on synthetic edits.
"""
from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field

from .parse import FileFacts

FUNCS = {"function", "method", "lambda"}
CALLABLE = {"function", "method", "class"}  # what `has_name` counts (resolve_python / resolve_generic)
LOCAL_ONLY = {"iter", "with", "op"}  # binds that only make calls in their own file
_IDENT = re.compile(r"[A-Za-z_]\w*")
VALUE_ROUNDS = 3  # rounds of value flow followed from a changed function to its callers' bindings


@dataclass
class Shape:
    defs: dict = field(default_factory=dict)  # qualname -> (name, kind, signature)
    items: set = field(default_factory=set)  # (key, tag, ...) position-free facts
    import_targets: dict = field(default_factory=dict)  # import item -> stored target (old shape only)
    base_targets: dict = field(default_factory=dict)  # class qualname -> [stored base targets] (old only)
    call_targets: dict = field(default_factory=dict)  # (caller, callee text) -> {stored targets} (old only)


def _join(scope: str, name: str) -> str:
    return f"{scope}.{name}" if scope else name


def _shape(module: str, defs: list[tuple], bases, binds, imports, calls) -> Shape:
    """defs: (name, qual, kind, sig, parent idx or -1); bases: (def idx, base); binds: (scope idx,
    name, kind, value, line); imports: (scope idx, module, name, alias, level); calls: (line, col) -> callee text."""
    sh = Shape()
    for name, qual, kind, sig, _p in defs:
        sh.defs[qual] = (name, kind, sig)
    items = sh.items

    def scope(i: int) -> tuple[str, str]:
        return (defs[i][1], defs[i][2]) if 0 <= i < len(defs) else (module, "module")

    for d, base in bases:
        if 0 <= d < len(defs):
            items.add((defs[d][1], "base", base))
    for s, name, kind, value, line in binds:
        if kind in LOCAL_ONLY:
            continue
        sq, sk = scope(s)
        if kind == "arg":
            col, _, slot = name.partition("|")
            items.add((sq, "arg", calls.get((line, int(col)) if col.isdigit() else None, ""), slot, value))
        elif kind == "deco":
            items.add((_join(sq, name), "deco", value))
        elif kind in ("=", "type") and sk not in FUNCS:
            if name.isidentifier():  # a module or class attribute
                items.add((_join(sq, name), "attr", kind, value))
            elif "[" not in name:  # `obj.x = v`: class attributes are looked up by attribute name
                items.add((name.rsplit(".", 1)[-1], "setattr", sq, value))
        elif kind == "=" and "[" not in name and "." in name:  # `self.x = v` in a method
            items.add((name.rsplit(".", 1)[-1], "setattr", sq, value))
            items.add((sq, "flow", kind, name, value))
        else:  # returns and locals of a function: its value as a callee sees it
            items.add((sq, "flow", kind, name, value))
    for s, mod, name, alias, level in imports:
        sq, sk = scope(s)
        local = alias or name or mod.split(".")[0]
        items.add((sq if sk in FUNCS else _join(sq, local), "import", mod, name, alias, level))
    return sh


def facts_shape(f: FileFacts) -> Shape:
    """The shape of freshly extracted (placed) facts."""
    defs = [(d[0], d[1], d[2], d[7], d[9]) for d in f.defs]
    calls = {(c[3], c[4]): c[1] for c in f.calls if not c[6] or c[6] == 1}
    return _shape(f.module, defs, f.bases, [(s, n, k, v, ln) for s, n, k, v, ln in f.binds],
                  [(s, m, n, a, lv) for s, m, n, a, _ln, lv in f.imports], calls)


def stored_shape(conn: sqlite3.Connection, file_id: int) -> Shape:
    """The shape of a file as the index holds it, with the targets it resolved to then."""
    q = conn.execute
    module = (q("SELECT module FROM files WHERE id=?", (file_id,)).fetchone() or ("",))[0]
    rows = list(q("SELECT id, name, qualname, kind, signature, parent_id FROM symbols WHERE file_id=? ORDER BY id", (file_id,)))
    index = {r[0]: i for i, r in enumerate(rows)}
    defs = [(n, qual, k, sig, index.get(p, -1)) for _id, n, qual, k, sig, p in rows]
    bases, base_targets = [], {}
    for sid, base, target in q("SELECT symbol_id, base, target FROM bases WHERE file_id=?", (file_id,)):
        if sid in index:
            bases.append((index[sid], base))
            if target:
                base_targets.setdefault(defs[index[sid]][1], []).append(target)
    binds = [(index.get(s, -1), n, k, v, ln) for s, n, k, v, ln in
             q("SELECT scope_id, name, kind, value, line FROM binds WHERE file_id=?", (file_id,))]
    imports, targets = [], {}
    for s, mod, name, alias, level, target in q(
            "SELECT scope_id, module, name, alias, level, target FROM imports WHERE file_id=?", (file_id,)):
        imports.append((index.get(s, -1), mod, name, alias, level))
        targets[(index.get(s, -1), mod, name, alias, level)] = target
    calls, call_targets = {}, {}
    for caller, callee, line, col, is_new, target in q(
            "SELECT caller, callee_text, line, col, is_new, target FROM calls WHERE file_id=?", (file_id,)):
        if is_new <= 1:
            calls[(line, col)] = callee
        if target and not target.startswith("<"):
            call_targets.setdefault((caller, callee), set()).add(target)
    sh = _shape(module, defs, bases, binds, imports, calls)
    sh.base_targets, sh.call_targets = base_targets, call_targets
    for key, target in targets.items():  # keyed like the import items, for the changed ones' old targets
        s, mod, name, alias, level = key
        sq, sk = (defs[s][1], defs[s][2]) if s >= 0 else (module, "module")
        local = alias or name or mod.split(".")[0]
        sh.import_targets[(sq if sk in FUNCS else _join(sq, local), "import", mod, name, alias, level)] = target
    return sh


@dataclass
class Changes:
    """What the changed files of one update changed, for `files_to_resolve`."""

    keys: set = field(default_factory=set)  # qualnames whose definition or value changed or went
    prefixes: set = field(default_factory=set)  # changed functions: definitions nested in them too
    values: set = field(default_factory=set)  # keys whose value changed (followed through callers)
    names: set = field(default_factory=set)  # every call and import of these names
    added: dict = field(default_factory=dict)  # added definition -> (name, owner's old MRO targets)
    added_names: set = field(default_factory=set)  # function/method/class names newly defined
    removed_names: set = field(default_factory=set)  # ... no longer defined in a changed file
    modules: set = field(default_factory=set)  # modules added or removed
    arg_calls: set = field(default_factory=set)  # (caller, callee text) whose arguments changed
    arg_targets: set = field(default_factory=set)  # their old targets

    def add(self, old: Shape | None, new: Shape | None, module: str) -> None:
        """One changed file: `old` is None for a new file, `new` None for a deleted one."""
        if old is None or new is None:
            self.modules.add(module)
        old, new = old or Shape(), new or Shape()
        for qual, (name, kind, sig) in old.defs.items():
            now = new.defs.get(qual)
            if now is None or now[1:] != (kind, sig):
                self.keys.add(qual)
                if kind in FUNCS:
                    self.prefixes.add(qual)
            if now is None and kind in CALLABLE:
                self.removed_names.add(name)
            if kind == "class" and (now is None or now[1] != kind):
                self.names.add(name)  # constructors reaching an inherited __init__
        for qual, (name, kind, _sig) in new.defs.items():
            if qual not in old.defs:
                owner = qual.rsplit(".", 1)[0] if "." in qual else ""
                self.added[qual] = (name, owner, tuple(old.base_targets.get(owner, ())))
                if kind in CALLABLE:
                    self.added_names.add(name)
        diff = old.items ^ new.items
        for caller, callee in _moved_arguments(old, new, diff):
            self.arg_calls.add((caller, callee))
            self.arg_targets |= old.call_targets.get((caller, callee), set())
        for item in diff:
            key, tag = item[0], item[1]
            if tag == "base":
                self.keys.add(key)
                self.names.add(key.rsplit(".", 1)[-1])
            elif tag == "arg":
                pass
            elif tag == "setattr":
                self.names.add(key)
            elif tag in ("attr", "import"):  # reached through `mod.x` / `Cls.x` or re-exported
                self.keys.add(key)
                self.values.add(key)
                self.names.add(key.rsplit(".", 1)[-1])
                if item in old.import_targets and old.import_targets[item]:
                    self.keys.add(old.import_targets[item])
            else:  # flow, deco: the value of a function or a decorated definition
                self.keys.add(key)
                self.values.add(key)
                self.prefixes.add(key)

    def __bool__(self) -> bool:
        return bool(self.keys or self.names or self.added or self.removed_names or self.modules or self.arg_calls)


def _moved_arguments(old: Shape, new: Shape, diff: set) -> set[tuple[str, str]]:
    """(caller, callee text) of the calls whose arguments may carry other values now, or reach other
    functions: an argument that changed, or an argument or callee that names something bound
    differently in this file (directly or through the file's own assignments, to a fixed point;
    scopes are not told apart)."""
    dirty = {v[0] for q, v in old.defs.items() if new.defs.get(q) != v}
    dirty |= {v[0] for q, v in new.defs.items() if old.defs.get(q) != v}
    out = set()
    for item in diff:
        tag = item[1]
        if tag == "arg":
            out.add((item[0], item[2]))
        elif tag in ("attr", "import", "deco"):
            dirty.add(item[0].rsplit(".", 1)[-1])
        elif tag == "flow" and item[3]:
            dirty.add(_IDENT.match(item[3]).group() if _IDENT.match(item[3]) else item[3])
    if not dirty:
        return out
    flows = [(i[3], set(_IDENT.findall(i[4]))) for i in old.items | new.items if i[1] == "flow" and i[3]]
    flows += [(i[0].rsplit(".", 1)[-1], set(_IDENT.findall(i[3]))) for i in old.items | new.items if i[1] == "attr"]
    grew = True
    while grew:
        grew = False
        for name, uses in flows:
            if name not in dirty and uses & dirty:
                dirty.add(name)
                grew = True
    for item in old.items | new.items:
        if item[1] == "arg" and (set(_IDENT.findall(item[4])) | set(_IDENT.findall(item[2])[:1])) & dirty:
            out.add((item[0], item[2]))
    return out


_OURS = "lang NOT IN ('text', 'skipped')"


def _temp(conn: sqlite3.Connection, name: str, values, kind: str = "TEXT") -> None:
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name}(v {kind} PRIMARY KEY)")
    conn.execute(f"DELETE FROM {name}")
    conn.executemany(f"INSERT OR IGNORE INTO {name} VALUES(?)", [(v,) for v in values])


def _value_flow(conn: sqlite3.Connection, values: set, names: set) -> set:
    """Keys whose value follows from a changed one: a scope that assigns or returns the result of a
    call of a changed function (`obj = make()`), for a few rounds. The names of module and class
    attributes found go into `names` (an import of one has no target to follow: it is no definition)."""
    out, frontier = set(), set(values)
    for _round in range(VALUE_ROUNDS):
        if not frontier:
            break
        _temp(conn, "inv_front", frontier)
        found = set()
        for caller, cname, sq, skind, bkind, bname, value in conn.execute(
                "SELECT c.caller, c.name, s.qualname, s.kind, b.kind, b.name, b.value FROM calls c "
                "JOIN inv_front k ON c.target = k.v "
                "JOIN binds b ON b.file_id = c.file_id AND b.scope_id IS c.caller_id AND b.kind IN ('=', 'return') "
                "LEFT JOIN symbols s ON s.id = c.caller_id"):
            if cname + "()" not in value:
                continue
            if skind in FUNCS:
                found.add(caller)
            elif bname.isidentifier():  # a module or class attribute
                found.add(_join(sq or caller, bname))
                names.add(bname)
        frontier = found - out - values
        out |= frontier
    return out


def files_to_resolve(conn: sqlite3.Connection, ch: Changes) -> set[int]:
    """The ids of unchanged files whose calls may now resolve differently (see the module docstring)."""
    q = conn.execute
    keys = set(ch.keys)
    if ch.values:
        flow = _value_flow(conn, ch.values, ch.names)
        keys |= flow
        ch.prefixes |= {k for k in flow if k not in ch.keys}
    files: set[int] = set()
    _temp(conn, "inv_keys", keys)
    for sql in ("SELECT c.file_id FROM inv_keys k JOIN calls c ON c.target = k.v",
                "SELECT i.file_id FROM inv_keys k JOIN imports i ON i.target = k.v",
                "SELECT b.file_id FROM inv_keys k JOIN bases b ON b.target = k.v"):
        files.update(r[0] for r in q(sql))
    for p in ch.prefixes:  # definitions nested in a changed function (closures, lambdas)
        files.update(r[0] for r in q("SELECT file_id FROM calls WHERE target > ? AND target < ?", (p + ".", p + "/")))
    _temp(conn, "inv_names", ch.names)
    files.update(r[0] for r in q("SELECT c.file_id FROM inv_names n JOIN calls c ON c.name = n.v"))
    files.update(r[0] for r in q("SELECT i.file_id FROM inv_names n JOIN imports i ON i.name = n.v OR i.alias = n.v"))
    # added definitions: the calls they may capture
    captured: set[str] = set()
    for qual, (name, owner, old_bases) in ch.added.items():
        for anc in _ancestors(conn, owner, old_bases):
            captured.add(_join(anc, name))
    _temp(conn, "inv_keys", captured)
    files.update(r[0] for r in q("SELECT c.file_id FROM inv_keys k JOIN calls c ON c.target = k.v"))
    # unresolved calls and imports of a newly defined name, and names defined nowhere any more
    flips = {n for n in ch.removed_names if q(
        "SELECT 1 FROM symbols WHERE name=? AND kind IN ('function','method','class') LIMIT 1", (n,)).fetchone() is None}
    _temp(conn, "inv_names", {d[0] for d in ch.added.values()} | flips)
    files.update(r[0] for r in q(
        "SELECT c.file_id FROM inv_names n JOIN calls c ON c.name = n.v "
        "WHERE c.target IS NULL OR c.target = '<external>.' || n.v"))
    files.update(r[0] for r in q(
        "SELECT i.file_id FROM inv_names n JOIN imports i ON i.name = n.v WHERE i.target IS NULL"))
    for mod in ch.modules:  # a module that appeared or went: imports of it
        last = mod.rsplit(".", 1)[-1]
        files.update(r[0] for r in q(
            "SELECT file_id FROM imports WHERE target = ? OR (target > ? AND target < ?) OR "
            "(target IS NULL AND (module = ? OR name = ? OR module = ? OR ? LIKE '%.' || module))",
            (mod, mod + ".", mod + "/", mod, last, last, mod)))
    for t in ("inv_keys", "inv_names", "inv_front"):
        q(f"DROP TABLE IF EXISTS temp.{t}")
    return files


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


def argument_files(conn: sqlite3.Connection, ch: Changes, changed_ids: set[int]) -> set[int]:
    """After a resolve: the files defining the old and new targets of calls whose arguments changed."""
    if not ch.arg_calls:
        return set()
    targets = set(ch.arg_targets)
    _temp(conn, "inv_ids", changed_ids, "INTEGER")
    for caller, callee in ch.arg_calls:
        targets.update(r[0] for r in conn.execute(
            "SELECT target FROM calls WHERE caller=? AND callee_text=? AND target IS NOT NULL "
            "AND file_id IN (SELECT v FROM inv_ids)", (caller, callee)))
    _temp(conn, "inv_keys", targets)
    out = set()
    for sid, fid, qual, kind, sig in conn.execute(
            "SELECT s.id, s.file_id, s.qualname, s.kind, s.signature FROM inv_keys k JOIN symbols s ON s.qualname = k.v"):
        if fid in out:
            continue
        if kind == "class":  # its __init__ takes the arguments
            row = conn.execute("SELECT id, qualname, kind, signature FROM symbols WHERE parent_id=? AND name='__init__'",
                               (sid,)).fetchone()
            if row is None:
                continue
            sid, qual, kind, sig = row
        if kind in FUNCS and _uses_params(conn, sid, qual, sig):
            out.add(fid)
    conn.execute("DROP TABLE IF EXISTS temp.inv_keys")
    conn.execute("DROP TABLE IF EXISTS temp.inv_ids")
    return out


def _uses_params(conn: sqlite3.Connection, sid: int, qual: str, sig: str) -> bool:
    """Does a function use a parameter's value where resolution looks at it: a call or a flow fact
    of it or of a function nested in it (where a parameter's value is only passed on, it does not)?"""
    from .resolve_python import params_of

    params = {p for p, _k in params_of(sig)} - {"self", "cls"}
    if not params:
        return False
    for (callee,) in conn.execute("SELECT callee_text FROM calls WHERE caller_id=? OR (caller > ? AND caller < ?)",
                                  (sid, qual + ".", qual + "/")):
        m = _IDENT.match(callee)
        if m and m.group() in params:
            return True
    for (value,) in conn.execute(
            "SELECT b.value FROM binds b JOIN symbols s ON s.id = b.scope_id WHERE b.kind != 'arg' AND "
            "(s.id = ? OR (s.qualname > ? AND s.qualname < ?))", (sid, qual + ".", qual + "/")):
        if params & set(_IDENT.findall(value)):
            return True
    return False
