"""What the index and its readers must agree on about names, defined once.

Identifier characters are Unicode-aware (`café` is one identifier), as in Python, JS, Go,
Java and most languages the index parses; `$` is an identifier character in JS and PHP.
"""
from __future__ import annotations

import re

# Every kind of definition the extractor produces (`@def.<kind>` in the queries, plus `method`).
DEF_KINDS = ("function", "method", "class", "interface", "struct", "enum", "trait", "type", "object",
             "variable", "constant", "module", "namespace")
# Definitions that contain members: their functions are methods, their variables fields.
CLASS_KINDS = frozenset({"class", "struct", "interface", "trait", "enum", "impl", "object", "module", "namespace", "type"})
# Definitions that a call constructs: `Foo()` reaches Foo's constructor.
CONSTRUCTIBLE_KINDS = ("class", "struct")
# What calling a class reaches, by language: Python, JS/TS, Ruby, PHP; Java, C#, C++ use the class's name.
CONSTRUCTORS = ("__init__", "constructor", "initialize", "__construct")

IDENT_CHAR = re.compile(r"[\w$]")
IDENT_RUN = re.compile(r"[\w$]+")
IDENTIFIER = re.compile(r"[^\W\d][\w$]*|\$[\w$]*")
# Where an identifier splits into words: camelCase humps and underscores. The parser indexes
# definition names by these words and search splits a question's identifiers the same way.
WORD_SPLIT = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|_+")


def is_ident_char(ch: str) -> bool:
    return bool(ch) and (ch.isalnum() or ch in "_$")


def split_words(name: str) -> list[str]:
    return [w for w in WORD_SPLIT.split(name) if w]


def absolute_module(file_module: str, path: str, module: str, level: int) -> str:
    """The module a Python import names (`from ..x import y` in pkg/sub/mod.py: pkg.x), the file
    being `path` whose module is `file_module`."""
    if not level:
        return module
    parts = file_module.split(".")
    if not path.endswith("__init__.py"):
        parts = parts[:-1]
    parts = parts[:max(0, len(parts) - (level - 1))] + ([module] if module else [])
    return ".".join(p for p in parts if p)
