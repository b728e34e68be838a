"""The package's layers import only downward: index -> query -> agent -> front ends -> cli.

Every `import`/`from ... import` in `repo_rlm` (at any depth, lazy ones included) is checked."""
from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "repo_rlm"
# lower number = lower layer; a module may import its own layer or any lower one
LAYERS = {"index": 0, "query": 1, "agent": 2, "lsp": 3, "mcp": 3, "review": 3, "report": 3, "viewer": 3, "eval": 3, "cli": 4}
FRONT_ENDS = {name for name, rank in LAYERS.items() if rank == 3}


def _layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "repo_rlm" else None


def _imports(path: Path) -> list[tuple[int, str]]:
    here = "repo_rlm." + ".".join(path.relative_to(PKG).with_suffix("").parts)
    package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            names = [mod] if node.module else [f"{mod}.{a.name}" for a in node.names]
            out += [(node.lineno, n) for n in names]
    return out


def test_every_module_is_in_a_layer():
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG)
        assert len(rel.parts) == 1 and rel.name == "__init__.py" or rel.parts[0] in LAYERS, f"{rel} is in no layer"


def test_imports_only_go_down():
    bad = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG)
        if len(rel.parts) == 1:
            continue
        mine = rel.parts[0]
        for line, target in _imports(path):
            if target.startswith("lsp_server"):
                bad.append(f"{rel}:{line} imports {target} (the shim package imports repo_rlm, never the reverse)")
            theirs = _layer_of(target)
            if theirs is None or theirs == mine:
                continue
            if LAYERS.get(theirs, 99) > LAYERS[mine] or (mine in FRONT_ENDS and theirs in FRONT_ENDS):
                bad.append(f"{rel}:{line} imports {target}")
    assert not bad, "imports against the layering:\n" + "\n".join(bad)
