"""Build a file-localization benchmark from public repositories' own history.

For each repository (a local git clone you provide), take bug-fix commits (message mentions a fix,
a bug or an issue) that change 1-4 non-test Python files which still exist at the snapshot commit;
the query is the commit message (subject and body, never the diff), the answer the changed files.
Writes JSONL rows {repo, commit, snapshot, query, gold}. Nothing from the repositories is
committed here: point this at clones outside this checkout.

    python bench/localization/build_dataset.py --out /tmp/loc.jsonl --per-repo 50 CLONE [CLONE ...]
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

FIX = re.compile(r"\b(fix(e[sd])?|bug|issue|crash|error|regression|broken|wrong|incorrect)\b|#\d+", re.I)
TESTISH = re.compile(r"(^|/)(tests?|testing|docs?|examples?)/|(^|/)test_[^/]*\.py$|_test\.py$|conftest\.py$")
NOISE = re.compile(r"^(Signed-off-by|Co-authored-by|Reviewed-by|Merge pull request).*$", re.M | re.I)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          errors="replace").stdout


def commits(repo: Path, snapshot: str, per_repo: int, max_scan: int) -> list[dict]:
    present = set(git(repo, "ls-tree", "-r", "--name-only", snapshot).splitlines())
    log = git(repo, "log", "--no-merges", f"-n{max_scan}", "--format=%x00%H%x01%B%x02", "--name-only", snapshot)
    rows = []
    for entry in log.split("\x00")[1:]:
        sha, _, rest = entry.partition("\x01")
        message, _, names = rest.partition("\x02")
        files = [f for f in names.split() if f]
        gold = [f for f in files if f.endswith(".py") and not TESTISH.search(f)]
        message = NOISE.sub("", message).strip()
        if not (1 <= len(gold) <= 4) or not FIX.search(message) or len(message.split()) < 6:
            continue
        if any(f not in present for f in gold):
            continue
        rows.append({"repo": repo.name if repo.name != "repo" else repo.parent.name, "commit": sha,
                     "snapshot": snapshot, "query": message, "gold": sorted(gold)})
        if len(rows) >= per_repo:
            break
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clones", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--per-repo", type=int, default=50)
    ap.add_argument("--max-scan", type=int, default=4000, help="newest commits examined per repository")
    a = ap.parse_args(argv)
    total = 0
    with a.out.open("w") as f:
        for clone in a.clones:
            snapshot = git(clone, "rev-parse", "HEAD").strip()
            rows = commits(clone, snapshot, a.per_repo, a.max_scan)
            for r in rows:
                f.write(json.dumps(r) + "\n")
            total += len(rows)
            print(f"{clone}: {len(rows)} commits", file=sys.stderr)
    print(f"{total} rows -> {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
