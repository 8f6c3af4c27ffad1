"""A property-based run of the API's own OpenAPI document (schemathesis): no 5xx, and every
response conforms to the schema (status codes documented, bodies of the documented shape)."""

from __future__ import annotations

import pytest
import schemathesis
from schemathesis import checks
from hypothesis import HealthCheck, settings

from cockpit.api.app import create_api

T0 = 1_704_067_200_000
H = 3_600_000
TOKEN = "schema-run-token-" + "x" * 24  # a trader credential, as the per-start token is


@pytest.fixture
def api_schema(cfg, db, tmp_path):
    from cockpit.db.models import DecisionRow, OrderRow
    from cockpit.market.csv_import import import_csv

    p = tmp_path / "c.csv"
    p.write_text(
        "timestamp,open,high,low,close,volume\n"
        + "".join(f"{T0 + i * H},{100 + i},{102 + i},{99 + i},{101 + i},{10 + i}\n" for i in range(50))
    )
    import_csv(db, p, symbol="BTC/USDT:USDT", timeframe="1h")
    d = DecisionRow.create(symbol="BTC/USDT:USDT", timeframe="1h", timestamp=T0, action="buy", reasoning="x")
    OrderRow.create(
        symbol="BTC/USDT:USDT",
        side="buy",
        type="market",
        amount=0.01,
        status="pending_approval",
        client_order_id="p1",
        decision=d.id,
    )
    # No exchange in this run: collect is answered from a fixed stand-in so the property run stays on
    # loopback and bounded (the real path is covered in test_api.py).
    from cockpit.api.services import Services

    class NoExchange(Services):
        def collect(self, timeframe, *, update_only=True):
            return {"timeframe": timeframe, "inserted": 0, "status": "skipped", "error": None}

    cfg = {**cfg, "api": {**cfg["api"], "rate_limit_per_minute": 100000}}
    # The ASGI client calls itself "testserver": that is the address this app is "bound" to.
    app = create_api(cfg, services=NoExchange(cfg, now_ms=lambda: T0), token=TOKEN, bind_host="testserver")
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_openapi_property_run(case):
    # With the token and JSON the run reaches every endpoint's own checks (without, all POSTs stop at 401/415).
    response = case.call(headers={"X-API-Key": TOKEN, "Content-Type": "application/json"})
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])
    # The checks the API promises: no server error, documented status codes and content types,
    # bodies of the documented shape. (Business rules, e.g. a disabled strategy, may still refuse
    # a schema-valid request with 400; that is not a schema break.)
    case.validate_response(
        response,
        checks=[
            checks.not_a_server_error,
            checks.status_code_conformance,
            checks.content_type_conformance,
            checks.response_schema_conformance,
            checks.unsupported_method,
        ],
    )


def test_the_api_order_statuses_are_the_domain_ones():
    from cockpit.api.schemas import ORDER_STATUSES
    from cockpit.domain.orders import OrderStatus

    assert ORDER_STATUSES == tuple(s.value for s in OrderStatus)
