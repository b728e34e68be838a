"""The model layer through the real litellm HTTP path against the fake server."""
from __future__ import annotations

import asyncio
import time

import pytest

from repo_rlm.agent.models import BudgetExceeded, ModelClient, ModelError, ResponseCache
from tests.fakellm import MODEL, Fault, fake_llm  # noqa: F401

MSG = [{"role": "user", "content": "hello"}]


def client(fake, **kw) -> ModelClient:
    kw.setdefault("backoff_s", 0.01)
    kw.setdefault("call_timeout_s", 5)
    return ModelClient(api_base=fake.api_base, api_key="dummy", **kw)


async def test_reply_tokens_and_cost_from_local_price_map(fake_llm):
    fake_llm.handler = lambda req: "x" * 400
    c = client(fake_llm)
    r = await c.complete(MODEL, MSG)
    assert r.text == "x" * 400
    assert r.completion_tokens == 101 and r.prompt_tokens >= 1
    # gpt-4o-mini: $0.15 / 1M input, $0.60 / 1M output
    assert r.cost_usd == pytest.approx(r.prompt_tokens * 0.15e-6 + 101 * 0.6e-6)
    assert c.usage.cost_usd == pytest.approx(r.cost_usd) and c.usage.calls == 1


async def test_unknown_model_costs_zero_but_counts_tokens(fake_llm):
    c = client(fake_llm, max_tokens_total=10)
    r = await c.complete("openai/no-such-model-xyz", MSG)
    assert r.cost_usd == 0.0 and c.usage.completion_tokens > 0
    c.usage.completion_tokens = 50
    with pytest.raises(BudgetExceeded):
        await c.complete("openai/no-such-model-xyz", MSG)


async def test_429_then_success_is_retried(fake_llm):
    seq = [Fault("429"), "fine"]
    fake_llm.handler = lambda req: seq.pop(0)
    r = await client(fake_llm).complete(MODEL, MSG)
    assert r.text == "fine" and len(fake_llm.requests) == 2


async def test_500_retried_then_one_line_error(fake_llm):
    fake_llm.handler = lambda req: Fault("500")
    with pytest.raises(ModelError) as e:
        await client(fake_llm, retries=2).complete(MODEL, MSG)
    assert len(fake_llm.requests) == 3
    assert "\n" not in str(e.value) and "failed" in str(e.value)


async def test_hang_times_out_and_is_retried(fake_llm):
    seq = [Fault("hang"), "after hang"]
    fake_llm.handler = lambda req: seq.pop(0)
    start = time.monotonic()
    r = await client(fake_llm, call_timeout_s=0.5).complete(MODEL, MSG)
    assert r.text == "after hang" and time.monotonic() - start < 5


async def test_malformed_body_is_an_error_not_a_crash(fake_llm):
    fake_llm.handler = lambda req: Fault("malformed")
    with pytest.raises(ModelError):
        await client(fake_llm, retries=1).complete(MODEL, MSG)
    assert len(fake_llm.requests) == 2


async def test_usd_budget_stops_further_calls(fake_llm):
    fake_llm.handler = lambda req: "y" * 4000
    c = client(fake_llm, budget_usd=1e-6)
    await c.complete(MODEL, MSG)
    with pytest.raises(BudgetExceeded):
        await c.complete(MODEL, MSG)
    assert len(fake_llm.requests) == 1


async def test_concurrency_limit(fake_llm):
    fake_llm.latency = 0.2
    c = client(fake_llm, max_concurrency=3)
    await asyncio.gather(*[c.complete(MODEL, [{"role": "user", "content": str(i)}]) for i in range(9)])
    assert fake_llm.max_in_flight == 3


async def test_cache_hit_costs_nothing_and_no_request(fake_llm, tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    c = client(fake_llm, cache=cache)
    a = await c.complete(MODEL, MSG)
    cost = c.usage.cost_usd
    b = await c.complete(MODEL, MSG)
    assert b.cached and b.text == a.text and len(fake_llm.requests) == 1
    assert c.usage.cost_usd == cost
    await client(fake_llm).complete(MODEL, MSG)  # no cache: goes to the server
    assert len(fake_llm.requests) == 2
