"""The host stand-in serves HTTP functions at /api/<route> behind the function key and runs timer functions
on their schedule, each invoked through the worker library (tests/host/trigger_app)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from devstack.functions_host import FunctionsHost
from devstack.functions_worker import WorkerIndexError

from .support import HERE

TRIGGER_APP = HERE / "trigger_app"
KEY = "a-test-function-key"

type Scenario = Callable[[FunctionsHost, aiohttp.ClientSession], Awaitable[None]]


def run(body: Scenario, settings: dict[str, str] | None = None) -> None:
    async def main() -> None:
        host = FunctionsHost(TRIGGER_APP, {"DEVSTACK_FUNCTION_KEY": KEY, **(settings or {})})
        async with host, aiohttp.ClientSession() as session:
            await body(host, session)

    asyncio.run(main())


def test_an_http_function_gets_the_request_as_the_worker_binds_it_and_its_response_is_sent() -> None:
    async def body(host: FunctionsHost, session: aiohttp.ClientSession) -> None:
        async with session.post(
            host.http_url("items/42?colour=red"),
            data=b"hello",
            headers={"x-functions-key": KEY, "x-test": "t"},
        ) as response:
            assert response.status == 201
            assert response.headers["content-type"].startswith("application/json")
            assert json.loads(await response.text()) == {
                "method": "POST",
                "item_id": "42",
                "query": {"colour": "red"},
                "header": "t",
                "body": "hello",
            }

    run(body)


def test_the_key_may_come_as_the_code_query_parameter() -> None:
    async def body(host: FunctionsHost, session: aiohttp.ClientSession) -> None:
        async with session.get(host.http_url(f"items/1?code={KEY}")) as response:
            assert response.status == 201

    run(body)


@pytest.mark.parametrize("headers", [{}, {"x-functions-key": "nope"}], ids=["missing", "wrong"])
def test_a_function_level_route_without_the_key_is_401(headers: dict[str, str]) -> None:
    async def body(host: FunctionsHost, session: aiohttp.ClientSession) -> None:
        async with session.get(host.http_url("items/1"), headers=headers) as response:
            assert (response.status, await response.text()) == (401, "")
        assert [r.function_name for r in host.records if r.function_name == "echo"] == []

    run(body)


def test_an_anonymous_route_needs_no_key_and_a_string_return_is_a_200_text_body() -> None:
    async def body(host: FunctionsHost, session: aiohttp.ClientSession) -> None:
        async with session.get(host.http_url("ping")) as response:
            assert (response.status, await response.text()) == (200, "pong")

    run(body)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "nowhere"), ("DELETE", "items/1"), ("GET", "items/1/extra")],
    ids=["unknown-route", "method-not-allowed", "too-many-segments"],
)
def test_a_request_no_route_serves_is_404(method: str, path: str) -> None:
    async def body(host: FunctionsHost, session: aiohttp.ClientSession) -> None:
        async with session.request(method, host.http_url(path), headers={"x-functions-key": KEY}) as response:
            assert response.status == 404

    run(body)


def test_a_function_that_raises_is_a_500_with_an_empty_body_and_a_failed_record() -> None:
    async def body(host: FunctionsHost, session: aiohttp.ClientSession) -> None:
        async with session.get(host.http_url("boom")) as response:
            assert (response.status, await response.text()) == (500, "")
        (record,) = [r for r in host.records if r.function_name == "boom"]
        assert not record.ok
        assert record.error == "RuntimeError('asked to fail')"

    run(body)


def test_a_timer_function_runs_at_start_up_and_then_on_its_schedule_through_the_worker() -> None:
    async def body(host: FunctionsHost, session: aiohttp.ClientSession) -> None:
        for _ in range(100):  # every second: at start-up, then at least two scheduled runs within ~3 s
            ticks = [r for r in host.records if r.function_name == "tick"]
            if len(ticks) >= 3:
                break
            await asyncio.sleep(0.05)
        assert len(ticks) >= 3
        assert all(r.ok for r in ticks), [r.error for r in ticks]
        scheduled = ticks[1:]
        assert all(r.started_at.microsecond < 500_000 for r in scheduled)  # on the second, not drifting
        assert host.invocations_ok == 0  # the Event Grid counters count webhook invocations only

    run(body)


def test_a_schedule_that_does_not_parse_fails_indexing_naming_the_function(tmp_path: object) -> None:
    from pathlib import Path

    app_dir = Path(str(tmp_path))
    (app_dir / "function_app.py").write_text(
        "import azure.functions as func\n"
        "app = func.FunctionApp()\n"
        "@app.timer_trigger(schedule='0 0 25 * * *', arg_name='timer')\n"
        "def nightly(timer: func.TimerRequest) -> None:\n"
        "    pass\n"
    )

    async def main() -> None:
        with pytest.raises(WorkerIndexError, match=r"function 'nightly': hour field: 25 is outside 0-23"):
            await FunctionsHost(app_dir).start()

    asyncio.run(main())


def _app_with_schedule(app_dir: Path, schedule: str) -> None:
    (app_dir / "function_app.py").write_text(
        "import azure.functions as func\n"
        "app = func.FunctionApp()\n"
        f"@app.timer_trigger(schedule={schedule!r}, arg_name='timer', use_monitor=False)\n"
        "def sweep(timer: func.TimerRequest) -> None:\n"
        "    pass\n"
    )


def test_a_schedule_naming_an_app_setting_runs_on_that_settings_schedule(tmp_path: Path) -> None:
    _app_with_schedule(tmp_path, "%SWEEP_SCHEDULE%")

    async def main() -> None:
        async with FunctionsHost(tmp_path, {"SWEEP_SCHEDULE": "*/2 * * * * *"}) as host:
            assert host.timer_schedules == (("sweep", "*/2 * * * * *"),)

    asyncio.run(main())


def test_a_schedule_naming_a_setting_that_is_not_there_fails_indexing_naming_it(tmp_path: Path) -> None:
    _app_with_schedule(tmp_path, "%SWEEP_SCHEDULE%")

    async def main() -> None:
        with pytest.raises(WorkerIndexError, match=r"function 'sweep'.*SWEEP_SCHEDULE is not set"):
            await FunctionsHost(tmp_path).start()

    asyncio.run(main())
