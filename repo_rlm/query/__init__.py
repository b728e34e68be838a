"""The read side of the index: `Repo`, typed results, search, call-graph formats."""
