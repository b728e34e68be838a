"""Where a program starts: main functions, `__main__`, console scripts and HTTP routes.

Found from the index (definitions named `main`) and by reading only the files that can hold
them (a cheap substring test before any regular expression), so this stays fast on large
repositories. Routes are recognised for Flask/FastAPI decorators, Django URLconfs, Express,
Go `net/http` (and gin/echo/chi-style `r.GET`), and Spring mapping annotations.
"""
from __future__ import annotations

import configparser
import json
import posixpath
import re
import sqlite3
from dataclasses import dataclass
from typing import Callable

# main functions by language: (name, kinds)
MAIN_LANGS = {"go": "main", "java": "main", "kotlin": "main", "rust": "main", "c": "main", "cpp": "main", "csharp": "Main"}

_PY_MAIN = re.compile(r"if\s+__name__\s*==\s*['\"]__main__['\"]\s*:")   # at the start of a line
_PY_MAIN_HINT = re.compile(r"__name__\s*==\s*['\"]__main__")
_PY_ROUTE = re.compile(r"^\s*@\s*\w+(?:\.\w+)*\.(route|get|post|put|delete|patch|websocket|api_route)\(\s*[rfb]?['\"](/[^'\"]*|)['\"]"
                       r"(?P<rest>[^\n]*)", re.M)
_PATH_HINT = re.compile(r"\((?: ?r?['\"]/|['\"]{2}\))")  # `("/` or `("")`: cheap to search (a literal first)
_JS_HINT = re.compile(r"\(\s*['\"`]/")
_PY_METHODS = re.compile(r"methods\s*=\s*[\[(]([^\])]*)")
_DJANGO = re.compile(r"\b(path|re_path|url)\(\s*r?['\"]([^'\"]*)['\"]")
_JS_ROUTE = re.compile(r"\b(app|router|server|api|routes|\w+Router)\s*\.\s*(get|post|put|delete|patch|all|head|options)"
                       r"\(\s*['\"`](/[^'\"`]*)['\"`]")
_GO_ROUTE = re.compile(r"\b(?:HandleFunc|Handle)\(\s*\"([^\"]+)\"|\.\s*(GET|POST|PUT|DELETE|PATCH)\(\s*\"(/[^\"]*)\"")
_SPRING = re.compile(r"@(Get|Post|Put|Delete|Patch|Request)Mapping\s*\(\s*(?:(?:value|path)\s*=\s*)?\{?\s*\"([^\"]*)\"")


@dataclass
class EntryPoint:
    kind: str    # main | script | route
    name: str
    path: str
    line: int

    def to_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "path": self.path, "line": self.line}


def _line_at(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _hinted_lines(text: str, hint: re.Pattern):
    """(line number, line) of each line where `hint` matches: the slow patterns run on those only."""
    last, line_no, seen = 0, 1, -1
    for m in hint.finditer(text):
        start = text.rfind("\n", 0, m.start()) + 1
        if start == seen:
            continue
        line_no += text.count("\n", last, start)
        last, seen = start, start
        end = text.find("\n", m.start())
        yield line_no, text[start:end if end >= 0 else len(text)]


def _scripts(conn: sqlite3.Connection, read: Callable[[str], str | None]) -> list[EntryPoint]:
    """Console scripts of pyproject.toml ([project.scripts]) and setup.cfg, and package.json `bin`."""
    out: list[EntryPoint] = []
    mod_path = {m: p for m, p in conn.execute("SELECT module, path FROM files WHERE lang = 'python'")}

    def target(spec: str, cfg_path: str) -> tuple[str, int]:
        mod, _, func = spec.strip().partition(":")
        path = mod_path.get(mod.strip())
        if path is None:
            return cfg_path, 1
        row = conn.execute("SELECT s.start_line FROM symbols s JOIN files f ON f.id = s.file_id WHERE f.path = ? AND s.name = ? "
                           "ORDER BY s.start_line LIMIT 1", (path, func.split(".")[-1].strip())).fetchone()
        return path, row[0] if row else 1

    names = [r[0] for r in conn.execute(
        "SELECT path FROM files WHERE path IN ('pyproject.toml', 'setup.cfg', 'package.json') "
        "OR path LIKE '%/pyproject.toml' OR path LIKE '%/setup.cfg' OR path LIKE '%/package.json' ORDER BY path")]
    for cfg in names:
        text = read(cfg)
        if not text:
            continue
        base = posixpath.basename(cfg)
        scripts: dict[str, str] = {}
        try:
            if base == "pyproject.toml":
                try:
                    import tomllib
                    scripts = dict(tomllib.loads(text).get("project", {}).get("scripts", {}))
                except ImportError:  # Python 3.10: the [project.scripts] table by hand
                    m = re.search(r"^\[project\.scripts\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
                    for k, v in re.findall(r"^\s*['\"]?([\w.-]+)['\"]?\s*=\s*['\"]([^'\"]+)['\"]", m.group(1) if m else "", re.M):
                        scripts[k] = v
            elif base == "setup.cfg":
                cp = configparser.ConfigParser(interpolation=None)
                cp.read_string(text)
                raw = cp.get("options.entry_points", "console_scripts", fallback="")
                for ln in raw.splitlines():
                    if "=" in ln:
                        k, v = ln.split("=", 1)
                        scripts[k.strip()] = v.strip()
            else:
                data = json.loads(text)
                b = data.get("bin") if isinstance(data, dict) else None
                if isinstance(b, str):
                    b = {data.get("name", "bin"): b}
                for k, v in (b or {}).items() if isinstance(b, dict) else ():
                    p = posixpath.normpath(posixpath.join(posixpath.dirname(cfg), str(v)))
                    out.append(EntryPoint("script", str(k), p, 1))
                continue
        except Exception:  # noqa: BLE001 - a malformed config file is not an error of the report
            continue
        for name, spec in sorted(scripts.items()):
            if isinstance(spec, str):
                path, line = target(spec, cfg)
                out.append(EntryPoint("script", f"{name} = {spec.strip()}", path, line))
    return out


def _mains(conn: sqlite3.Connection) -> list[EntryPoint]:
    out = []
    for path, lang, package, line, sig, qual in conn.execute(
            "SELECT f.path, f.lang, f.package, s.start_line, s.signature, s.qualname FROM symbols s JOIN files f ON f.id = s.file_id "
            "WHERE s.name IN ('main', 'Main') AND s.kind IN ('function', 'method')"):
        want = MAIN_LANGS.get(lang)
        if want is None or qual.rsplit(".", 1)[-1] != want:
            continue
        if lang == "go" and package != "main":
            continue
        if lang in ("java", "csharp") and "static" not in sig:
            continue
        out.append(EntryPoint("main", qual, path, line))
    return out


def find_entry_points(conn: sqlite3.Connection, read: Callable[[str], str | None]) -> list[EntryPoint]:
    """Every entry point found, sorted by kind, path and line."""
    out = _mains(conn) + _scripts(conn, read)
    rows = conn.execute("SELECT path, lang, module FROM files WHERE lang IN "
                        "('python', 'javascript', 'typescript', 'tsx', 'go', 'java', 'kotlin')").fetchall()
    for path, lang, module in rows:
        base = posixpath.basename(path)
        if lang == "python" and base == "__main__.py":
            out.append(EntryPoint("main", module, path, 1))
        text = None
        if lang == "python":
            text = read(path)
            if not text:
                continue
            if base != "__main__.py":
                for line_no, line in _hinted_lines(text, _PY_MAIN_HINT):
                    if _PY_MAIN.match(line):
                        out.append(EntryPoint("main", module, path, line_no))
            for line_no, line in _hinted_lines(text, _PATH_HINT):  # the route pattern only where a path is
                for m in _PY_ROUTE.finditer(line):
                    verb = m.group(1)
                    if verb in ("route", "api_route"):
                        ms = _PY_METHODS.search(m.group("rest"))
                        methods = re.findall(r"['\"](\w+)['\"]", ms.group(1)) if ms else []
                        verb = ",".join(x.upper() for x in methods) or ("ANY" if verb == "api_route" else "GET")
                    out.append(EntryPoint("route", f"{verb.upper()} {m.group(2)}", path, line_no))
            if base == "urls.py" and "urlpatterns" in text:
                for m in _DJANGO.finditer(text):
                    out.append(EntryPoint("route", f"ANY {m.group(2) or '/'}", path, _line_at(text, m.start())))
        elif lang in ("javascript", "typescript", "tsx"):
            text = read(path)
            for line_no, line in _hinted_lines(text or "", _JS_HINT):
                for m in _JS_ROUTE.finditer(line):
                    out.append(EntryPoint("route", f"{m.group(2).upper()} {m.group(3)}", path, line_no))
        elif lang == "go":
            text = read(path)
            if text and ("Handle" in text or "GET(" in text or "POST(" in text):
                for m in _GO_ROUTE.finditer(text):
                    name = f"ANY {m.group(1)}" if m.group(1) else f"{m.group(2)} {m.group(3)}"
                    out.append(EntryPoint("route", name, path, _line_at(text, m.start())))
        else:
            text = read(path)
            if text and "Mapping" in text:
                for m in _SPRING.finditer(text):
                    verb = "ANY" if m.group(1) == "Request" else m.group(1).upper()
                    out.append(EntryPoint("route", f"{verb} {m.group(2)}", path, _line_at(text, m.start())))
    order = {"main": 0, "script": 1, "route": 2}
    out.sort(key=lambda e: (order.get(e.kind, 9), e.path, e.line, e.name))
    return out
