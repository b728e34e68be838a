"""Which language a file is, and the tree-sitter parser and tag query for it.

Queries live in `queries/<lang>.scm` (aider-style), one file per language; a first line
`; inherits: a,b` (nvim-treesitter's convention) prepends the patterns of `a.scm` and `b.scm`,
so JavaScript, TypeScript and TSX share `ecma.scm` and `jsx.scm`. Parsers and compiled queries
are cached per process, since index workers parse many files each.
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
TEXT_NAMES = {"Makefile", "Dockerfile", "README", "LICENSE", "Rakefile", "Gemfile", "Procfile", "go.mod"}


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
def query_source(name: str) -> str:
    """The text of `queries/<name>.scm` with the files it inherits prepended."""
    source = (QUERY_DIR / f"{name}.scm").read_text()
    first = source.split("\n", 1)[0]
    if first.startswith("; inherits:"):
        parents = [p.strip() for p in first.split(":", 1)[1].split(",") if p.strip()]
        source = "\n".join(query_source(p) for p in parents) + "\n" + source
    return source


@lru_cache(maxsize=None)
def query_for(lang: str):
    """The compiled tag query of a language."""
    import tree_sitter as ts
    import tree_sitter_language_pack as tslp

    return ts.Query(tslp.get_language(lang), query_source(lang))
