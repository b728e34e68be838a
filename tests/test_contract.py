"""docs/contract.md documents the public contract; this keeps it in step with the code:
every CLI command and every long option appears on that page."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from repo_rlm.cli.main import build_parser

DOC = (Path(__file__).resolve().parents[1] / "docs" / "contract.md").read_text(encoding="utf-8")


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield prefix + (name,), sub
                yield from _commands(sub, prefix + (name,))


def test_every_command_and_option_is_documented():
    parser = build_parser(["ask", "review", "eval"])  # their flags are added only when they are on the command line
    missing = []
    for path, sub in _commands(parser):
        words = " ".join(path)
        if not re.search(rf"repo-rlm (\[[^\]]*\] )*{re.escape(words)}\b", DOC):
            missing.append(f"command `repo-rlm {words}`")
        for action in sub._actions:
            for opt in action.option_strings:
                if opt.startswith("--") and opt != "--help" and f"`{opt}" not in DOC and f" {opt}" not in DOC \
                        and f"[{opt}" not in DOC:
                    missing.append(f"`repo-rlm {words} {opt}`")
    assert not missing, "docs/contract.md does not mention:\n" + "\n".join(missing)
