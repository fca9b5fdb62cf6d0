"""devstack.functions_worker: indexing and invoking through azure-functions-runtime, as the worker does."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from devstack.functions_worker import (
    InvocationResult,
    UnknownFunctionError,
    WorkerApp,
    WorkerIndexError,
)

from .support import BROKEN_APP, SAMPLE_APP, barrier_data, cloud_event, eg_event


@pytest.fixture(scope="module")
def app() -> WorkerApp:
    return WorkerApp.load(SAMPLE_APP)


def invoke(app: WorkerApp, name: str, event: object) -> InvocationResult:
    return asyncio.run(app.invoke(name, event))


def test_indexing_reports_each_function_with_its_trigger_and_argument(app: WorkerApp) -> None:
    summary = {name: (f.trigger_type, f.trigger_arg_name, f.is_async) for name, f in app.functions.items()}

    assert summary == {
        "on_event": ("eventGridTrigger", "event", False),
        "OnCloudEvent": ("eventGridTrigger", "cloud_event", False),
        "on_event_async": ("eventGridTrigger", "event", True),
        "returns_value": ("eventGridTrigger", "event", False),
        "hourly": ("timerTrigger", "timer", False),
    }


def test_indexing_exposes_the_function_json_the_worker_sends_the_host(app: WorkerApp) -> None:
    info = app.functions["OnCloudEvent"]

    assert info.function_json == {
        "scriptFile": "function_app.py",
        "bindings": [{"direction": "IN", "type": "eventGridTrigger", "name": "cloud_event"}],
    }
    assert len(info.function_id) == 36


def test_a_function_that_returns_normally_is_ok(app: WorkerApp) -> None:
    result = invoke(app, "on_event", eg_event({"action": "ok"}))

    assert result.ok
    assert result.error is None
    assert result.duration_ms >= 0


def test_a_function_that_raises_fails_with_the_workers_exception_text(app: WorkerApp) -> None:
    result = invoke(app, "on_event", eg_event({"action": "raise", "message": "asked to fail"}))

    assert not result.ok
    assert result.error == "RuntimeError('asked to fail')"
    assert result.traceback is not None
    assert "asked to fail" in result.traceback


def test_an_event_given_as_json_text_is_bound_like_a_decoded_one(app: WorkerApp) -> None:
    result = invoke(app, "on_event", json.dumps(eg_event({"action": "raise", "message": "from text"})))

    assert result.error == "RuntimeError('from text')"


def test_a_cloud_event_is_converted_to_func_cloud_event(app: WorkerApp) -> None:
    result = invoke(app, "OnCloudEvent", cloud_event({"action": "ok"}))

    assert result.ok, result.error


def test_a_cloud_event_sent_to_a_function_reading_event_grid_fields_fails_as_in_azure(
    app: WorkerApp,
) -> None:
    result = invoke(app, "on_event", cloud_event({"action": "ok"}))

    assert not result.ok
    assert result.error is not None
    assert "'CloudEvent' object has no attribute 'event_type'" in result.error


def test_an_async_function_runs_and_its_failure_is_reported(app: WorkerApp) -> None:
    assert invoke(app, "on_event_async", eg_event({"action": "ok"})).ok
    failed = invoke(app, "on_event_async", eg_event({"action": "raise", "message": "async boom"}))

    assert failed.error == "RuntimeError('async boom')"


def test_returning_a_value_without_a_return_binding_fails_like_the_worker(app: WorkerApp) -> None:
    result = invoke(app, "returns_value", eg_event({}))

    assert not result.ok
    assert result.error is not None
    assert "without a $return binding returned a non-None value" in result.error


def test_sync_invocations_run_concurrently_on_the_worker_threadpool(app: WorkerApp) -> None:
    async def both() -> list[InvocationResult]:
        data = barrier_data("worker-sync")
        first, second = app.invoke("on_event", eg_event(data)), app.invoke("on_event", eg_event(data))
        return list(await asyncio.gather(first, second))

    results = asyncio.run(both())

    assert [r.ok for r in results] == [True, True], [r.error for r in results]


def test_invoking_an_unknown_function_names_the_known_ones(app: WorkerApp) -> None:
    with pytest.raises(UnknownFunctionError, match=r"no function named 'nope' \(known: on_event, "):
        invoke(app, "nope", eg_event({}))


def test_an_app_whose_arg_name_does_not_match_fails_to_index_with_the_workers_message() -> None:
    with pytest.raises(WorkerIndexError) as caught:
        WorkerApp.load(BROKEN_APP)

    message = str(caught.value)
    assert "FunctionLoadError: cannot load the mismatched function" in message
    assert "declared in Python but not in the function definition" in message
    assert str(BROKEN_APP.resolve()) in message


def test_a_missing_script_fails_to_index_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(WorkerIndexError, match=r"script file not found: .*function_app\.py"):
        WorkerApp.load(tmp_path)


def test_a_script_that_fails_to_import_fails_to_index_with_the_import_error(tmp_path: Path) -> None:
    (tmp_path / "function_app.py").write_text("import not_a_module_anywhere\n")

    with pytest.raises(WorkerIndexError, match="No module named 'not_a_module_anywhere'"):
        WorkerApp.load(tmp_path)


def test_two_apps_with_the_same_function_names_stay_separate(tmp_path: Path) -> None:
    (tmp_path / "function_app.py").write_text(
        "import azure.functions as func\n"
        "app = func.FunctionApp()\n"
        "@app.event_grid_trigger(arg_name='event')\n"
        "def on_event(event: func.EventGridEvent) -> None:\n"
        "    raise RuntimeError('the other app')\n"
    )
    first = WorkerApp.load(SAMPLE_APP)
    other = WorkerApp.load(tmp_path)

    assert invoke(first, "on_event", eg_event({"action": "ok"})).ok
    assert invoke(other, "on_event", eg_event({})).error == "RuntimeError('the other app')"
    other.close()
    assert invoke(first, "on_event", eg_event({"action": "ok"})).ok
    first.close()


def test_loading_leaves_the_function_app_module_name_to_its_previous_owner() -> None:
    sentinel = type(sys)("function_app")
    sys.modules["function_app"] = sentinel
    try:
        WorkerApp.load(SAMPLE_APP).close()

        assert sys.modules["function_app"] is sentinel
    finally:
        del sys.modules["function_app"]
