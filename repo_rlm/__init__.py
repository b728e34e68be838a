"""repo-rlm: a code index, navigation and a recursive LM agent for large repositories.

Layers, each importing only those below it (tests/test_layers.py holds this):
`index` (discovery, parsing, the store, resolution) -> `query` (the read side: `Repo`, results,
search) -> `agent` (the RLM engine, models, sandboxed REPL) -> front ends (`cli`, `lsp`, `mcp`).
"""

__version__ = "0.1.0"
