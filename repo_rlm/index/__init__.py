"""Building the index: discovery, tree-sitter parsing, the SQLite store (all writes), resolution."""
