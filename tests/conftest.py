"""Suite-wide: the fact cache (and its registry of indexes) lives in a temporary directory, so the
tests never read or write the user's cache and never start an index from a user's index. Each
test has its own: a new index is seeded from any index of the same tree the registry names, so a
shared one let an earlier test's index stand in for a build (tests then depended on their order)."""
from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_fact_cache(tmp_path_factory: pytest.TempPathFactory):
    """For fixtures of a module or the session, built before any test's own cache is set."""
    old = os.environ.get("REPO_RLM_FACT_CACHE")
    os.environ["REPO_RLM_FACT_CACHE"] = str(tmp_path_factory.mktemp("fact-cache"))
    yield
    if old is None:
        os.environ.pop("REPO_RLM_FACT_CACHE", None)
    else:
        os.environ["REPO_RLM_FACT_CACHE"] = old


@pytest.fixture(autouse=True)
def _fact_cache_per_test(_private_fact_cache, tmp_path_factory: pytest.TempPathFactory,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPO_RLM_FACT_CACHE", str(tmp_path_factory.mktemp("fact-cache")))
