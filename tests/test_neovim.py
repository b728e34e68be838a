"""One check through a real editor: headless Neovim (0.7+) runs the README's recipe, exactly as
written there, against `repo-rlm lsp` on a copy of the pyapp fixture: one server for every file
of the repository, definition, references, code lenses, and Ask's answer in a buffer."""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from pygls.uris import from_fs_path

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures"
README = HERE.parent / "README.md"


def readme_recipe() -> str:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- nvim-recipe -->\s*```lua\n(.*?)```\s*<!-- /nvim-recipe -->", text, re.S)
    assert block, "README.md has no Neovim recipe between <!-- nvim-recipe --> markers"
    return block.group(1)


def repo_rlm_on_path(bindir: Path, index: Path) -> None:
    """A `repo-rlm` on PATH, as the recipe expects, using this checkout and a private index."""
    bindir.mkdir()
    exe = Path(sys.executable).with_name("repo-rlm")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "repo_rlm.cli"]
    script = bindir / "repo-rlm"
    script.write_text("#!/bin/sh\nexec " + " ".join(shlex.quote(c) for c in cmd)
                      + f" --index {shlex.quote(str(index))} \"$@\"\n")
    script.chmod(0o755)


def test_neovim_readme_recipe(tmp_path):
    nvim = shutil.which("nvim")
    assert nvim, "neovim is required (apt-get install neovim)"
    root = tmp_path / "pyapp"
    shutil.copytree(FIXTURES / "pyapp", root)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    recipe = tmp_path / "recipe.lua"
    recipe.write_text(readme_recipe())
    repo_rlm_on_path(tmp_path / "bin", tmp_path / "index.db")
    out = tmp_path / "out.json"
    requests = [
        # views.py:12 `    notify(user)`, cursor on the `o` of notify (0-based byte column 5)
        {"method": "textDocument/definition", "file": "src/shop/views.py", "line": 12, "col": 5},
        # decorators.py:10 `        check_session(request)`
        {"method": "textDocument/references", "file": "src/shop/auth/decorators.py", "line": 10, "col": 10},
        # a third file of the same repository: still one server
        {"method": "textDocument/definition", "file": "src/shop/services.py", "line": 6, "col": 5},
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPO_RLM_")}
    env.update(
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        PATH=f"{tmp_path / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        RLM_RECIPE=str(recipe),
        RLM_QUESTION="where are sessions checked",
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
    definition, references, _ = data["results"]
    assert data["clients"] == 1
    assert data["errors"] == [] and data["errmsg"] == ""
    assert data["lenses"] and all(" caller" in lens["title"] for lens in data["lenses"])
    # no model configured here: the answer is retrieval only, shown in a markdown buffer
    assert data["answer_filetype"] == "markdown"
    assert "retrieval" in data["answer"].lower() and "src/shop/" in data["answer"]

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
