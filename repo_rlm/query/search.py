"""Rank definitions and code chunks for a natural-language question.

Full-text scoring (FTS5 bm25, names weighted over signatures, docs, paths and bodies) plus
structure: definitions over mere mentions, names and paths that contain the question's words.
Good enough to be `ask`'s retrieval-only fallback and the model's first probe.
"""
from __future__ import annotations

import re
import sqlite3
from collections import Counter

from ..index.names import split_words
from .results import ResultList, SearchHit

STOP = set("""a an and are as at be by can do does for from how i if in into is it its me my of on or
that the their then there these this to was what when where which who why will with you your
code function method class file files find show tell about any all used use uses using implemented
implement handle handled handles defined define""".split())
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


def search(conn: sqlite3.Connection, query: str, k: int = 20) -> ResultList[SearchHit]:
    words = terms(query)
    if not words:
        return ResultList()
    match = " OR ".join(f'"{_stem(w)}"*' for w in words)
    rows = conn.execute(
        """SELECT c.id, f.path, c.start_line, c.end_line, s.qualname, s.kind, s.name,
                  bm25(chunks_fts, 10.0, 3.0, 4.0, 3.0, 1.0) AS rank, chunks_fts.name, chunks_fts.doc
           FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid
           JOIN files f ON f.id = c.file_id
           LEFT JOIN symbols s ON s.id = c.symbol_id
           WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?""",
        (match, max(200, k * 10)),
    ).fetchall()
    stems = [_stem(w) for w in words]
    hits = []
    for _cid, path, s, e, qual, kind, name, rank, name_words, doc in rows:
        score = -rank
        lname, lpath = (name_words or "").lower(), path.lower()
        if kind:
            score *= 1.3  # a definition over a window of loose lines
        covered = sum(1 for t in stems if t in lname or t in lpath)
        score *= 1 + 0.25 * covered
        if doc:
            score *= 1.05
        if "/test" in lpath or lpath.startswith("test") or "_test." in lpath:
            score *= 0.8  # tests mention everything; the code under test is usually the answer
        hits.append(SearchHit(path, s, e, qual or "", kind or "chunk", round(score, 3)))
    hits.sort(key=lambda h: -h.score)
    seen, out = set(), []
    for h in hits:
        key = (h.path, h.start_line)
        if key not in seen:
            seen.add(key)
            out.append(h)
        if len(out) >= k:
            break
    return ResultList(out)


PASSAGE_LINES = 12  # a passage is this many lines; passages overlap by half


def passages(text: str, query: str, k: int = 5) -> list[tuple[int, int, float]]:
    """The best matching passages of a plain text for a question, as (start_line, end_line, score),
    1-based, best first: `ask --context` without a model answers with these."""
    import math

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
