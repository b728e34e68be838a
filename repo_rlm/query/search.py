"""Rank definitions, code chunks and files for a question, a name, a traceback or a pasted log.

A query is read for what code-savvy users put in it (`parse_query`): identifiers (`foo_bar`,
`FooBar`, `Foo.bar`, `module.attr`, `call()`), file paths, traceback frames, quoted text, and
plain words. Candidates come from full-text search (FTS5 bm25 over names, paths, signatures, docs
and bodies) and from direct look-ups (definitions named in the query, files whose path it
mentions). Each candidate gets named features; its score is their weighted sum with the weights
in `WEIGHTS`, chosen on the development half of the localization benchmark
(bench/bench_search.py, bench/localization/tune.py), not by hand. A definition whose name is an
identifier of the query therefore ranks above chunks that only mention it.
"""
from __future__ import annotations

import math
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..index.names import split_words
from .results import ResultList, SearchHit

STOP = set("""a an and are as at be by can do does for from how i if in into is it its me my of on or
that the their then there these this to was what when where which who why will with you your
code function method class file files find show tell about any all used use uses using implemented
implement handle handled handles defined define not no but also when should would could have has
had been being than so such only just more most other some same very now new get set""".split())
# Words in questions that code spells differently.
SYNONYMS = {
    "authentication": ["auth", "login", "session", "token", "credential"],
    "authenticate": ["auth", "login", "session", "token"],
    "authorization": ["auth", "permission", "role", "access"],
    "authorize": ["auth", "permission", "role"],
    "auth": ["login", "session", "token", "permission"],
    "login": ["auth", "session", "signin"],
    "permission": ["auth", "role", "access"],
    "database": ["db", "sql", "query", "repository", "session"],
    "persist": ["save", "store", "repository", "db"],
    "configuration": ["config", "settings", "env", "options"],
    "config": ["settings", "env", "options"],
    "error": ["exception", "raise", "fail"],
    "log": ["logger", "logging"],
    "cache": ["cached", "memo", "lru"],
    "request": ["handler", "route", "http"],
    "endpoint": ["route", "handler", "view"],
    "entry": ["main", "cli"],
}
_WORD = re.compile(r"[^\W\d_][^\W_]*")  # words of a question, in any script; identifiers split at `_`
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(\(\))?")
_FRAME = re.compile(r'File "([^"\n]+)", line (\d+)(?:, in ([A-Za-z_<>][\w<>]*))?')
_PATH = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.(?:py|pyi|js|jsx|mjs|ts|tsx|go|java|rs|c|h|cc|cpp|hpp|cs|rb|php|kt|kts))\b")
_QUOTED = re.compile(r"`([^`\n]{2,200})`|\"([^\"\n]{6,200})\"|'([^'\n]{6,200})'")
MAX_QUERY_CHARS = 20_000  # a pasted log is cut here: the first part carries the error and its frames
MAX_FTS_TERMS = 16  # the rarest terms of a long query; more only slows the match
COMMON_TERM_SHARE = 0.2  # a term in over this share of chunks says little and costs much
CANDIDATES = 300

# The ranking features, and their weights: chosen by bench/localization/tune.py on the development
# half of the localization benchmark (coordinate ascent on file Acc@5 + Acc@1); see README. Frames
# and path mentions never occur in commit messages, so those two keep their starting weights.
WEIGHTS: dict[str, float] = {
    "bm25": 1.0,  # full-text score, divided by the best candidate's
    "definition": 0.5,  # a definition rather than a window of loose lines
    "ident_exact": 1.0,  # its name is an identifier written in the query (`url_for`, `Foo.bar`)
    "qualname_exact": 0.5,  # and its qualified name ends with the dotted identifier
    "word_exact": 0.0,  # its name is a plain word of the query (`solve`)
    "name_cover": 1.0,  # share of the query's terms in its name
    "path_cover": 1.5,  # share of the query's terms in its file's path
    "path_mention": 2.0,  # the query names its file
    "frame": 2.0,  # a traceback frame points into it
    "fan_in": 0.5,  # how often it is called (log scale, against the most-called candidate): the API
    # Fixed, not tuned (commit messages rarely name one definition): among definitions named by
    # the query, the most-called first (`solve` -> sympy.solvers.solvers.solve).
    "ident_fan_in": 2.0,
    "test_file": -1.0,  # tests mention everything; the code under test is usually the answer
    "file_second": 0.5,  # files: the second-best chunk of the file adds this share of its score
    # Hybrid mode only: cosine similarity of the definition's embedding to the query's (chosen by
    # `tune.py --hybrid` on the development half of the repositories embedded in the benchmark).
    "semantic": 1.5,
}


def terms(query: str, expand: bool = True) -> list[str]:
    """Lower-case search terms: words of the question, identifiers split at case and underscores,
    and (with `expand`) the words code uses for the same concepts."""
    out: list[str] = []
    for word in _WORD.findall(query):
        for part in [word] + split_words(word):
            t = part.lower()
            if len(t) > 1 and t not in STOP and t not in out:
                out.append(t)
    for t in list(out) if expand else ():
        out.extend(s for s in SYNONYMS.get(t, ()) if s not in out)
    return out


def _stem(t: str) -> str:
    for suffix in ("ation", "ing", "ers", "ed", "es", "er", "s"):
        if len(t) > len(suffix) + 3 and t.endswith(suffix):
            return t[: -len(suffix)]
    return t


@dataclass
class Query:
    """What a query says, read as a developer writes it."""

    text: str
    words: list[str] = field(default_factory=list)  # search terms (see `terms`)
    identifiers: list[str] = field(default_factory=list)  # code-like names as written: foo_bar, Foo.bar
    paths: list[str] = field(default_factory=list)  # file paths or names mentioned
    frames: list[tuple[str, str]] = field(default_factory=list)  # traceback (path, function)
    phrases: list[str] = field(default_factory=list)  # quoted text: error messages, code

    @property
    def names(self) -> set[str]:
        """The last component of each identifier: what a definition's name would be."""
        return {i.rsplit(".", 1)[-1] for i in self.identifiers}


def _codelike(token: str) -> bool:
    if token.endswith("()"):
        return True
    core = token.rstrip("()")
    if "." in core:
        return not _PATH.fullmatch(core) and all(len(p) > 1 for p in core.split("."))
    return "_" in core.strip("_") or bool(re.search(r"[a-z][A-Z]|[A-Z]{2,}[a-z]", core)) or core.startswith("__")


def parse_query(text: str) -> Query:
    text = text[:MAX_QUERY_CHARS]
    q = Query(text=text, words=terms(text))
    for path, _line, func in _FRAME.findall(text):
        q.frames.append((path.replace("\\", "/"), func or ""))
    q.paths = list(dict.fromkeys(m.group(1) for m in _PATH.finditer(text)))
    quoted_spans = []
    for m in _QUOTED.finditer(text):
        body = next(g for g in m.groups() if g)
        quoted_spans.append(body)
        if m.group(1) is None and " " in body:
            q.phrases.append(body)
    seen: dict[str, None] = {}
    for m in _IDENT.finditer(text):
        if _codelike(m.group(0)):
            seen.setdefault(m.group(0).rstrip("()"), None)
    for body in quoted_spans:  # `name` or "name" alone is an identifier, whatever its shape
        body = body.strip()
        if _IDENT.fullmatch(body) and not _PATH.fullmatch(body):
            seen.setdefault(body.rstrip("()"), None)
    for _path, func in q.frames:
        if func and not func.startswith("<"):
            seen.setdefault(func, None)
    if not seen and len(q.words) <= 2:  # `solve`, `send file`: a name-like query names definitions
        seen = dict.fromkeys(w for w in _WORD.findall(text) if w.lower() in q.words)
    q.identifiers = [i for i in seen if i and i.lower() not in STOP]
    return q


def _fts_terms(conn: sqlite3.Connection, words: list[str]) -> list[str]:
    """The terms worth matching: present in the index, not in most chunks, the rarest
    MAX_FTS_TERMS of them (a long query's common words add little and cost much)."""
    if not words:
        return []
    try:
        conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunks_vocab USING fts5vocab(main, chunks_fts, row)")
        df = dict(conn.execute(f"SELECT term, doc FROM temp.chunks_vocab WHERE term IN ({','.join('?' * len(words))})",
                               words))
        total = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0] or 1
    except sqlite3.Error:  # a read-only connection that cannot make the temp table: all words
        return words[:MAX_FTS_TERMS]
    useful = [w for w in words if 0 < df.get(w, 0) <= COMMON_TERM_SHARE * total]
    return sorted(useful or [w for w in words if df.get(w)], key=lambda w: df.get(w, 0))[:MAX_FTS_TERMS]


_COLUMNS = """SELECT c.id, f.path, c.start_line, c.end_line, s.qualname, s.kind, s.name, {rank}
               FROM {source} JOIN files f ON f.id = c.file_id LEFT JOIN symbols s ON s.id = c.symbol_id"""
_FTS = _COLUMNS.format(rank="bm25(chunks_fts, 10.0, 3.0, 4.0, 3.0, 1.0)",
                       source="chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid") + \
    " WHERE chunks_fts MATCH ? ORDER BY 8 LIMIT ?"
_BY_NAME = _COLUMNS.format(rank="NULL", source="symbols d JOIN chunks c ON c.file_id = d.file_id AND c.start_line = d.start_line AND c.symbol_id = d.id") + \
    " WHERE d.name IN ({marks}) LIMIT ?"
_BY_PATH = _COLUMNS.format(rank="NULL", source="files p JOIN chunks c ON c.file_id = p.id") + \
    " WHERE p.path = ? OR p.path LIKE ? ESCAPE '\\' LIMIT 50"


def _candidates(conn: sqlite3.Connection, q: Query, extra: list[int] = ()) -> dict[int, dict]:
    """chunk id -> {id, path, start, end, qualname, kind, name, bm25}, from full text, look-ups and
    `extra` chunk ids (the nearest by embedding, in hybrid mode)."""
    out: dict[int, dict] = {}

    def add(rows) -> None:
        for cid, path, s, e, qual, kind, name, rank in rows:
            c = out.setdefault(cid, {"id": cid, "path": path, "start": s, "end": e, "qualname": qual or "",
                                     "kind": kind or "", "name": name or "", "bm25": 0.0})
            c["bm25"] = max(c["bm25"], -rank if rank is not None else 0.0)

    words = _fts_terms(conn, q.words)
    parts = [f'"{_stem(w)}"*' if len(w) > 3 else f'"{w}"' for w in words]
    phrases = ['"' + p.replace('"', '""') + '"' for p in q.phrases[:5]]
    if parts or phrases:
        try:
            add(conn.execute(_FTS, (" OR ".join(parts + phrases), CANDIDATES)))
        except sqlite3.OperationalError:  # a phrase FTS5 cannot parse: words only
            if parts:
                add(conn.execute(_FTS, (" OR ".join(parts), CANDIDATES)))
    names = sorted(q.names | {w for w in q.words if len(w) > 2})
    if names:
        add(conn.execute(_BY_NAME.format(marks=",".join("?" * len(names))), (*names, CANDIDATES)))
    for p in dict.fromkeys(q.paths + [p for p, _f in q.frames]):
        tail = p.lstrip("./")
        add(conn.execute(_BY_PATH, (tail, "%/" + tail.replace("%", "\\%").replace("_", "\\_"))))
    if extra:
        add(conn.execute(_COLUMNS.format(rank="NULL", source="chunks c") +
                         f" WHERE c.id IN ({','.join('?' * len(extra))})", list(extra)))
    _count_callers(conn, out)
    return out


def _count_callers(conn: sqlite3.Connection, cands: dict[int, dict]) -> None:
    """Each candidate definition's number of call sites (calls.target is its qualified name)."""
    names = sorted({c["qualname"] for c in cands.values() if c["qualname"]})
    counts: dict[str, int] = {}
    for i in range(0, len(names), 500):
        part = names[i : i + 500]
        counts.update(conn.execute(f"SELECT target, COUNT(*) FROM calls WHERE target IN ({','.join('?' * len(part))}) "
                                   "GROUP BY target", part))
    for c in cands.values():
        c["callers"] = counts.get(c["qualname"], 0)


def _is_test(path: str) -> bool:
    p = path.lower()
    return "/test" in p or p.startswith("test") or "_test." in p or "/spec/" in p


def _path_matches(path: str, mentioned: str) -> bool:
    m = mentioned.lstrip("./")
    return path == m or path.endswith("/" + m) or m.endswith("/" + path)


def features(conn: sqlite3.Connection, q: Query, near: "Nearness | None" = None) -> list[tuple[dict, dict[str, float]]]:
    """Every candidate chunk with its named features (what WEIGHTS weighs). With `near` (hybrid
    mode), the chunks nearest the query by embedding join the candidates, and every candidate's
    cosine similarity is the `semantic` feature."""
    cands = _candidates(conn, q, near.nearest if near else [])
    top = max((c["bm25"] for c in cands.values()), default=0.0) or 1.0
    most_called = math.log1p(max((c["callers"] for c in cands.values()), default=0)) or 1.0
    stems = [_stem(w) for w in q.words] or [""]
    idents = {i.lower() for i in q.identifiers}
    names = {n.lower() for n in q.names}
    words = set(q.words)
    frame_paths = [p for p, _f in q.frames]
    frame_funcs = {f for _p, f in q.frames if f}
    out = []
    for c in cands.values():
        name, qual, path = c["name"].lower(), c["qualname"].lower(), c["path"].lower()
        name_words = {w.lower() for w in split_words(c["name"])} | {name}
        in_frame = any(_path_matches(c["path"], p) for p in frame_paths)
        out.append((c, {
            "bm25": c["bm25"] / top,
            "definition": 1.0 if c["kind"] else 0.0,
            "ident_exact": 1.0 if name and name in names else 0.0,
            "qualname_exact": 1.0 if qual and any("." in i and (qual == i or qual.endswith("." + i)) for i in idents) else 0.0,
            "word_exact": 1.0 if name and name in words else 0.0,
            "name_cover": sum(1 for t in stems if t and any(w.startswith(t) for w in name_words)) / len(stems),
            "path_cover": sum(1 for t in stems if t and t in path) / len(stems),
            "path_mention": 1.0 if any(_path_matches(c["path"], p) for p in q.paths) else 0.0,
            "frame": (1.0 if in_frame else 0.0) * (1.0 if not frame_funcs or c["name"] in frame_funcs else 0.5),
            "fan_in": math.log1p(c["callers"]) / most_called,
            "ident_fan_in": (1.0 if name and name in names else 0.0) * math.log1p(c["callers"]) / most_called,
            "test_file": 1.0 if _is_test(path) else 0.0,
            **({"semantic": near.similarity(c["id"])} if near else {}),
        }))
    return out


def _score(f: dict[str, float], weights: dict[str, float]) -> float:
    return sum(weights.get(k, 0.0) * v for k, v in f.items())


def rank_chunks(feats: list[tuple[dict, dict[str, float]]], k: int, weights: dict[str, float] = WEIGHTS) -> list[SearchHit]:
    scored = sorted(((round(_score(f, weights), 4), c) for c, f in feats), key=lambda x: (-x[0], x[1]["path"], x[1]["start"]))
    out, seen = [], set()
    for score, c in scored:  # one hit per definition (a long one has several chunks), else per place
        key = c["qualname"] and (c["path"], c["qualname"]) or (c["path"], c["start"])
        if key not in seen:
            seen.add(key)
            out.append(SearchHit(c["path"], c["start"], c["end"], c["qualname"], c["kind"] or "chunk", score))
        if len(out) >= k:
            break
    return out


def rank_files(feats: list[tuple[dict, dict[str, float]]], k: int, weights: dict[str, float] = WEIGHTS) -> list[SearchHit]:
    """A file's score: its best chunk, plus a share of its second best (two strong places beat one)."""
    per_file: dict[str, list[tuple[float, dict]]] = {}
    for c, f in feats:
        per_file.setdefault(c["path"], []).append((_score(f, weights), c))
    ranked = []
    for path, items in per_file.items():
        items.sort(key=lambda x: -x[0])
        score = items[0][0] + (weights.get("file_second", 0.0) * items[1][0] if len(items) > 1 else 0.0)
        best = items[0][1]
        ranked.append(SearchHit(path, best["start"], best["end"], best["qualname"], "file", round(score, 4)))
    ranked.sort(key=lambda h: (-h.score, h.path))
    return ranked[:k]


# -- semantic and hybrid ------------------------------------------------------------------------

MODES = ("lexical", "semantic", "hybrid")
NEAREST = 50  # chunks nearest by embedding that join the candidates in hybrid mode
_MATRICES: dict[str, tuple[float, dict[int, int], list[int], object]] = {}  # file -> (mtime, id->row, ids, matrix)


def _matrix(vectors_file: Path):
    """The stored vectors as one numpy matrix, read once per file version (a long-lived process
    such as the language server or the MCP server pays the read once)."""
    import numpy as np

    key, mtime = str(vectors_file), vectors_file.stat().st_mtime
    hit = _MATRICES.get(key)
    if hit is None or hit[0] != mtime:
        conn = sqlite3.connect(f"file:{vectors_file}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT chunk_id, vec FROM vectors ORDER BY chunk_id").fetchall()
        finally:
            conn.close()
        ids = [r[0] for r in rows]
        mat = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1) if rows else None
        hit = _MATRICES[key] = (mtime, {cid: i for i, cid in enumerate(ids)}, ids, mat)
    return hit[1], hit[2], hit[3]


class Nearness:
    """The query's cosine similarity to every embedded definition, and the nearest of them."""

    def __init__(self, vectors_file: Path, query: str, model, n: int) -> None:
        import numpy as np

        self._row, ids, mat = _matrix(vectors_file)
        if mat is None:
            self._sims, self.nearest = None, []
            return
        qv = np.frombuffer(model.embed([query[:MAX_QUERY_CHARS]])[0], dtype=np.float32)
        self._sims = mat @ qv
        self.nearest = [ids[i] for i in np.argsort(-self._sims)[:n]]

    def similarity(self, chunk_id: int) -> float:
        row = self._row.get(chunk_id)
        return 0.0 if row is None or self._sims is None else max(float(self._sims[row]), 0.0)


def ranked(conn: sqlite3.Connection, query: str, k: int, mode: str, files: bool,
           vectors_file: Path | None = None, model=None) -> ResultList[SearchHit]:
    """search / search_files in any mode. Semantic and hybrid need `vectors_file` and `model`:
    semantic ranks by similarity alone; hybrid adds it as one more weighted feature."""
    if mode not in MODES:
        raise ValueError(f"unknown search mode {mode!r}: use {', '.join(MODES)}")
    q = parse_query(query)
    if mode == "lexical":
        if not (q.words or q.identifiers):
            return ResultList()
        feats = features(conn, q)
        weights = WEIGHTS
    else:
        if not query.strip():
            return ResultList()
        near = Nearness(vectors_file, query, model, max(NEAREST, k * 5))
        if mode == "hybrid":
            feats, weights = features(conn, q, near), WEIGHTS
        else:
            cands = _candidates(conn, Query(text=query), near.nearest)
            feats, weights = [(c, {"semantic": near.similarity(cid)}) for cid, c in cands.items()], {"semantic": 1.0}
    return ResultList(rank_files(feats, k, weights) if files else rank_chunks(feats, k, weights))



PASSAGE_LINES = 12  # a passage is this many lines; passages overlap by half


def passages(text: str, query: str, k: int = 5) -> list[tuple[int, int, float]]:
    """The best matching passages of a plain text for a question, as (start_line, end_line, score),
    1-based, best first: `ask --context` without a model answers with these."""
    words = [_stem(t) for t in terms(query)]
    lines = text.split("\n")
    if not words or not lines:
        return []
    step = PASSAGE_LINES // 2
    windows = []
    for start in range(0, max(len(lines) - step, 1), step):
        chunk = [_stem(w.lower()) for w in _WORD.findall("\n".join(lines[start:start + PASSAGE_LINES]))]
        windows.append((start + 1, min(start + PASSAGE_LINES, len(lines)), Counter(chunk)))
    df = {w: sum(1 for *_, c in windows if c[w]) for w in words}
    n = len(windows)
    scored = []
    for s, e, counts in windows:
        score = sum((1 + math.log(counts[w])) * math.log(1 + n / df[w]) for w in words if counts[w])
        if score > 0:
            scored.append((s, e, round(score, 3)))
    scored.sort(key=lambda x: (-x[2], x[0]))
    best: list[tuple[int, int, float]] = []
    for s, e, score in scored:  # no two overlapping passages
        if all(e < bs or s > be for bs, be, _ in best):
            best.append((s, e, score))
        if len(best) == k:
            break
    return best
