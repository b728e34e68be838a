"""The language server (`repo-rlm lsp`): thin pygls adapters over the query layer and the agent."""
