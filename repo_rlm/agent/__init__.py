"""The RLM agent: configuration, the engine loop, models, the sandboxed REPL, citations, traces."""
