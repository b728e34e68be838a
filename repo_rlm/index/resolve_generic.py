"""Tie call sites of non-Python files to the definitions they reach, by a few plain rules.

A call is `resolved` when one of these tied it: the enclosing class (`this.x()`, `self.x()`,
`$this->x()`, a bare `x()` in languages with an implicit `this`, a Go/Rust receiver), the
class hierarchy, enclosing functions and the same file, the same package (Go: the same
directory; Java, Kotlin, C#, PHP: the declared package/namespace), imports (JS/TS relative
paths incl. index files and re-exports, Go import paths, Java/Kotlin/PHP/C#/Rust `use`,
C/C++ `#include`, Ruby `require`), constructors (`new Foo()`) and typed receivers (`x = new
Foo(); x.m()`, `Foo x`, `x: Foo`, `x := NewFoo()`). Anything else is `name` (some definition
has that name; the query layer matches it by name), `builtin` or `external`.

A bulk update loads everything with a few SELECTs up front; a few files (an editor's save) load
only what resolution reaches, per file, through indexed lookups. Per-call work is dictionary lookups.
"""
from __future__ import annotations

import bisect
import posixpath
import re
import sqlite3
from collections import defaultdict

from .resolve_base import BULK, clear_targets, write_calls, write_imports_and_bases

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
        for sid, fid, parent, name, qual, kind, sig in self._rows(
                "SELECT t.id, t.file_id, t.parent_id, t.name, t.qualname, t.kind, t.signature FROM symbols t "
                "WHERE {where} ORDER BY t.id", fids):
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
            self.imports[fid].append((iid, module, name, alias))
        for rowid, fid, scope, name, kind, value, line in self._rows(
                "SELECT t.rowid, t.file_id, t.scope_id, t.name, t.kind, t.value, t.line FROM binds t "
                "WHERE {where} ORDER BY t.line, t.rowid", fids):
            if kind.startswith("self_"):
                self._self_binds[fid].append((line, rowid, scope, name, kind, value))
            else:
                self.binds[(fid, scope)].setdefault(name, (kind, value))

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
        return package or module

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
                return [(alias, "module", files)] if name == "*" else [(alias, "symbol", self.js_export(files[0], alias, True, depth))]
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
            return []
        base = posixpath.normpath(posixpath.join(posixpath.dirname(path), module))
        for ext in JS_EXT:
            fid = self.by_path.get(base + ext)
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
        return ""

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
            target = self.call_target(fid, scope, value, False)
            return self.returns(target, fid) if target else ""
        return ""

    def call_target(self, fid: int, scope: int | None, callee: str, is_new: bool) -> str:
        """The qualname a call reaches through the rules in the module docstring, or ''."""
        lang = self.files[fid][1]
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
            if rtype:
                return self.member(rtype, name)
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
        for s in self._scopes(scope):  # enclosing functions (never class bodies, see IMPLICIT_THIS)
            if s is not None and self.sym[s][4] not in CLASSISH:
                q = self.members_of(self.sym[s][3]).get(name)
                if q:
                    return q
        q = self.lookup(fid, name)
        if q and self.kind_of(q) in CLASSISH:  # Kotlin `Foo()`, C++ `Foo(x)`: a constructor
            return self.constructor(q, lang)
        return q or ""


def resolve_files(conn: sqlite3.Connection, file_ids: list[int]) -> None:
    """Set calls.target/resolution, imports.target and bases.target for these non-Python files."""
    if not file_ids:
        return
    w = World(conn, bulk=len(file_ids) > BULK)
    wanted = [fid for fid in dict.fromkeys(file_ids) if fid in w.files]
    w.ensure_files(wanted)
    clear_targets(conn, wanted)
    updates = []
    for i in range(0, len(wanted), 500):
        part = wanted[i:i + 500]
        for cid, fid, scope, callee, name, is_new in conn.execute(
                "SELECT id, file_id, caller_id, callee_text, name, is_new FROM calls "
                f"WHERE file_id IN ({','.join('?' * len(part))})", part):
            target = w.call_target(fid, scope, callee, bool(is_new))
            if target:
                updates.append((target, "resolved", cid))
                continue
            fam = FAMILY.get(w.files[fid][1], w.files[fid][1])
            recv = _split(_clean(callee))[0]
            if (not recv and name in BUILTINS.get(fam, ())) or recv in _BUILTIN_RECEIVERS.get(fam, ()):
                updates.append((f"<builtin>.{name}", "builtin", cid))
            elif w.has_name(name):
                updates.append((None, "name", cid))
            else:
                updates.append((f"<external>.{name}", "external", cid))
    write_calls(conn, updates)

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
