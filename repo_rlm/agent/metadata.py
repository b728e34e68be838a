"""What the root model is told: prompt files filled in, and metadata about the input.

Metadata is bounded (top languages, a capped layout, a few entry points), so the root
prompt does not grow with the repository; the content itself is never included.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from ..query.escape import escape_controls

ENTRY_NAMES = {"main.py", "__main__.py", "cli.py", "app.py", "manage.py", "wsgi.py", "asgi.py", "server.py",
               "main.go", "main.rs", "lib.rs", "index.js", "index.ts", "main.ts", "main.js", "Main.java",
               "Program.cs", "main.c", "main.cpp", "setup.py", "pyproject.toml", "package.json",
               "Cargo.toml", "go.mod", "Makefile", "Dockerfile", "pom.xml", "build.gradle"}


@functools.lru_cache(maxsize=None)
def _template(name: str) -> str:
    text = (Path(__file__).parent / "prompts" / f"{name}.md").read_text(encoding="utf-8").strip()
    if "{{helper_list}}" in text:  # generated from the helper registry, the one list of helpers
        from ..query.helpers import prompt_list

        text = text.replace("{{helper_list}}", prompt_list())
    return text


def prompt(name: str, **values: Any) -> str:
    text = _template(name)
    for k, v in values.items():
        text = text.replace("{{" + k + "}}", str(v))
    return text


def repo_metadata(repo: Any) -> str:
    """Names from the repository are escaped (a newline in a file name must not forge a prompt line)."""
    langs = sorted(repo.languages.items(), key=lambda kv: -kv[1])
    lang_text = ", ".join(f"{escape_controls(k)} {v}" for k, v in langs[:12]) + (f", +{len(langs) - 12} more" if len(langs) > 12 else "")
    stats = ", ".join(f"{k} {v}" for k, v in list(repo.stats.items())[:10] if isinstance(v, (int, float, str)))
    tree = repo.tree(".", depth=2).splitlines()
    tree_text = "\n".join(tree[:60]) + (f"\n... ({len(tree) - 60} more entries)" if len(tree) > 60 else "")
    files = repo.files()
    entries = sorted((escape_controls(f) for f in files if f.rsplit("/", 1)[-1] in ENTRY_NAMES),
                     key=lambda f: (f.count("/"), f))
    return (f"Repository: {escape_controls(Path(repo.root).name)} ({len(files)} files). "
            f"Languages (files): {lang_text or 'none'}.\n"
            f"Index: {stats}.\nLikely entry points and manifests: {', '.join(entries[:15]) or 'none found'}"
            f"{' ...' if len(entries) > 15 else ''}.\nTop-level layout:\n{tree_text}")


def context_metadata(text: str) -> str:
    lines = text.splitlines()
    chunks = [sum(len(x) + 1 for x in lines[i:i + 1000]) for i in range(0, len(lines), 1000)]
    shown = ", ".join(map(str, chunks[:20])) + (f", ... ({len(chunks)} chunks)" if len(chunks) > 20 else "")
    return (f"The input `context` is a Python str of {len(text)} characters and {len(lines)} lines. "
            f"Character lengths of its 1000-line chunks: [{shown}].")
