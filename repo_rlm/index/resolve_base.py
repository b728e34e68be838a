"""What both resolvers share: the bulk threshold and the write-back of targets into the index.

A call site may reach several definitions (a parameter bound to two callbacks); the first target
updates the call's own row, each further one is a copy of the row with `is_new = 2` (rows the
resolver made, like `for`/`with`/operator calls it found by value flow), or 3 for the decorated
function a call names when value flow sends it to the decorator's wrapper. Those rows are deleted
and made again whenever their file is resolved again, so a resolve is repeatable.
"""
from __future__ import annotations

import sqlite3

from . import store

BULK = store.BULK_FILES  # resolving more files than this loads everything up front
MADE = 2  # calls.is_new of rows the resolver made
DECORATED = 3  # ... naming a decorated function a call reaches through its decorator's wrapper


def files_clause(file_ids: list[int]) -> tuple[str, list[int]]:
    return f"file_id IN ({','.join('?' * len(file_ids))})", list(file_ids)


def clear_made(conn: sqlite3.Connection, file_ids: list[int]) -> None:
    """Drop the rows an earlier resolve of these files made, and what it knew of their calls'
    parameters (`via_params`)."""
    for i in range(0, len(file_ids), 500):
        where, args = files_clause(file_ids[i:i + 500])
        conn.execute(f"DELETE FROM calls WHERE is_new >= {MADE} AND {where}", args)
        conn.execute(f"UPDATE calls SET via_params = 0 WHERE via_params = 1 AND {where}", args)


def scopes_clauses(scopes: dict[int, set[int]]):
    """(WHERE clause, args) for the calls of some definitions (file id -> symbol ids, as
    `calls.caller_id`), in pieces short enough for one `IN (...)`."""
    for fid, ids in scopes.items():
        ids = sorted(ids)
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            yield f"file_id = ? AND caller_id IN ({','.join('?' * len(part))})", [fid, *part]


def clear_params(conn: sqlite3.Connection, scopes: dict[int, set[int]]) -> None:
    """Drop the rows an earlier resolve made for the calls that needed parameters' values in these
    definitions (file id -> symbol ids, see scopes_clauses); those calls stay so."""
    for where, args in scopes_clauses(scopes):
        conn.execute(f"DELETE FROM calls WHERE is_new >= {MADE} AND via_params = 1 AND {where}", args)


class CallTargets:
    """Targets for call rows, taken as they are found: (target, resolution, call id, via_params;
    a call's via_params is 0 until set here: clear_made). An editor's save sets a few with plain
    UPDATEs; a bulk resolve, once it passes `stream` rows, streams them into a temp table and sets
    them all at the end in one UPDATE ... FROM (a single pass over `calls`), so that no list of
    every call's target is ever held."""

    def __init__(self, conn: sqlite3.Connection, stream: int = 50_000) -> None:
        self.conn = conn
        self.stream = stream
        self.rows: list[tuple] = []
        self.streaming = False

    def add(self, target: str | None, resolution: str, call_id: int, via_params: int = 0) -> None:
        self.rows.append((target, resolution, via_params, call_id))
        if len(self.rows) >= self.stream:
            self._flush()

    def _flush(self) -> None:
        if not self.streaming:
            self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS resolved_calls(target TEXT, resolution TEXT, "
                              "via_params INTEGER, id INTEGER PRIMARY KEY)")
            self.conn.execute("DELETE FROM resolved_calls")
            self.streaming = True
        self.conn.executemany("INSERT OR REPLACE INTO resolved_calls VALUES(?,?,?,?)", self.rows)
        self.rows = []

    def finish(self, extra: list[tuple] = ()) -> None:
        """Write what was added; `extra`: whole new rows (file_id, caller_id, caller, callee_text,
        name, line, col, text, target, resolution, is_new[, via_params])."""
        if not self.streaming:
            self.conn.executemany("UPDATE calls SET target=?, resolution=?, via_params=? WHERE id=?", self.rows)
        else:  # via_params apart: SQLite held ~400 MB more for 2M rows when one UPDATE set all three
            self._flush()
            self.conn.execute("UPDATE calls SET target = r.target, resolution = r.resolution "
                              "FROM resolved_calls r WHERE calls.id = r.id")
            self.conn.execute("UPDATE calls SET via_params = 1 WHERE id IN "
                              "(SELECT id FROM resolved_calls WHERE via_params = 1)")
            self.conn.execute("DELETE FROM resolved_calls")
        self.rows = []
        if extra:
            self.conn.executemany(
                "INSERT INTO calls(file_id, caller_id, caller, callee_text, name, line, col, text, target, resolution, "
                "is_new, via_params) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)", (r if len(r) == 12 else (*r, 0) for r in extra))


def clear_targets(conn: sqlite3.Connection, file_ids: list[int]) -> None:
    """Forget the import and base targets of files about to be resolved again: one that no longer
    resolves (its definition went) must not keep its old target."""
    for i in range(0, len(file_ids), 500):
        where, args = files_clause(file_ids[i:i + 500])
        conn.execute(f"UPDATE imports SET target=NULL WHERE target IS NOT NULL AND {where}", args)
        conn.execute(f"UPDATE bases SET target=NULL WHERE target IS NOT NULL AND {where}", args)


def write_imports_and_bases(conn: sqlite3.Connection, imports: list[tuple], bases: list[tuple]) -> None:
    """`imports`: (target, import id); `bases`: (target, symbol id, base as written)."""
    conn.executemany("UPDATE imports SET target=? WHERE id=?", imports)
    conn.executemany("UPDATE bases SET target=? WHERE symbol_id=? AND base=?", bases)
