"""The repo-rlm language server (`repo-rlm lsp`): the index and the RLM agent over LSP."""
from .server import RepoRlmServer, create_server, main

__all__ = ["RepoRlmServer", "create_server", "main"]
