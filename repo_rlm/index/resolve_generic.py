"""Tie call sites of non-Python files to the definitions they reach, by a few plain rules.

A call is `resolved` when one of these tied it: the enclosing class (`this.x()`, `self.x()`,
`$this->x()`, a bare `x()` in languages with an implicit `this`, a Go/Rust receiver), the
class hierarchy, enclosing functions and the same file, the same package (Go: the same
directory; Java, Kotlin, C#, PHP: the declared package/namespace), imports (JS/TS relative
paths incl. index files and re-exports, Go import paths, Java/Kotlin/PHP/C#/Rust `use`,
C/C++ `#include`, Ruby `require`), constructors (`new Foo()`) and typed receivers (`x = new
Foo(); x.m()`, `Foo x`, `x: Foo`, `x := NewFoo()`). JS/TS also follow a few value flows (the
`js_*` methods: functions in consts, aliases, object literals and class fields, callbacks passed
as arguments); a call that reaches several functions gets one row per function, labelled `name`.
Anything else is `name` (some definition has that name; the query layer matches it by name),
`builtin` or `external`.

A bulk update loads everything with a few SELECTs up front; a few files (an editor's save) load
only what resolution reaches, per file, through indexed lookups. Per-call work is dictionary lookups.
"""
from __future__ import annotations

import bisect
import posixpath
import re
import sqlite3
from collections import defaultdict
from sys import intern

from .resolve_base import BULK, MADE, CallTargets, clear_made, clear_targets, write_imports_and_bases

_OURS = "lang NOT IN ('python', 'text', 'skipped')"  # the files this module resolves
_EMPTY: dict = {}
CLASSISH = {"class", "struct", "interface", "trait", "enum", "object", "module", "type"}
NAMESPACES = {"namespace", "module"}
IMPLICIT_THIS = {"java", "csharp", "kotlin", "cpp", "ruby"}  # a bare `m()` may be `this.m()`
SELF = {"this", "self", "$this", "static", "Self", "@"}
SUPER = {"super", "base", "parent"}
FAMILY = {"tsx": "ts", "typescript": "ts", "javascript": "ts", "c": "c", "cpp": "c", "java": "jvm", "kotlin": "jvm"}
CTOR = {"typescript": "constructor", "tsx": "constructor", "javascript": "constructor", "ruby": "initialize",
        "php": "__construct"}
JS_EXT = ("", ".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts", "/index.ts", "/index.tsx", "/index.js",
          "/index.jsx")
BUILTINS = {
    "ts": {"require", "parseInt", "parseFloat", "setTimeout", "setInterval", "clearTimeout", "fetch", "atob", "btoa",
           "isNaN", "Array", "Object", "String", "Number", "Boolean", "Promise", "Error", "Date", "Map", "Set",
           "Symbol", "super"},
    "go": {"append", "cap", "close", "copy", "delete", "len", "make", "new", "panic", "print", "println", "recover",
           "min", "max", "clear", "string", "int", "byte", "error"},
    "rust": {"println", "print", "eprintln", "format", "write", "writeln", "vec", "panic", "assert", "assert_eq",
             "assert_ne", "debug_assert", "unreachable", "todo", "unimplemented", "matches", "Some", "Ok", "Err",
             "Box", "dbg"},
    "c": {"printf", "fprintf", "sprintf", "snprintf", "malloc", "calloc", "realloc", "free", "memcpy", "memset",
          "strlen", "strcmp", "strcpy", "puts", "exit", "assert", "sizeof"},
    "ruby": {"puts", "print", "p", "require", "require_relative", "raise", "attr_accessor", "attr_reader",
             "attr_writer", "include", "extend", "private", "protected", "public", "lambda", "proc", "loop"},
    "kotlin": {"println", "print", "listOf", "mapOf", "setOf", "mutableListOf", "mutableMapOf", "require",
               "check", "error", "TODO", "lazy", "repeat"},
    "php": {"isset", "unset", "empty", "count", "array_map", "array_filter", "in_array", "sprintf", "strlen",
            "error_log", "str_starts_with", "json_encode", "json_decode"},
}
_BUILTIN_RECEIVERS = {"ts": {"console", "JSON", "Math", "Object", "Array", "Promise", "Date", "Number"},
                      "java": {"System"}, "csharp": {"Console"}}
_SPLIT = re.compile(r"(.*?)(?:\?\.|->|::|&\.|\.|\\)([^.:>\\]*)$")
_GENERIC = re.compile(r"<[^<>]*>|\([^()]*\)|\[[^\[\]]*\]")
_RET = [re.compile(r"\)\s*(?::|->)?\s*[*&]?\s*([A-Z]\w*)[^()]*$"),  # Go, Rust, TS, Kotlin return types
        re.compile(r"(?:^|\s)([A-Z]\w*)(?:<[^>]*>)?\s+\w+\s*\(")]        # Java, C#, C++: `Type name(`


def _clean(text: str) -> str:
    """`Foo<Bar>` -> `Foo`, `*pkg.T` -> `pkg.T`, `f(x).g` -> `f.g`: a path of names."""
    prev = None
    while prev != text:
        prev, text = text, _GENERIC.sub("", text)
    return re.sub(r"^[*&\\]+(?:mut(?=\w))?", "", text.strip())


def _split(text: str) -> tuple[str, str]:
    """`a.b.c` -> (`a.b`, `c`); separators `.`, `?.`, `::`, `->`, `&.`, `\\`."""
    m = _SPLIT.match(text)
    return (m.group(1), m.group(2)) if m else ("", text)


class World:
    """The non-Python part of the repository, as dictionaries.

    The file table is read whole (paths, languages, packages: cheap). Definitions, imports,
    bases and bindings are read per file as resolution reaches them when few files are
    resolved (an editor's save), or with a few SELECTs up front for a bulk update (`bulk`).
    Every accessor (`kind_of`, `members_of`, `bases_of`, `attrs_of`, `has_name`, ...) first
    loads all the files its answer depends on, and "first definition" means the lowest
    symbol id, so both modes give the same answers.
    """

    def __init__(self, conn: sqlite3.Connection, bulk: bool = True) -> None:
        self.conn = conn
        self.bulk = bulk
        self.files: dict[int, tuple] = {}  # id -> (path, lang, module, package)
        self.by_path: dict[str, int] = {}
        self.by_base: dict[str, list[str]] = defaultdict(list)  # file name -> paths
        for fid, path, lang, module, package in conn.execute(
                f"SELECT id, path, lang, module, package FROM files WHERE {_OURS} ORDER BY id"):
            self.files[fid] = (path, lang, module, package)
            self.by_path[path] = fid
            self.by_base[posixpath.basename(path)].append(path)
        # files by package (Java, Kotlin, C#, PHP) and Go files by directory
        self.by_package: dict[tuple, list[int]] = defaultdict(list)
        for fid, (path, lang, _m, package) in self.files.items():
            if lang == "go":
                self.by_package[("go", posixpath.dirname(path))].append(fid)
            elif package:
                self.by_package[(FAMILY.get(lang, lang), package)].append(fid)
        self.sym: dict[int, tuple] = {}  # id -> (file_id, parent_id, name, qualname, kind)
        self.file_syms: dict[int, list[int]] = defaultdict(list)
        self._first: dict[str, tuple] = {}  # qualname -> (symbol id, kind, signature) of its first definition
        self.members: dict[str, dict[str, str]] = defaultdict(dict)  # owner qualname -> name -> qualname
        self._member_sid: dict[tuple, int] = {}
        self.bases: dict[str, list[tuple]] = defaultdict(list)  # class qualname -> [(rowid, file_id, base)]
        self.base_rows: dict[int, list[tuple]] = defaultdict(list)  # file_id -> [(symbol_id, base)]
        self.imports: dict[int, list[tuple]] = defaultdict(list)
        self.binds: dict[tuple, dict[str, tuple]] = defaultdict(dict)  # (file, scope) -> name -> (kind, value)
        self._self_binds: dict[int, list[tuple]] = defaultdict(list)  # file -> [(line, rowid, scope, name, kind, value)]
        self.attrs: dict[str, dict[str, tuple]] = {}  # class qualname -> attr -> (kind, value, fid)
        self._loaded: set[int] = set()
        self._quals: set[str] = set()    # qualnames whose defining files are loaded
        self._owners: set[str] = set()   # owners whose members' files are loaded
        self._names: dict[str, bool] = {}
        self._top: dict[int, dict[str, str]] = {}
        self._bindings: dict[tuple, list[tuple]] = {}
        self._go: dict[str, list[int]] = {}
        self._pkg: dict[tuple, dict[str, str]] = {}
        self._types: dict[tuple, str] = {}
        self._visible: dict[int, tuple] = {}
        self._typing: set[tuple] = set()  # call bindings being typed (a cycle guard)
        self.refs: dict[int, list[tuple]] = defaultdict(list)  # file -> [(scope, value, line)]: values passed on (Go)
        self.values: dict[tuple, dict[str, str]] = defaultdict(dict)  # (file, scope) -> local -> value it holds (Go)
        self._dispatch: dict = {}  # caches of the Go/Java/C# dispatch functions at the end of this module
        self._js_busy: set[tuple] = set()  # JS/TS value flow: questions being answered (cycles)
        self._js_params: dict[int, list[str]] = {}
        self._js_sites: dict[str, list[tuple]] | None = None
        self._js_packaged: dict[int, set[str]] = {}
        self._js_local: dict[tuple, list[str] | None] = {}
        self._js_workspaces: dict[str, str] | None = None  # package name -> directory (package.json)
        self._js_workspace_files: dict[str, list[int]] = {}
        self._js_chain: dict[tuple, str] = {}
        self._js_site_target: dict[tuple, str] = {}
        if bulk:
            self._load(None)
            self._loaded = set(self.files)
            self._names = {r[0]: True for r in conn.execute(
                f"SELECT DISTINCT s.name FROM symbols s JOIN files f ON f.id = s.file_id WHERE f.{_OURS}")}
            rows = sorted((r + (fid,) for fid, rs in self._self_binds.items() for r in rs), key=lambda r: r[:2])
            for _line, _rowid, scope, name, kind, value, fid in rows:
                cls = self.enclosing_class(scope)
                if cls:
                    self.attrs.setdefault(cls, {}).setdefault(name.lstrip("@$"), (kind[5:], value, fid))

    # -- loading -------------------------------------------------------------------------------

    def _rows(self, sql: str, fids: list[int] | None):
        """Rows of `sql` (a SELECT over alias `t` with a `{where}` slot) for these files, or all ours."""
        if fids is None:
            yield from self.conn.execute(sql.format(where=f"t.file_id IN (SELECT id FROM files WHERE {_OURS})"))
            return
        for i in range(0, len(fids), 500):
            part = fids[i:i + 500]
            yield from self.conn.execute(sql.format(where=f"t.file_id IN ({','.join('?' * len(part))})"), part)

    def _load(self, fids: list[int] | None) -> None:
        """The facts of some files (a bulk world: all, each repeated string kept once: intern)."""
        bulk = self.bulk
        for sid, fid, parent, name, qual, kind, sig in self._rows(
                "SELECT t.id, t.file_id, t.parent_id, t.name, t.qualname, t.kind, t.signature FROM symbols t "
                "WHERE {where} ORDER BY t.id", fids):
            if bulk:
                name, kind, sig = intern(name), intern(kind), intern(sig) if sig else sig
            self.sym[sid] = (fid, parent, name, qual, kind)
            self.file_syms[fid].append(sid)
            first = self._first.get(qual)
            if first is None or sid < first[0]:
                self._first[qual] = (sid, kind, sig)
            if "." in qual:
                key = (qual.rsplit(".", 1)[0], name)
                old = self._member_sid.get(key)
                if old is None or sid < old:
                    self._member_sid[key] = sid
                    self.members[key[0]][name] = qual
        for rowid, sid, fid, base in self._rows(
                "SELECT t.rowid, t.symbol_id, t.file_id, t.base FROM bases t WHERE {where} ORDER BY t.rowid", fids):
            self.base_rows[fid].append((sid, base))
            if sid in self.sym:
                bisect.insort(self.bases[self.sym[sid][3]], (rowid, fid, base))
        for iid, fid, module, name, alias in self._rows(
                "SELECT t.id, t.file_id, t.module, t.name, t.alias FROM imports t WHERE {where} ORDER BY t.id", fids):
            if bulk:
                module, name, alias = intern(module), intern(name), intern(alias)
            self.imports[fid].append((iid, module, name, alias))
        for rowid, fid, scope, name, kind, value, line in self._rows(
                "SELECT t.rowid, t.file_id, t.scope_id, t.name, t.kind, t.value, t.line FROM binds t "
                "WHERE {where} ORDER BY t.line, t.rowid", fids):
            if bulk:
                name, kind, value = intern(name), intern(kind), intern(value)
            if kind.startswith("self_"):
                self._self_binds[fid].append((line, rowid, scope, name, kind, value))
            elif kind == "alias" and name == value:  # a function or method value passed on (go.scm)
                self.refs[fid].append((scope, value, line))
            else:
                self.binds[(fid, scope)].setdefault(name, (kind, value))
                if kind == "alias":  # `var h Handler = helper`: the type for `h.x()`, the value for `h()`
                    self.values[(fid, scope)].setdefault(name, value)

    def ensure_files(self, fids) -> None:
        todo = [f for f in dict.fromkeys(fids) if f not in self._loaded and f in self.files]
        if todo:
            self._loaded.update(todo)
            self._load(todo)

    def _files_where(self, where: str, args: tuple) -> list[int]:
        return [f for (f,) in self.conn.execute(f"SELECT DISTINCT file_id FROM symbols WHERE {where}", args)
                if f in self.files]

    def ensure_qual(self, qual: str) -> None:
        """Load every file that defines `qual`."""
        if not self.bulk and qual not in self._quals:
            self._quals.add(qual)
            self.ensure_files(self._files_where("qualname = ?", (qual,)))

    def kind_of(self, qual: str) -> str | None:
        self.ensure_qual(qual)
        first = self._first.get(qual)
        return first[1] if first else None

    def sig_of(self, qual: str) -> str:
        self.ensure_qual(qual)
        first = self._first.get(qual)
        return first[2] if first else ""

    def members_of(self, owner: str) -> dict[str, str]:
        """name -> qualname of the definitions directly inside `owner` (the first of each name)."""
        if not self.bulk and owner not in self._owners:
            self._owners.add(owner)
            self.ensure_files(self._files_where(
                "qualname >= ? AND qualname < ? AND instr(substr(qualname, ?), '.') = 0",
                (owner + ".", owner + "/", len(owner) + 2)))
        return self.members.get(owner, _EMPTY)

    def bases_of(self, cls: str) -> list[tuple]:
        """[(file_id, base as written)] of a class, over all its definitions."""
        self.ensure_qual(cls)
        return [(fid, base) for _r, fid, base in self.bases.get(cls, ())]

    def attrs_of(self, cls: str) -> dict[str, tuple]:
        """attr -> (kind, value, file_id): the typed `self.x = ...` bindings of a class."""
        if cls not in self.attrs and not self.bulk:
            fids = self._files_where("qualname >= ? AND qualname < ?", (cls, cls + "/"))
            self.ensure_files(fids)
            rows = sorted((r + (fid,) for fid in fids for r in self._self_binds.get(fid, ())), key=lambda r: r[:2])
            out: dict[str, tuple] = {}
            for _line, _rowid, scope, name, kind, value, fid in rows:
                if self.enclosing_class(scope) == cls:
                    out.setdefault(name.lstrip("@$"), (kind[5:], value, fid))
            self.attrs[cls] = out
        return self.attrs.get(cls, _EMPTY)

    def file_binds(self, fid: int, scope: int | None) -> dict[str, tuple]:
        self.ensure_files((fid,))
        return self.binds.get((fid, scope), _EMPTY)

    def has_name(self, name: str) -> bool:
        """Does some non-Python definition have this name? (for name matching)"""
        if name not in self._names:
            if self.bulk:
                return False
            self._names[name] = self.conn.execute(
                f"SELECT 1 FROM symbols s JOIN files f ON f.id = s.file_id WHERE s.name = ? AND f.{_OURS} LIMIT 1",
                (name,)).fetchone() is not None
        return self._names[name]

    # -- scopes --------------------------------------------------------------------------------

    def prefix(self, fid: int) -> str:
        _p, lang, module, package = self.files[fid]
        return module if lang == "go" else package or module  # Go qualnames start at the directory

    def enclosing_class(self, scope: int | None) -> str:
        """The qualname of the class-like definition around a scope (Go/Rust/C++ receivers too)."""
        if scope is None or scope not in self.sym:
            return ""
        qual = self.sym[scope][3]
        while "." in qual:
            kind = self.kind_of(qual)
            if kind in CLASSISH and kind not in NAMESPACES:
                return qual
            qual = qual.rsplit(".", 1)[0]
        return ""

    def top(self, fid: int) -> dict[str, str]:
        """Names a file defines for others: top-level definitions, classes at any depth, and
        functions inside namespaces/modules."""
        if fid not in self._top:
            out: dict[str, str] = {}
            prefix = self.prefix(fid)
            self.ensure_files((fid,))
            for sid in self.file_syms.get(fid, ()):
                _f, _p, name, qual, kind = self.sym[sid]
                owner = qual.rsplit(".", 1)[0] if "." in qual else ""
                if owner == prefix or kind in CLASSISH or self.kind_of(owner) in NAMESPACES:
                    out.setdefault(name, qual)
            self._top[fid] = out
        return self._top[fid]

    def visible(self, fid: int) -> tuple[dict, dict, dict]:
        """(name -> qualname, module alias -> file ids, the package's names) for one file."""
        if fid in self._visible:
            return self._visible[fid]
        path, lang, _m, package = self.files[fid]
        names: dict[str, str] = dict(self.top(fid))
        modules: dict[str, list[int]] = {}
        self.ensure_files((fid,))
        for iid, module, name, alias in self.imports.get(fid, ()):
            for local, kind, value in self.import_bindings(fid, module, name, alias):
                if kind == "module":
                    modules.setdefault(local, value)
                    if lang in ("c", "cpp", "ruby") or local == "*":
                        self.ensure_files(value)
                        for f in value:
                            for n, q in self.top(f).items():
                                names.setdefault(n, q)
                elif FAMILY.get(lang) == "ts":  # a JS module cannot also declare a name it imports: the import
                    names[local] = value         # wins over object properties' functions, even when not found
                elif value:
                    names.setdefault(local, value)
        key = ("go", posixpath.dirname(path)) if lang == "go" else (FAMILY.get(lang, lang), package) if package else None
        self._visible[fid] = (names, modules, self.package_names(key) if key else {})
        return self._visible[fid]

    def package_names(self, key: tuple) -> dict[str, str]:
        """Top-level names of all files of one package (or Go directory), merged once."""
        if key not in self._pkg:
            merged: dict[str, str] = {}
            self.ensure_files(self.by_package.get(key, ()))
            for other in self.by_package.get(key, ()):
                for n, q in self.top(other).items():
                    merged.setdefault(n, q)
            self._pkg[key] = merged
        return self._pkg[key]

    def lookup(self, fid: int, name: str) -> str:
        names, _modules, package = self.visible(fid)
        return names.get(name) or package.get(name, "")

    # -- imports ---------------------------------------------------------------------------------

    def import_bindings(self, fid: int, module: str, name: str, alias: str, depth: int = 0) -> list[tuple]:
        """What one import row binds: [(local name, 'module', [file ids]) | (local, 'symbol', qualname)]."""
        key = (fid, module, name, alias)
        if key not in self._bindings:
            self._bindings[key] = self._import_bindings(fid, module, name, alias, depth)
        return self._bindings[key]

    def _import_bindings(self, fid: int, module: str, name: str, alias: str, depth: int) -> list[tuple]:
        path, lang, _m, _p = self.files[fid]
        fam = FAMILY.get(lang, lang)
        if fam == "ts":
            files = self.js_files(path, module)
            if not files:
                return []
            if name == "*" or (not name and alias):
                default = self.js_export(files[0], alias, True, depth) if name != "*" else ""
                # no default export: CommonJS `const m = require('./m')` names the module's exports
                return [(alias, "symbol", default)] if default else [(alias, "module", files)]
            return [(alias or name, "symbol", self.js_export(files[0], name, False, depth))]
        if lang == "go":
            files = self.go_files(module)
            if not files:
                return []
            local = alias or self.files[files[0]][3] or module.rsplit("/", 1)[-1]
            return [(local, "module", files)]
        if fam == "jvm" or lang in ("csharp", "php"):
            mod = module.replace("\\", ".")
            if fam == "jvm" and name and name != "*" and mod.endswith("." + name):
                mod = mod[: -len(name) - 1]  # Kotlin keeps the whole path in the module
            if name in ("", "*"):
                files = self.by_package.get((fam, mod), [])
                return [("*", "module", files)] if files else []
            qual = f"{mod}.{name}" if mod else name
            if self.kind_of(qual) is not None:
                return [(alias or name, "symbol", qual)]
            return []
        if lang == "rust":
            files = self.rust_files(path, module)
            if name == "*":
                return [("*", "module", files)] if files else []
            if not name:
                return []
            sub = self.rust_files(path, f"{module}::{name}")
            if sub:
                return [(alias or name, "module", sub)]
            for f in files:
                q = self.top(f).get(name)
                if q:
                    return [(alias or name, "symbol", q)]
            return []
        if fam == "c":
            files = self.include_files(path, module)
            return [(module, "module", files)] if files else []
        if lang == "ruby":
            files = self.ruby_files(path, module)
            return [(module, "module", files)] if files else []
        return []

    def js_files(self, path: str, module: str) -> list[int]:
        if not module.startswith("."):
            return self.js_workspace_files(module)
        base = posixpath.normpath(posixpath.join(posixpath.dirname(path), module))
        for ext in JS_EXT:
            fid = self.by_path.get(base + ext)
            if fid is not None and FAMILY.get(self.files[fid][1]) == "ts":
                return [fid]
        return []

    def js_workspace_files(self, module: str) -> list[int]:
        """A package of this repository (a monorepo's `@vue/runtime-core`, found by the `name` in its
        package.json): its `src/index`, `index` or `lib/index`, or `src/<sub>` / `<sub>` for a subpath."""
        if module not in self._js_workspace_files:
            self._js_workspace_files[module] = self._js_workspace(module)
        return self._js_workspace_files[module]

    def _js_workspace(self, module: str) -> list[int]:
        if self._js_workspaces is None:
            self._js_workspaces = {}
            for path, body in self.conn.execute(
                    "SELECT f.path, x.body FROM files f CROSS JOIN chunks c ON c.file_id = f.id CROSS JOIN chunks_fts x "
                    "ON x.rowid = c.id "
                    "WHERE (f.path = 'package.json' OR f.path LIKE '%/package.json') AND c.start_line = 1"):
                m = _JSON_NAME.search(body)
                if m and "node_modules/" not in path:
                    self._js_workspaces.setdefault(m.group(1), posixpath.dirname(path))
        if not self._js_workspaces:
            return []
        parts = module.split("/")
        for n in (2, 1) if module.startswith("@") else (1,):
            root = self._js_workspaces.get("/".join(parts[:n]))
            if root is None:
                continue
            sub = "/".join(parts[n:])
            bases = [f"{root}/src/{sub}", f"{root}/{sub}"] if sub else [f"{root}/src/index", f"{root}/index", f"{root}/lib/index"]
            for base in bases:
                for ext in JS_EXT:
                    fid = self.by_path.get(base.lstrip("/") + ext)
                    if fid is not None and FAMILY.get(self.files[fid][1]) == "ts":
                        return [fid]
        return []

    def js_export(self, fid: int, name: str, default: bool, depth: int) -> str:
        """The qualname a JS/TS module exports under `name`, following `export {x} from` once or twice."""
        q = self.top(fid).get(name)
        if q:
            return q
        if depth < 3:
            for _iid, module, iname, alias in self.imports.get(fid, ()):
                if (alias or iname) == name and iname not in ("", "*"):
                    for _l, kind, value in self.import_bindings(fid, module, iname, alias, depth + 1):
                        if kind == "symbol" and value:
                            return value
        if default and (self.top(fid).get("default") or self.top(fid).get("exports")):
            return self.top(fid).get("default") or self.top(fid).get("exports")  # `export default {...}`
        if default:  # a default import named differently from the one class/function it exports
            tops = [q for n, q in self.top(fid).items() if self.kind_of(q) in ("class", "function")]
            if len(tops) == 1:
                return tops[0]
        return ""

    def go_files(self, module: str) -> list[int]:
        """The Go directory whose path ends with the longest tail of the import path."""
        if module not in self._go:
            self._go[module] = self._go_files(module)
        return self._go[module]

    def _go_files(self, module: str) -> list[int]:
        parts = module.split("/")
        best, best_n = [], 0
        for (lang, d), files in self.by_package.items():
            if lang != "go" or not d:
                continue
            dparts = d.split("/")
            n = 0
            while n < min(len(parts), len(dparts)) and parts[-1 - n] == dparts[-1 - n]:
                n += 1
            if n > best_n:
                best, best_n = files, n
        return best

    def rust_files(self, path: str, module: str) -> list[int]:
        segs = module.split("::")
        here = posixpath.dirname(path)
        if segs[0] == "crate":
            root = here
            while root and not any(self.by_path.get(f"{root}/{m}") for m in ("lib.rs", "main.rs")):
                root = posixpath.dirname(root)
            segs, base = segs[1:], root
        elif segs[0] in ("self", "super"):
            base = here if segs[0] == "self" else posixpath.dirname(here)
            segs = segs[1:]
        else:
            base = here
        if not segs:
            return []
        rel = "/".join(segs)
        for cand in (f"{base}/{rel}.rs", f"{base}/{rel}/mod.rs"):
            fid = self.by_path.get(cand.lstrip("/"))
            if fid is not None:
                return [fid]
        return []

    def include_files(self, path: str, module: str) -> list[int]:
        cand = posixpath.normpath(posixpath.join(posixpath.dirname(path), module))
        hits = [cand] if cand in self.by_path else [p for p in self.by_base.get(posixpath.basename(module), ())
                                                    if p.endswith("/" + module)][:1]
        out = []
        for h in hits:
            stem = h.rsplit(".", 1)[0]
            out += [self.by_path[p] for p in (h, stem + ".c", stem + ".cpp", stem + ".cc", stem + ".cxx")
                    if p in self.by_path and self.by_path[p] not in out]
        return out

    def ruby_files(self, path: str, module: str) -> list[int]:
        name = module if module.endswith(".rb") else module + ".rb"
        cand = posixpath.normpath(posixpath.join(posixpath.dirname(path), name))
        if cand in self.by_path:
            return [self.by_path[cand]]
        return [self.by_path[p] for p in self.by_base.get(posixpath.basename(name), ()) if p.endswith("/" + name)][:1]

    # -- types and members -----------------------------------------------------------------

    def resolve_type(self, fid: int, text: str) -> str:
        """The qualname of the class a type expression names, from where `fid` sees it."""
        text = _clean(text)
        if not text:
            return ""
        key = (fid, text)
        if key not in self._types:
            self._types[key] = ""  # guards against cycles while computing
            self._types[key] = self._resolve_type(fid, text)
        return self._types[key]

    def _resolve_type(self, fid: int, text: str) -> str:
        modules = self.visible(fid)[1]
        recv, name = _split(text)
        if recv:
            rq = self.resolve_type(fid, recv)
            if rq and name in self.members_of(rq):
                return self.members_of(rq)[name]
            for f in modules.get(recv, ()):
                q = self.top(f).get(name)
                if q:
                    return q
            if self.files[fid][1] in ("csharp", "java", "kotlin", "php") and \
                    self.kind_of(f"{recv}.{name}".replace("\\", ".")) is not None:
                return f"{recv}.{name}".replace("\\", ".")
        q = self.lookup(fid, name)
        if q and self.files[fid][1] in JS_LANGS and self.js_has_methods(q):  # `function Foo() {}` + prototype
            return q
        return q if q and self.kind_of(q) in CLASSISH | NAMESPACES else ""

    def member(self, cls: str, name: str, seen: set | None = None) -> str:
        """`name` in class `cls` or, failing that, in its bases (first found, depth first)."""
        q = self.members_of(cls).get(name)
        if q:
            return q
        seen = seen or set()
        seen.add(cls)
        for fid, base in self.bases_of(cls):
            bq = self.resolve_type(fid, base)
            if bq and bq not in seen:
                q = self.member(bq, name, seen)
                if q:
                    return q
        return ""

    def constructor(self, cls: str, lang: str) -> str:
        return self.members_of(cls).get(CTOR.get(lang, cls.rsplit(".", 1)[-1])) or cls

    def returns(self, qual: str, fid: int) -> str:
        """The class a function returns, read off its signature."""
        if self.kind_of(qual) in CLASSISH:
            return qual
        sig = self.sig_of(qual).split(" = ")[0]  # not a Kotlin expression body
        for rx in _RET:
            m = rx.search(sig)
            if m:
                t = m.group(1)
                if t == "Self" and "." in qual:
                    return qual.rsplit(".", 1)[0]
                return self.resolve_type(fid, t)
        return self.js_returns(qual) if FAMILY.get(self.files[fid][1]) == "ts" else ""

    # -- calls ---------------------------------------------------------------------------------

    def receiver_type(self, fid: int, scope: int | None, recv: str, cls: str, depth: int = 0) -> str:
        """The class of a receiver expression, or '' when unknown."""
        lang = self.files[fid][1]
        if recv in SELF:
            return cls
        if recv in SUPER:
            for bfid, base in self.bases_of(cls):
                return self.resolve_type(bfid, base)
            return ""
        head, attr = ("@", recv[1:]) if recv.startswith("@") else _split(recv)
        if head:  # `this.repo`, `h.checker`, `$this->x`, `@x`: a typed attribute of a known class
            htype = self.receiver_type(fid, scope, head, cls, depth + 1) if depth < 4 else ""
            hit = self.attrs_of(htype).get(attr) if htype else None
            if hit:
                return self.bind_type(hit[2], hit[:2], scope)
        if re.match(r"^[\w$]+$", recv):
            for s in self._scopes(scope):
                hit = self.file_binds(fid, s).get(recv)
                if hit:
                    return self.bind_type(fid, hit, scope)
            if lang in IMPLICIT_THIS and cls:  # a field used without `this.`
                hit = self.attrs_of(cls).get(recv.lstrip("@$"))
                if hit:
                    return self.bind_type(hit[2], hit[:2], scope)
            if FAMILY.get(lang) == "ts" and self.js_is_param(scope, recv):  # an untyped parameter
                return ""
        return self.resolve_type(fid, recv)

    def _scopes(self, scope: int | None):
        while scope is not None and scope in self.sym:
            yield scope
            scope = self.sym[scope][1]
        yield None

    def bind_type(self, fid: int, bind: tuple, scope: int | None) -> str:
        kind, value = bind
        if kind in ("type", "new"):
            return self.resolve_type(fid, value)
        if kind == "call":
            value = _clean(value.split("(")[0] if "(" in value else value)
            recv, name = _split(value)
            if recv and name == "new":  # Ruby `Foo.new`
                return self.resolve_type(fid, recv)
            key = (fid, scope, value)
            if key in self._typing:  # `x := x.Next()`: the binding's own call types its receiver
                return ""
            self._typing.add(key)
            try:
                target = self.call_target(fid, scope, value, False)
            finally:
                self._typing.discard(key)
            return self.returns(target, fid) if target else ""
        if kind == "alias":  # JS/TS `const s = other`: the type of what it names
            return self.js_guarded(("type", fid, scope, value), lambda: self.receiver_type(
                fid, scope, value, self.enclosing_class(scope)), "")
        return ""

    def call_target(self, fid: int, scope: int | None, callee: str, is_new: bool) -> str:
        """The qualname a call reaches through the rules in the module docstring, or ''."""
        lang = self.files[fid][1]
        js = lang in JS_LANGS
        if js and ")" in callee and not is_new:
            q = self.js_chain(fid, scope, callee)
            if q is not None:
                return q
        callee = _clean(callee)
        recv, name = _split(callee)
        cls = self.enclosing_class(scope)
        if lang == "ruby" and name == "new":
            owner = self.resolve_type(fid, recv) if recv else cls
            return self.constructor(owner, lang) if owner else ""
        if is_new:
            owner = self.resolve_type(fid, callee)
            return self.constructor(owner, lang) if owner else ""
        if recv:
            rtype = self.receiver_type(fid, scope, recv, cls)
            if js and not rtype:
                rtype = self.js_owner(fid, scope, recv)
            if rtype:
                return self.member(rtype, name) or (self.js_attr(rtype, name) if js else "")
            if js and name in ("call", "apply"):  # `f.call(this, x)` calls f
                q = self.js_function(fid, scope, recv)
                if q:
                    return q
            modules = self.visible(fid)[1]
            for f in modules.get(recv, ()):
                q = self.top(f).get(name)
                if q:
                    return q
            return ""
        if cls and lang in IMPLICIT_THIS:
            q = self.member(cls, name)
            if q:
                return q
        if js:
            local = self.js_local(fid, scope, name)
            if local is not None:
                return local[0] if len(local) == 1 else ""
        for s in self._scopes(scope):  # enclosing functions (never class bodies, see IMPLICIT_THIS)
            if s is not None and self.sym[s][4] not in CLASSISH:
                q = self.members_of(self.sym[s][3]).get(name)
                if q:
                    return q
        if lang == "go":  # a local shadows the package: `f := s.Run; f()` follows the value, else nothing
            local = go_local_value(self, fid, scope, name)
            if local is not None:
                return local
        q = self.lookup(fid, name)
        if q and self.kind_of(q) in CLASSISH:  # Kotlin `Foo()`, C++ `Foo(x)`: a constructor
            return self.constructor(q, lang)
        return q or ""

    # -- JavaScript/TypeScript value flow ------------------------------------------------------------
    # Functions held by `const`s, aliases, object properties and class fields, and callbacks: a
    # parameter called in a function reaches the functions its call sites pass (one call deep, the
    # union over call sites), and `arr.map(fn)`, `setTimeout(fn)`, `p.then(fn)`, ... call `fn`.

    def js_guarded(self, key: tuple, compute, default):
        """compute() unless the same question is being answered already (`x = x.next`, mutual aliases)."""
        if key in self._js_busy or len(self._js_busy) > 16:
            return default
        self._js_busy.add(key)
        try:
            return compute()
        finally:
            self._js_busy.discard(key)

    def js_local(self, fid: int, scope: int | None, name: str) -> list[str] | None:
        """What a bare `name()` reaches through the enclosing functions, innermost first: a nested
        function, a parameter (what its call sites pass), a local (`const f = g`, `g.bind(x)`;
        other locals reach nothing). None when nothing local has that name."""
        key = (fid, scope, name)
        if key not in self._js_local:
            found = self._js_local_uncached(fid, scope, name)
            if self._js_busy:  # inside a cycle guard the answer may be partial: do not keep it
                return found
            self._js_local[key] = found
        return self._js_local[key]

    def _js_local_uncached(self, fid: int, scope: int | None, name: str) -> list[str] | None:
        for s in self._scopes(scope):
            if s is not None:
                _f, _p, _n, qual, kind = self.sym[s]
                if kind in CLASSISH:
                    continue
                q = self.members_of(qual).get(name)
                if q:
                    return [q]
                params = self.js_params(s)
                if name in params:
                    if any(k[0] == "param" for k in self._js_busy):
                        return []  # one call deep: a parameter passed on is not followed (it was exponential)
                    i = params.index(name)
                    return self.js_guarded(("param", s, i), lambda: self.js_param_values(s, i), [])
            hit = self.file_binds(fid, s).get(name)
            if hit:
                kind, value = hit
                if kind == "call" and _clean(value).endswith(".bind"):
                    kind, value = "alias", _clean(value)[:-5]
                if kind != "alias":
                    return []
                q = self.js_guarded(("alias", fid, s, value), lambda: self.js_function(fid, s, value), "")
                return [q] if q else []
        return [] if self.js_package_import(fid, name) else None

    def js_package_import(self, fid: int, name: str) -> bool:
        """Is `name` imported from a package (`import {setTimeout as delay} from 'node:timers'`)?"""
        names = self._js_packaged.get(fid)
        if names is None:
            self.ensure_files((fid,))
            names = self._js_packaged[fid] = {alias or iname for _i, module, iname, alias in self.imports.get(fid, ())
                                              if not module.startswith(".") and not self.js_workspace_files(module)}
        return name in names

    def js_chain(self, fid: int, scope: int | None, callee: str) -> str | None:
        """`new Holder().go`, `A.make().run`, `api.get(x).then`: a method of what a call returns;
        None when the receiver is not a call."""
        m = _JS_CHAIN.match(_WS.sub("", callee))
        if not m:
            return None
        inner, name = m.groups()
        depth, j = 0, len(inner) - 1
        for j in range(len(inner) - 1, -1, -1):
            depth += (inner[j] == ")") - (inner[j] == "(")
            if not depth:
                break
        head = inner[:j]
        key = (fid, scope, head)
        rtype = self._js_chain.get(key)
        if rtype is None:
            if head.startswith("new") and _JS_PATH.fullmatch(head[3:]):
                rtype = self.resolve_type(fid, head[3:])
            else:
                q = self.call_target(fid, scope, head, False) if _JS_PATH.fullmatch(head) else ""
                rtype = self.returns(q, fid) if q else ""
            self._js_chain[key] = rtype
        return self.member(rtype, name) if rtype else None

    def js_returns(self, qual: str) -> str:
        """The class a JS/TS function returns: `(): A =>` or `=> new A(` in its signature."""
        first = self._first.get(qual)
        m = _JS_RETURNS.search(first[2]) if first else None
        return self.resolve_type(self.sym[first[0]][0], m.group(1) or m.group(2)) if m and first[0] in self.sym else ""

    def js_has_methods(self, qual: str) -> bool:
        """Is `qual` a function with methods (`Foo.prototype.m = function`)?"""
        return self.kind_of(qual) == "function" and any(
            self.kind_of(q) == "method" for q in self.members_of(qual).values())

    def js_owner(self, fid: int, scope: int | None, recv: str) -> str:
        """What `this` or a top-level name stands for where no class says: the function or object a
        method was assigned to (`Foo.prototype.m = function () { this.x() }`, `app.m = ...; app.m()`)."""
        if recv == "this":
            for s in self._scopes(scope):
                if s is None:
                    return ""
                _f, _p, _n, qual, kind = self.sym[s]
                if kind == "function" and self.js_has_methods(qual):
                    return qual
                if kind == "method" and "." in qual and self.kind_of(qual.rsplit(".", 1)[0]) not in CLASSISH:
                    return qual.rsplit(".", 1)[0]
            return ""
        owner = f"{self.prefix(fid)}.{recv}"
        if "." in recv or not self.members_of(owner) or self.js_is_param(scope, recv) or any(
                self.file_binds(fid, s).get(recv) for s in self._scopes(scope)):
            return ""
        return owner

    def js_is_param(self, scope: int | None, name: str) -> bool:
        return any(s is not None and self.sym[s][4] not in CLASSISH and name in self.js_params(s)
                   for s in self._scopes(scope))

    def js_params(self, sid: int) -> list[str]:
        if sid not in self._js_params:
            self._js_params[sid] = _js_params(self.sig_of(self.sym[sid][3]))
        return self._js_params[sid]

    def js_sites(self) -> dict[str, list[tuple]]:
        """Call sites with their argument lists (the `(args)` alias bindings ecma.scm records), by the
        called name: name -> [(file id, scope, arguments, callee, line)]."""
        if self._js_sites is None:
            self._js_sites = defaultdict(list)
            for fid, scope, args, callee, line in self.conn.execute(
                    "SELECT file_id, scope_id, name, value, line FROM binds WHERE kind = 'alias' AND name LIKE '(%' "
                    "ORDER BY rowid"):
                if fid in self.files and self.files[fid][1] in JS_LANGS:
                    last = _JS_LAST.search(callee)
                    self._js_sites[last.group() if last else _split(_clean(callee))[1]].append(
                        (fid, scope, args, callee, line))
        return self._js_sites

    def js_param_values(self, sid: int, i: int) -> list[str]:
        """The functions the call sites of function `sid` pass as its `i`th argument."""
        _f, parent, name, qual, _k = self.sym[sid]
        if name == "constructor" and parent in self.sym:  # `new Foo(fn)`
            name = self.sym[parent][2]
        out: list[str] = []
        for fid, scope, args, callee, _line in self.js_sites().get(name, ()):
            key = (fid, scope, callee)
            if key not in self._js_site_target:
                self.ensure_files((fid,))
                self._js_site_target[key] = self.call_target(fid, scope, callee, False)
            if self._js_site_target[key] != qual:
                continue
            parts = _js_args(args)
            q = self.js_function(fid, scope, parts[i]) if i < len(parts) else ""
            if q and q not in out:
                out.append(q)
        return out

    def js_function(self, fid: int, scope: int | None, text: str) -> str:
        """The function or method an expression names (`handler`, `this.onClick`, `api.get`), or ''."""
        text = text.strip()
        req = _JS_REQUIRE.fullmatch(text)
        if req:  # `const f = require('./m').f`
            files = self.js_files(self.files[fid][0], req.group(2))
            q = self.js_export(files[0], req.group(3), False, 0) if files else ""
        elif not _JS_PATH.fullmatch(text):
            return ""
        else:
            q = self.call_target(fid, scope, text, False)
        if not q or self.kind_of(q) not in ("function", "method") or (
                q.endswith(".constructor") and not text.endswith("constructor")):  # a class, not a function
            return ""
        return q

    def js_attr(self, cls: str, name: str) -> str:
        """A property or field naming a function: `{ del }`, `cb = ping`, `this.cb = handler`."""
        hit = self.attrs_of(cls).get(name)
        if not hit or hit[0] != "alias":
            return ""
        fid = hit[2]
        scope = next((sc for _l, _r, sc, n, k, v in self._self_binds.get(fid, ())
                      if n == name and k == "self_alias" and v == hit[1]), None)
        return self.js_guarded(("attr", cls, name), lambda: self.js_function(fid, scope, hit[1]), "")

    def js_many(self, fid: int, scope: int | None, callee: str) -> list[str]:
        """Every function a call of a parameter (`cb()`, `cb.call(x)`) reaches, when more than one."""
        if callee.endswith((".call", ".apply")):
            name = _split(_clean(callee))[0]
        elif "." in callee:
            return []
        else:
            name = callee
        local = self.js_local(fid, scope, name) if _JS_IDENT.fullmatch(name) else None
        return local if local and len(local) > 1 else []

    def js_callback_rows(self, wanted: list[int]) -> list[tuple]:
        """Calls rows for functions handed to `arr.map(fn)`, `setTimeout(fn)`, `p.then(fn)`, ..."""
        rows = []
        if self.bulk:
            sites = [site for hof in JS_CALLS_ARGUMENT for site in self.js_sites().get(hof, ())]
        else:  # an editor's save: this file's call sites only, through the binds_file index
            sites = [(fid, scope, args, callee, line) for fid in wanted if self.files[fid][1] in JS_LANGS
                     for scope, args, callee, line in self.conn.execute(
                         "SELECT scope_id, name, value, line FROM binds WHERE file_id = ? AND kind = 'alias' "
                         "AND name LIKE '(%' ORDER BY rowid", (fid,))]
        wanted_set = set(wanted)
        for fid, scope, args, callee, line in sites:
            last = _JS_LAST.search(callee)
            if fid in wanted_set and (last.group() if last else _split(_clean(callee))[1]) in JS_CALLS_ARGUMENT:
                caller = self.sym[scope][3] if scope in self.sym else self.files[fid][2]
                for arg in _js_args(args):
                    q = self.js_function(fid, scope, arg)
                    if q:
                        rows.append((fid, scope, caller, arg, arg.rsplit(".", 1)[-1], line, 1, "", q, "resolved", MADE))
        return rows


_WS = re.compile(r"\s+")
_JS_CHAIN = re.compile(r"^(.*\))(?:\?\.|\.)([\w$]+)$")
_JS_RETURNS = re.compile(r"\)\s*:\s*([A-Z][\w$.]*)(?:<[^=]*>)?\s*=>|=>\s*new\s+([A-Z][\w$.]*)")
_JS_REQUIRE = re.compile(r"require\((['\"])([^'\"]+)\1\)\.([\w$]+)")
_JS_HEAD = re.compile(r"[^.?(<\s]*")
_JS_LAST = re.compile(r"(?<![\w$#])[\w$]+$")
_JS_IDENT = re.compile(r"[\w$]+")
_JSON_NAME = re.compile(r'"name"\s*:\s*"([^"]+)"')
_JS_PATH = re.compile(r"[\w$]+(?:\.[\w$]+)*")
_JS_ONE_PARAM = re.compile(r"(?:^|=|\s)(?:async\s+)?([\w$]+)\s*=>")
_JS_PARAM = re.compile(r"^(?:(?:public|private|protected|readonly|override)\s+)*(?:\.\.\.)?([\w$]+)")
# library functions that call the function they are handed (the name after the last dot)
JS_LANGS = frozenset(lang for lang, fam in FAMILY.items() if fam == "ts")
JS_CALLS_ARGUMENT = frozenset({"map", "forEach", "filter", "reduce", "reduceRight", "some", "every", "find", "findIndex",
                               "findLast", "findLastIndex", "flatMap", "sort", "then", "catch", "finally",
                               "setTimeout", "setInterval", "setImmediate", "queueMicrotask", "requestAnimationFrame",
                               "nextTick", "addEventListener"})


def _js_top_split(text: str) -> list[str]:
    """Split at the commas outside brackets and strings."""
    parts, depth, cur, quote = [], 0, [], ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}" and depth:
            depth -= 1
        elif ch == "," and not depth:
            parts.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


def _js_args(args: str) -> list[str]:
    """`(a, this.b, 'x')` -> ['a', 'this.b', "'x'"]."""
    return _js_top_split(args.strip()[1:-1])


def _js_params(sig: str) -> list[str]:
    """Parameter names from a signature: `function run(cb, {a}, ...rest)` -> ['cb', '', 'rest'],
    `const f = x => ...` -> ['x'], `constructor(private svc: Service)` -> ['svc']."""
    paren = sig.find("(")
    arrow = _JS_ONE_PARAM.search(sig)
    if arrow and (paren < 0 or arrow.start(1) < paren):
        return [arrow.group(1)]
    if paren < 0:
        return []
    depth, end = 0, len(sig)
    for j in range(paren, len(sig)):
        depth += sig[j] == "("
        depth -= sig[j] == ")"
        if not depth:
            end = j
            break
    out = []
    for part in _js_top_split(sig[paren + 1:end]):
        m = _JS_PARAM.match(part)
        out.append(m.group(1) if m else "")
    return out


def resolve_files(conn: sqlite3.Connection, file_ids: list[int]) -> None:
    """Set calls.target/resolution, imports.target and bases.target for these non-Python files."""
    if not file_ids:
        return
    w = World(conn, bulk=len(file_ids) > BULK)
    wanted = [fid for fid in dict.fromkeys(file_ids) if fid in w.files]
    clear_made(conn, wanted)
    w.ensure_files(wanted)
    clear_targets(conn, wanted)
    out = CallTargets(conn)  # targets go out as they are found: a list of every call's was a large build's peak
    extra, several = [], {}
    sites: dict[str, list[tuple]] = defaultdict(list)  # Go function -> its call sites (for parameters called)
    params: list[tuple] = []  # Go calls of a function's own parameter
    deferred: list[tuple] = []  # ... their targets until go_param_calls has looked at them
    for i in range(0, len(wanted), 500):
        part = wanted[i:i + 500]
        for cid, fid, scope, callee, name, is_new, caller, line, col, text in conn.execute(
                "SELECT id, file_id, caller_id, callee_text, name, is_new, caller, line, col, text FROM calls "
                f"WHERE file_id IN ({','.join('?' * len(part))}) AND is_new < {MADE}", part):
            target = w.call_target(fid, scope, callee, bool(is_new))
            go = w.files[fid][1] == "go"
            if target:
                if go:
                    sites[target].append((fid, scope, line, col))
                out.add(target, "resolved", cid)
                extra += [(fid, scope, caller, callee, name, line, col, text, t, "name", MADE)
                          for t in dispatch_targets(w, fid, scope, callee, target)]
                continue
            fam = FAMILY.get(w.files[fid][1], w.files[fid][1])
            many = w.js_many(fid, scope, callee) if fam == "ts" and not is_new else []
            if many:  # a parameter bound to several functions: each, labelled `name`
                out.add(many[0], "name", cid)
                several[cid] = many[1:]
                continue
            if fam == "ts" and w.js_package_import(fid, _JS_HEAD.match(callee).group()):
                out.add(f"<external>.{name}", "external", cid)  # `delay()`, `express.Router()`
                continue
            recv = _split(_clean(callee))[0]
            if (not recv and name in BUILTINS.get(fam, ())) or recv in _BUILTIN_RECEIVERS.get(fam, ()):
                found = (f"<builtin>.{name}", "builtin", cid)
            elif w.has_name(name):
                found = (None, "name", cid)
            else:
                found = (f"<external>.{name}", "external", cid)
            if go and not recv and scope is not None and w.binds.get((fid, scope), _EMPTY).get(name, ("",))[0] == "type":
                params.append((cid, fid, scope, caller, callee, name, line, col, text, len(deferred)))
                deferred.append(found)
            else:
                out.add(*found)
    extra += value_calls(w, conn, wanted)
    extra += go_param_calls(w, conn, wanted, sites, params, deferred)
    for row in deferred:
        out.add(*row)
    for cid, more in several.items():  # copies of the call's row for the other functions
        row = conn.execute("SELECT file_id, caller_id, caller, callee_text, name, line, col, text FROM calls WHERE id = ?",
                           (cid,)).fetchone()
        extra += [row + (t, "name", MADE) for t in more]
    if any(FAMILY.get(w.files[fid][1]) == "ts" for fid in wanted):
        extra += w.js_callback_rows(wanted)
    out.finish(extra)

    imp = []
    for fid in wanted:
        for iid, module, name, alias in w.imports.get(fid, ()):
            for _local, kind, value in w.import_bindings(fid, module, name, alias)[:1]:
                if kind == "symbol" and value:
                    imp.append((value, iid))
                elif kind == "module" and value:  # a package of several files: the same one whatever their ids
                    imp.append((min(w.files[f][2] for f in value), iid))

    bases = []
    for fid in wanted:
        for sid, base in w.base_rows.get(fid, ()):
            q = w.resolve_type(fid, base)
            if q:
                bases.append((q, sid, base))
    write_imports_and_bases(conn, imp, bases)


# -- Go, Java, C#: function values and dispatch through interfaces ---------------------------------
# A call through an interface (or a Java/C# abstract class) reaches the declared method (the call's
# own row, `resolved`) and each implementation (one more row each, `name`, like value flow's several
# targets in Python): in Go every type whose method set has all the interface's methods, in Java,
# C# and Kotlin the overrides in every subtype. A Go function or method value passed on is an edge,
# and a Go function's parameter called inside it reaches the values its call sites pass.

DISPATCH = {"go", "java", "csharp", "kotlin"}
FUNCS = {"function", "method"}
_ABSTRACT = re.compile(r"\b(abstract|sealed)\b")


def go_local_value(w: World, fid: int, scope: int | None, name: str) -> str | None:
    """What a bare `name()` calls in Go when a local of that name is in scope: the function or method
    its alias holds (`f := s.Run`), '' for any other local (a parameter, `x := New()`), None for no local."""
    w.ensure_files((fid,))
    for s in w._scopes(scope):
        if name not in w.binds.get((fid, s), _EMPTY):
            continue
        value = w.values.get((fid, s), _EMPTY).get(name)
        guard = w._dispatch.setdefault("aliases", set())
        if not value or (fid, s, name) in guard:
            return "" if s is not None else None  # a package variable: its definition, by name
        guard.add((fid, s, name))
        try:
            target = w.call_target(fid, scope, value, False)
        finally:
            guard.discard((fid, s, name))
        if target and w.kind_of(target) in FUNCS:
            return target
        return "" if s is not None else None  # a package variable (`var now = time.Now`): its definition
    return None


def value_calls(w: World, conn: sqlite3.Connection, fids: list[int]) -> list[tuple]:
    """Rows for the Go function and method values passed on (`use(s.Handle)`): an edge at the value."""
    out = []
    for fid in fids:
        lines = None
        seen: dict[tuple, str] = {}
        for scope, value, line in w.refs.get(fid, ()):
            target = seen.get((scope, value))
            if target is None:
                target = seen[(scope, value)] = go_value_target(w, fid, scope, value)
            if not target:
                continue
            if lines is None:
                lines = _file_lines(conn, fid)
            text, name = lines.get(line, ""), _split(value)[1]
            m = re.search(rf"(?<![\w.]){re.escape(value)}(?!\w)", text)
            col = m.end() - len(name) + 1 if m else 1
            caller = w.sym[scope][3] if scope in w.sym else w.files[fid][2]
            out.append((fid, scope, caller, value, name, line, col, text.strip()[:200], target, "resolved", MADE))
    return out


def go_value_target(w: World, fid: int, scope: int | None, value: str) -> str:
    """The function or method a Go value (`s.Handle`, `index`) names where it is written, or ''."""
    name = _split(value)[1]
    if w.bulk:  # no function or method has that name: a field, a local
        names = w._dispatch.get("funcs")
        if names is None:
            names = w._dispatch["funcs"] = {n for _f, _p, n, _q, kind in w.sym.values() if kind in FUNCS}
        if name not in names:
            return ""
    elif not w.has_name(name):
        return ""
    if "." in value:
        target = w.call_target(fid, scope, value, False)
    else:
        local = go_local_value(w, fid, scope, value)
        target = local if local is not None else w.lookup(fid, value)
    return target if target and w.kind_of(target) in FUNCS else ""


def go_param_calls(w: World, conn: sqlite3.Connection, fids: list[int], sites: dict[str, list[tuple]],
                   params: list[tuple], updates: list[tuple]) -> list[tuple]:
    """`func apply(fn func()) { fn() }`: the call of `fn` reaches the functions and methods the call
    sites of `apply` pass at its place (one level: a parameter passed on is not followed). One
    target is `resolved`, several are one row each, `name`. Patches `updates` (the targets found
    so far of these calls, by `params`' last field); returns new rows."""
    extra: list[tuple] = []
    here, lines = set(fids), {}
    for cid, fid, scope, caller, callee, name, line, col, text, at in params:
        fn = w.sym[scope][3]
        k = _go_param_index(w.sig_of(fn), fn.rsplit(".", 1)[-1], name)
        if k is None:
            continue
        calls = list(sites.get(fn, ()))
        if not w.bulk:  # call sites in files not resolved now: their stored rows
            calls += [r for r in conn.execute("SELECT file_id, caller_id, line, col FROM calls WHERE target = ? "
                                              f"AND is_new < {MADE}", (fn,)) if r[0] not in here and r[0] in w.files]
        targets: list[str] = []
        for sfid, sscope, sline, scol in calls:
            if sfid not in lines:
                lines[sfid] = _file_lines(conn, sfid)
            for arg in _go_args(lines[sfid], sline, scol)[k[0]:k[0] + 1 if not k[1] else None]:
                t = go_value_target(w, sfid, sscope, arg) if re.fullmatch(r"[\w.]+", arg) else ""
                if t and t not in targets:
                    targets.append(t)
        if targets:
            how = "resolved" if len(targets) == 1 else "name"
            updates[at] = (targets[0], how, cid)
            extra += [(fid, scope, caller, callee, name, line, col, text, t, how, MADE) for t in targets[1:]]
    return extra


def _go_param_index(sig: str, fname: str, pname: str) -> tuple[int, bool] | None:
    """(position, variadic) of parameter `pname` in a Go function's signature."""
    m = re.search(rf"\b{re.escape(fname)}\s*(?:\[[^\]]*\])?\(", sig)
    if not m:
        return None
    depth, parts, start = 1, [], m.end()
    for i in range(m.end(), len(sig)):
        depth += sig[i] in "([{"
        depth -= sig[i] in ")]}"
        if depth == 1 and sig[i] == ",":
            parts.append(sig[start:i].strip())
            start = i + 1
        elif depth == 0:
            parts.append(sig[start:i].strip())
            break
    for i, part in enumerate(parts):
        words = part.split(None, 1)
        if words and words[0] == pname:
            return i, len(words) > 1 and words[1].startswith("...")
    return None


def _go_args(lines: dict[int, str], line: int, col: int, most: int = 30) -> list[str]:
    """The argument texts of the call whose name is at (line, col), read off the file's lines."""
    text = lines.get(line, "")
    at = text.find("(", max(col - 1, 0))
    if at < 0:
        return []
    args, cur, depth, quote, n = [], [], 0, "", line
    while True:
        for ch in text[at + 1:]:
            if quote:
                cur.append(ch)
                quote = "" if ch == quote and (len(cur) < 2 or cur[-2] != "\\" or quote == "`") else quote
                continue
            if ch in "\"'`":
                quote = ch
            elif ch in "([{":
                depth += 1
            elif ch in ")]}":
                if depth == 0:
                    args.append("".join(cur).strip())
                    return args
                depth -= 1
            elif ch == "," and depth == 0:
                args.append("".join(cur).strip())
                cur = []
                continue
            cur.append(ch)
        n += 1
        if n > line + most or n not in lines:
            return []
        text, at = lines[n], -1


def _file_lines(conn: sqlite3.Connection, fid: int) -> dict[int, str]:
    """line -> text of one file, from its search chunks (they cover every line)."""
    out: dict[int, str] = {}
    for start, body in conn.execute("SELECT c.start_line, t.body FROM chunks c JOIN chunks_fts t ON t.rowid = c.id "
                                    "WHERE c.file_id = ?", (fid,)):
        for i, text in enumerate(body.split("\n")):
            out.setdefault(start + i, text)
    return out


def dispatch_targets(w: World, fid: int, scope: int | None, callee: str, target: str) -> list[str]:
    """The implementations a call reaches besides `target` when its receiver is an interface or an
    abstract class (Go: structurally; Java, C#, Kotlin: overrides in subtypes)."""
    lang = w.files[fid][1]
    if lang not in DISPATCH or w.kind_of(target) not in FUNCS or "." not in target:
        return []
    owner = target.rsplit(".", 1)[0]  # the method's own class: an interface or abstract, else no dispatch
    if w.kind_of(owner) != "interface" and (lang == "go" or not _ABSTRACT.search(w.sig_of(owner))):
        return []
    recv, name = _split(_clean(callee))
    if recv in SUPER:
        return []
    cls = w.enclosing_class(scope)
    if recv:
        rtype = w.receiver_type(fid, scope, recv, cls)
        if recv[:1].isupper() and w.resolve_type(fid, recv) == rtype:  # `Shape.of()`: static
            return []
    else:
        rtype = cls if lang != "go" and cls and w.member(cls, name) == target else ""
    if not rtype:
        return []
    key = (rtype, name)
    cache = w._dispatch.setdefault("targets", {})
    if key not in cache:
        if lang == "go":
            cache[key] = go_implementations(w, rtype, name) if w.kind_of(rtype) == "interface" else []
        elif w.kind_of(rtype) == "interface" or _ABSTRACT.search(w.sig_of(rtype)):
            cache[key] = overrides(w, rtype, name)
        else:
            cache[key] = []
    return [t for t in cache[key] if t != target]


def _base_index(w: World) -> dict[str, list[tuple]]:
    """Last name of a base as written -> [(file id, symbol id, base)] over the loaded files."""
    idx = w._dispatch.get("bases")
    if idx is None or idx[0] != len(w._loaded):
        rows: dict[str, list[tuple]] = defaultdict(list)
        for fid, brows in w.base_rows.items():
            for sid, base in brows:
                rows[_split(_clean(base))[1]].append((fid, sid, base))
        idx = w._dispatch["bases"] = (len(w._loaded), rows)
    return idx[1]


def subtypes(w: World, cls: str) -> list[str]:
    """Every class that extends or implements `cls`, directly or not, nearest first."""
    out, todo = [], [cls]
    while todo:
        cur = todo.pop(0)
        simple = cur.rsplit(".", 1)[-1]
        if not w.bulk:
            w.ensure_files([f for (f,) in w.conn.execute(
                "SELECT DISTINCT file_id FROM bases WHERE base LIKE ?", (f"%{simple}%",)) if f in w.files])
        for fid, sid, base in _base_index(w).get(simple, ()):
            sub = w.sym[sid][3] if sid in w.sym else ""
            if sub and sub != cls and sub not in out and w.resolve_type(fid, base) == cur:
                out.append(sub)
                todo.append(sub)
    return out


def overrides(w: World, cls: str, name: str) -> list[str]:
    """The methods named `name` defined in the subtypes of `cls`."""
    out = []
    for sub in subtypes(w, cls):
        q = w.members_of(sub).get(name)
        if q and q not in out and w.kind_of(q) in FUNCS:
            out.append(q)
    return out


def go_method_set(w: World, iface: str, depth: int = 0) -> set[str]:
    """The method names of a Go interface, embedded interfaces included."""
    names = {n for n, q in w.members_of(iface).items() if w.kind_of(q) in FUNCS}
    if depth < 5:
        for fid, base in w.bases_of(iface):
            bq = w.resolve_type(fid, base)
            if bq and bq != iface and w.kind_of(bq) == "interface":
                names |= go_method_set(w, bq, depth + 1)
    return names


def go_implementations(w: World, iface: str, name: str) -> list[str]:
    """`name` of every Go type whose methods (own or promoted from embedded fields) cover the interface."""
    mset = go_method_set(w, iface)
    if name not in mset:
        return []
    if not w.bulk:
        w.ensure_files([f for (f,) in w.conn.execute(
            "SELECT DISTINCT s.file_id FROM symbols s JOIN files f ON f.id = s.file_id "
            "WHERE s.name = ? AND s.kind = 'method' AND f.lang = 'go'", (name,)) if f in w.files])
    idx = w._dispatch.get("go_methods")
    if idx is None or idx[0] != len(w._loaded):
        methods: dict[str, list[str]] = defaultdict(list)
        for sid, (fid, _p, n, q, kind) in w.sym.items():
            if kind == "method" and w.files.get(fid, ("", ""))[1] == "go":
                methods[n].append(q)
        idx = w._dispatch["go_methods"] = (len(w._loaded), methods)
    want = _go_arity(w.sig_of(w.member(iface, name)), name)
    out = []
    for q in idx[1].get(name, ()):
        owner = q.rsplit(".", 1)[0]
        if owner != iface and w.kind_of(owner) not in ("interface", None) and q not in out and \
                _go_arity(w.sig_of(q), name) == want and all(w.member(owner, n) for n in mset):
            out.append(q)
    return out


def _go_arity(sig: str, name: str) -> tuple[int, int] | None:
    """(parameters, results) of a Go method signature: `ServeHTTP(w, r, next Handler) error` is not
    the `ServeHTTP(http.ResponseWriter, *http.Request) error` of an interface (names are not enough)."""
    at = sig.find(name + "(")
    if at < 0:
        return None
    parts, depth, start = [], 0, at + len(name)
    for i in range(start, len(sig)):
        depth += sig[i] in "([{"
        depth -= sig[i] in ")]}"
        if depth == 0:
            parts.append(sig[start + 1:i])
            rest = sig[i + 1:].strip()
            parts.append(rest[1:-1] if rest.startswith("(") and rest.endswith(")") else rest)
            break
    else:
        return None

    def count(text: str) -> int:
        level, n = 0, 1 if text.strip() else 0
        for ch in text:
            level += ch in "([{"
            level -= ch in ")]}"
            n += ch == "," and level == 0
        return n
    return count(parts[0]), count(parts[1])
