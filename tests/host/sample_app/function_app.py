"""A tiny function app for testing the Functions host stand-in apart from the product app.

Each function's behaviour is driven by the event's ``data`` (``{"action": ...}``) so tests can make an
invocation succeed, fail, wait on a barrier shared with other invocations, or check a setting.
"""

import asyncio
import os
import threading

import azure.functions as func

app = func.FunctionApp()

# Read at import time: the host must load the settings file into the environment BEFORE indexing.
SETTING_AT_IMPORT = os.environ.get("SAMPLE_SETTING_AT_IMPORT")

_BARRIER_TIMEOUT_S = 5.0
_thread_barriers: dict[str, threading.Barrier] = {}
_async_barriers: dict[str, asyncio.Barrier] = {}
_barriers_lock = threading.Lock()


def _thread_barrier(name: str, parties: int) -> threading.Barrier:
    with _barriers_lock:
        return _thread_barriers.setdefault(name, threading.Barrier(parties, timeout=_BARRIER_TIMEOUT_S))


def _act(data: object) -> None:
    """Shared behaviour of the sync functions."""
    if not isinstance(data, dict):
        return
    match data.get("action"):
        case "raise":
            raise RuntimeError(str(data.get("message", "asked to fail")))
        case "barrier":
            _thread_barrier(str(data["barrier"]), int(data["parties"])).wait()
        case "expect_setting":
            name, expected = str(data["name"]), data.get("value")
            actual = SETTING_AT_IMPORT if data.get("at_import") else os.environ.get(name)
            if actual != expected:
                raise RuntimeError(f"setting {name} is {actual!r}, expected {expected!r}")
        case _:
            pass


@app.event_grid_trigger(arg_name="event")
def on_event(event: func.EventGridEvent) -> None:
    """Event Grid schema: reads Event Grid-only attributes, so a CloudEvent fails here as in Azure."""
    _ = event.event_type, event.topic
    _act(event.get_json())


@app.function_name(name="OnCloudEvent")
@app.event_grid_trigger(arg_name="cloud_event")
def on_cloud_event(cloud_event: func.CloudEvent) -> None:
    """CloudEvents schema: reads CloudEvents-only attributes."""
    _ = cloud_event.type, cloud_event.source
    _act(cloud_event.get_json())


@app.event_grid_trigger(arg_name="event")
async def on_event_async(event: func.EventGridEvent) -> None:
    """Async: runs on the host's event loop, as in the worker."""
    data = event.get_json()
    if isinstance(data, dict) and data.get("action") == "barrier":
        name = str(data["barrier"])
        barrier = _async_barriers.setdefault(name, asyncio.Barrier(int(data["parties"])))
        await asyncio.wait_for(barrier.wait(), _BARRIER_TIMEOUT_S)
        return
    _act(data)


@app.event_grid_trigger(arg_name="event")
def returns_value(event: func.EventGridEvent) -> str:
    """Returns a value without a $return binding: the worker rejects the invocation."""
    return event.id


@app.timer_trigger(schedule="0 0 * * * *", arg_name="timer", run_on_startup=False)
def hourly(timer: func.TimerRequest) -> None:
    """Not an Event Grid function: the webhook must not serve it."""
