"""`python -m lsp_server`: the repo-rlm language server, kept as an import package for editors and SPEC.

The server lives in `repo_rlm.lsp`; this package only re-exports it, so nothing in `repo_rlm` imports it.
"""
from repo_rlm.lsp.server import RepoRlmServer, create_server, main

__all__ = ["RepoRlmServer", "create_server", "main"]
