"""Call-graph precision and recall on our own micro cases (fixtures/callgraph/<group>/<case>/), one
small program per Python feature with the expected graph next to it in PyCG's format.

Edges to `<builtin>`/`<external>` names are left out on both sides: the cases judge what the
index ties inside the repository. `python tests/test_callgraph.py` prints the table per case.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from repo_rlm.query.repo import Repo

ROOT = Path(__file__).resolve().parent.parent
CASES = sorted(p.parent for p in (ROOT / "fixtures" / "callgraph").glob("*/*/callgraph.json"))
PRECISION, RECALL = 0.98, 0.95


def edges(cg: dict[str, list[str]]) -> set[tuple[str, str]]:
    return {(k, v) for k, vs in cg.items() for v in vs if not v.startswith("<")}


def run_case(case: Path, work: Path) -> tuple[dict, dict]:
    """(our PyCG-format graph, the expected one) for one case, indexed in a copy under `work`."""
    dst = work / case.parent.name / case.name
    shutil.copytree(case, dst, ignore=shutil.ignore_patterns("callgraph.json"))
    repo = Repo.open(dst, index_path=work / f"{case.parent.name}-{case.name}.db")
    try:
        ours = repo.callgraph_pycg()
    finally:
        repo.close()
    return ours, json.loads((case / "callgraph.json").read_text())


def score(work: Path) -> tuple[float, float, list[tuple]]:
    tp = fp = fn = 0
    rows = []
    for case in CASES:
        ours, expected = run_case(case, work)
        got, want = edges(ours), edges(expected)
        tp += len(got & want)
        fp += len(got - want)
        fn += len(want - got)
        rows.append((f"{case.parent.name}/{case.name}", sorted(got - want), sorted(want - got), ours, expected))
    return tp / max(1, tp + fp), tp / max(1, tp + fn), rows


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> tuple[float, float, list[tuple]]:
    return score(tmp_path_factory.mktemp("callgraph"))


def test_there_is_a_case_per_feature_group() -> None:
    groups = {c.parent.name for c in CASES}
    assert {"assign", "returns", "params", "lambdas", "decorators", "containers", "attrs", "protocols", "super",
            "imports", "calls"} <= groups
    assert len(CASES) >= 40


def test_precision_and_recall_reach_the_targets(scored) -> None:
    precision, recall, rows = scored
    wrong = [(name, extra, missing) for name, extra, missing, _o, _e in rows if extra or missing]
    assert precision >= PRECISION and recall >= RECALL, (precision, recall, wrong)


def test_every_expected_key_is_a_key(scored) -> None:
    """Functions, methods, lambdas (`module.<lambdaN>`) and modules are keys; classes are not."""
    _p, _r, rows = scored
    for name, _x, _m, ours, expected in rows:
        assert set(expected) <= set(ours), (name, sorted(set(expected) - set(ours)))
        assert not any(k.rsplit(".", 1)[-1][:1].isupper() for k in ours if k not in expected), (name, sorted(ours))


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        p, r, rows = score(Path(tmp))
    for name, extra, missing, _o, _e in rows:
        if extra or missing or "-v" in sys.argv:
            print(f"{name:32} extra={extra} missing={missing}")
    print(f"cases={len(rows)} precision={p:.3f} recall={r:.3f}")
