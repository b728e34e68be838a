"""Suite-wide: the fact cache (and its registry of indexes) lives in a temporary directory, so the
tests never read or write the user's cache and never start an index from a user's index."""
from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_fact_cache(tmp_path_factory: pytest.TempPathFactory):
    old = os.environ.get("REPO_RLM_FACT_CACHE")
    os.environ["REPO_RLM_FACT_CACHE"] = str(tmp_path_factory.mktemp("fact-cache"))
    yield
    if old is None:
        os.environ.pop("REPO_RLM_FACT_CACHE", None)
    else:
        os.environ["REPO_RLM_FACT_CACHE"] = old
