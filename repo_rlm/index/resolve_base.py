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
    """Drop the rows an earlier resolve of these files made."""
    for i in range(0, len(file_ids), 500):
        where, args = files_clause(file_ids[i:i + 500])
        conn.execute(f"DELETE FROM calls WHERE is_new >= {MADE} AND {where}", args)


def write_calls(conn: sqlite3.Connection, updates: list[tuple], extra: list[tuple] = ()) -> None:
    """`updates`: (target, resolution, call id). `extra`: whole new rows (file_id, caller_id, caller,
    callee_text, name, line, col, text, target, resolution, is_new). For a bulk resolve, one UPDATE ... FROM a
    temp table (a single pass over `calls`) beats many small updates; for an editor's save, the reverse."""
    if len(updates) < 50_000:
        conn.executemany("UPDATE calls SET target=?, resolution=? WHERE id=?", updates)
    else:
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS resolved_calls(target TEXT, resolution TEXT, id INTEGER PRIMARY KEY)")
        conn.execute("DELETE FROM resolved_calls")
        conn.executemany("INSERT INTO resolved_calls VALUES(?,?,?)", updates)
        conn.execute("UPDATE calls SET target = r.target, resolution = r.resolution FROM resolved_calls r WHERE calls.id = r.id")
        conn.execute("DELETE FROM resolved_calls")
    if extra:
        conn.executemany(
            "INSERT INTO calls(file_id, caller_id, caller, callee_text, name, line, col, text, target, resolution, is_new) "
            "VALUES(?,?,?,?,?,?,?,?,?,?,?)", extra)


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
