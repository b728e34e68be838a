"""Which language a file is, and the tree-sitter parser and tag query for it.

Queries live in `queries/<lang>.scm` (aider-style), one file per language. Parsers and
compiled queries are cached per process, since index workers parse many files each.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

QUERY_DIR = Path(__file__).parent / "queries"

# extension -> tree-sitter-language-pack name (C# is "csharp" in 0.13.0)
EXTENSIONS: dict[str, str] = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".jsx": "javascript", ".mjs": "javascript", ".cjs": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".java": "java",
    ".rs": "rust",
    ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".hxx": "cpp",
    ".cs": "csharp",
    ".rb": "ruby",
    ".php": "php",
    ".kt": "kotlin", ".kts": "kotlin",
}

# Text files that are listed and searchable but have no symbols.
TEXT_EXTENSIONS = {
    ".md", ".rst", ".txt", ".toml", ".yaml", ".yml", ".json", ".cfg", ".ini", ".sh", ".bash",
    ".html", ".css", ".scss", ".sql", ".xml", ".gradle", ".proto", ".graphql", ".lua", ".swift",
    ".scala", ".ex", ".exs", ".erl", ".hs", ".ml", ".r", ".jl", ".vue", ".svelte", ".tf", ".env",
    ".dockerfile", ".mk", ".cmake", ".bat", ".ps1", ".pl", ".m", ".dart", ".zig", ".nim",
}
TEXT_NAMES = {"Makefile", "Dockerfile", "README", "LICENSE", "Rakefile", "Gemfile", "Procfile"}


def language_for(path: str) -> str | None:
    """The parser language for a path, "text" for known text files, None for anything else."""
    name = path.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    ext = name[dot:].lower() if dot > 0 else ""
    lang = EXTENSIONS.get(ext)
    if lang:
        return lang
    if ext in TEXT_EXTENSIONS or name in TEXT_NAMES:
        return "text"
    return None


def has_query(lang: str) -> bool:
    return (QUERY_DIR / f"{lang}.scm").exists()


@lru_cache(maxsize=None)
def parser_for(lang: str):
    import tree_sitter_language_pack as tslp

    return tslp.get_parser(lang)


@lru_cache(maxsize=None)
def query_for(lang: str):
    """The compiled tag query of a language (tsx uses typescript's file unless it has its own)."""
    import tree_sitter as ts
    import tree_sitter_language_pack as tslp

    name = "typescript" if lang == "tsx" and not has_query("tsx") else lang
    source = (QUERY_DIR / f"{name}.scm").read_text()
    return ts.Query(tslp.get_language(lang), source)
