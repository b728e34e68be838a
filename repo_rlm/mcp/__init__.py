"""The MCP server front end: `repo-rlm mcp` (see server.py)."""
