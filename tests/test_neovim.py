"""One check through a real editor: headless Neovim (0.7+) and its built-in LSP client run
definition and references against `repo-rlm lsp` on a copy of the pyapp fixture."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from pygls.uris import from_fs_path

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures"


def repo_rlm_command() -> list[str]:
    exe = Path(sys.executable).with_name("repo-rlm")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "repo_rlm.cli"]


def test_neovim_builtin_client_definition_and_references(tmp_path):
    nvim = shutil.which("nvim")
    assert nvim, "neovim is required (apt-get install neovim)"
    root = tmp_path / "pyapp"
    shutil.copytree(FIXTURES / "pyapp", root)
    out = tmp_path / "out.json"
    requests = [
        # views.py:12 `    notify(user)`, cursor on the `o` of notify (0-based byte column 5)
        {"method": "textDocument/definition", "file": "src/shop/views.py", "line": 12, "col": 5},
        # decorators.py:10 `        check_session(request)`
        {"method": "textDocument/references", "file": "src/shop/auth/decorators.py", "line": 10, "col": 10},
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPO_RLM_")}
    env.update(
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        RLM_CMD=json.dumps(repo_rlm_command() + ["--index", str(tmp_path / "index.db"), "lsp", "--stdio"]),
        RLM_ROOT=str(root),
        RLM_OUT=str(out),
        RLM_REQUESTS=json.dumps(requests),
    )
    proc = subprocess.run(
        [nvim, "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {HERE / 'nvim_lsp.lua'}"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    definition, references = data["results"]

    services = root / "src/shop/services.py"
    assert definition["locations"] == [{
        "uri": from_fs_path(str(services)),
        "range": {"start": {"line": 5, "character": 4}, "end": {"line": 5, "character": 10}},
    }]
    assert [(Path(i["file"]), i["lnum"], i["col"], i["text"]) for i in definition["items"]] == [
        (services, 6, 5, "def notify(user: User):"),
    ]

    decorators = root / "src/shop/auth/decorators.py"
    assert [(Path(i["file"]), i["lnum"], i["col"]) for i in references["items"]] == [
        (decorators, 10, 9),  # the call in wrapper
        (decorators, 16, 5),  # def check_session
    ]
