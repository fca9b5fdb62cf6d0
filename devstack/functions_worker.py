"""Index and invoke a Python v2 function app the way the Functions worker does, without the host.

The host runs Python 3.13+ apps through the worker library ``azure-functions-runtime`` (pinned in
requirements.txt). This module drives that library directly (docs/functions-host.md): a stand-in for the
``protos`` module the host would inject, ``handle_event.index_functions`` to index, and
``native_invocation.invocation_request_native`` to bind, convert and call. Event Grid, HTTP and timer
triggers are supported, each given the input the host would send (a ``json`` event, an ``http`` request,
the timer's ``json`` status). Binding rules that only the worker enforces (``arg_name`` matches the
parameter, allowed annotations, no return value without ``$return``) therefore fail here too.

Limits (the library keeps process-wide state; see ``WorkerApp.load``):

- Loading is serialised by a lock; invoking functions of several loaded apps concurrently is fine.
- The script is imported as a fresh module each load (``function_app`` by default). Modules it imports
  in turn (siblings of the script, packages) are ordinary ``sys.modules`` entries shared by the whole
  process, so two app directories whose helper modules share a name see whichever loaded first.
- The app directory stays on ``sys.path`` (appended, so it never shadows earlier entries) because the
  real worker keeps it there and functions may import lazily.
- Sync functions run on the library's global thread pool (``PYTHON_THREADPOOL_THREAD_COUNT`` is read
  when the pool first starts); async functions run on the caller's event loop, as in the worker.
- Only the trigger argument is supplied: functions with extra input bindings are not supported.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import pathlib
import sys
import threading
import time
import types
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

__all__ = [
    "EVENT_GRID_TRIGGER",
    "HTTP_TRIGGER",
    "TIMER_TRIGGER",
    "FunctionInfo",
    "HttpRequestData",
    "HttpResponseData",
    "InvocationResult",
    "UnknownFunctionError",
    "WorkerApp",
    "WorkerError",
    "WorkerIndexError",
]

_log = logging.getLogger(__name__)

EVENT_GRID_TRIGGER: Final = "eventGridTrigger"
HTTP_TRIGGER: Final = "httpTrigger"
TIMER_TRIGGER: Final = "timerTrigger"
DEFAULT_SCRIPT: Final = "function_app.py"


class WorkerError(Exception):
    """Base error of this module."""


class WorkerIndexError(WorkerError):
    """Indexing the app failed; the message carries the worker's own error (e.g. ``FunctionLoadError``)."""

    def __init__(self, app_dir: Path, script: str, worker_message: str) -> None:
        super().__init__(f"indexing {script} in {app_dir} failed: {worker_message}")
        self.app_dir = app_dir
        self.script = script
        self.worker_message = worker_message


class UnknownFunctionError(WorkerError, LookupError):
    """``invoke`` was asked for a function the app does not define."""

    def __init__(self, function_name: str, known: tuple[str, ...]) -> None:
        super().__init__(f"no function named {function_name!r} (known: {', '.join(known) or 'none'})")
        self.function_name = function_name


@dataclass(frozen=True, slots=True)
class FunctionInfo:
    """One indexed function, as the worker reports it to the host."""

    name: str
    function_id: str
    """The id the worker reports to the host (a uuid5 of the name)."""
    trigger_type: str | None
    """The trigger binding's type, e.g. ``"eventGridTrigger"`` (None if the function has no trigger)."""
    trigger_arg_name: str | None
    is_async: bool
    raw_bindings: tuple[Mapping[str, object], ...]
    function_json: Mapping[str, object]
    retry_options: Mapping[str, object] | None

    @property
    def trigger(self) -> Mapping[str, object]:
        """The trigger binding as the worker reports it (``route``, ``authLevel``, ``schedule``, ...)."""
        return next((b for b in self.raw_bindings if str(b.get("type", "")).lower().endswith("trigger")), {})


@dataclass(frozen=True, slots=True)
class HttpRequestData:
    """An HTTP request as the host hands it to the worker (header names lower-case)."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes = b""
    query: Mapping[str, str] = types.MappingProxyType({})
    route_params: Mapping[str, str] = types.MappingProxyType({})


@dataclass(frozen=True, slots=True)
class HttpResponseData:
    """What an HTTP function returned, as the host would send it."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class InvocationResult:
    """The outcome of one invocation, as the worker returns it to the host."""

    ok: bool
    error: str | None
    """The worker's exception text (``repr`` of the exception) when ``ok`` is false."""
    duration_ms: float
    traceback: str | None = None
    response: HttpResponseData | None = None
    """An HTTP function's response (None for other triggers, and when the invocation failed)."""


# --- The library boundary --------------------------------------------------------------------------
# azure-functions-runtime is only partly annotated; everything it hands back is Any. Keep that here.


class _Message:
    """Stand-in for a generated protobuf message: keyword arguments become attributes."""

    def __init__(self, **fields: object) -> None:
        self.__dict__.update(fields)


class _BindingInfo(_Message):
    # Direction and data-type enum values of the real proto; "in" is a keyword, so it is set below.
    out: Final = 1
    inout: Final = 2
    undefined: Final = 0


setattr(_BindingInfo, "in", 0)  # "in" is a keyword, so it cannot be a class attribute above

_PROTOS: Final = types.SimpleNamespace(
    BindingInfo=_BindingInfo,
    RpcFunctionMetadata=type("RpcFunctionMetadata", (_Message,), {}),
    RpcRetryOptions=type("RpcRetryOptions", (_Message,), {}),
)

_LOAD_LOCK: Final = threading.Lock()


def _runtime() -> tuple[Any, Any, Any, Any, Any]:
    """The library modules this file uses, typed as Any (imported lazily: they are heavy)."""
    handle_event: Any = importlib.import_module("azure_functions_runtime.handle_event")
    meta: Any = importlib.import_module("azure_functions_runtime.bindings.meta")
    datumdef: Any = importlib.import_module("azure_functions_runtime.bindings.datumdef")
    native: Any = importlib.import_module("azure_functions_runtime.native_invocation")
    threadpool: Any = importlib.import_module("azure_functions_runtime.utils.threadpool")
    return handle_event, meta, datumdef, native, threadpool


def _registry_dict() -> dict[str, Any]:
    """The worker's function registry (function id -> its FunctionInfo), a process-wide dict."""
    handle_event, *_ = _runtime()
    registry: dict[str, Any] = handle_event._functions._functions
    return registry


def _ensure_threadpool() -> None:
    *_, threadpool = _runtime()
    if threadpool.get_threadpool_executor() is None:
        threadpool.start_threadpool_executor()


def _json_object(text: object) -> dict[str, object]:
    value = json.loads(str(text))
    return value if isinstance(value, dict) else {"value": value}


def _retry_options(metadata: Any) -> dict[str, object] | None:
    options = getattr(metadata, "retry_options", None)
    if options is None:
        return None
    return {key: value for key, value in vars(options).items() if not key.startswith("_")}


def _function_info(metadata: Any, library_info: Any) -> FunctionInfo:
    raw = tuple(_json_object(b) for b in metadata.raw_bindings)
    # The host treats a binding as the trigger when its type ends with "Trigger".
    trigger = next((b for b in raw if str(b.get("type", "")).lower().endswith("trigger")), None)
    return FunctionInfo(
        name=str(metadata.name),
        function_id=str(metadata.function_id),
        trigger_type=None if trigger is None else str(trigger.get("type")),
        trigger_arg_name=None if trigger is None else str(trigger.get("name")),
        is_async=bool(library_info.is_async),
        raw_bindings=raw,
        function_json={"scriptFile": str(metadata.script_file), "bindings": list(raw)},
        retry_options=_retry_options(metadata),
    )


def _http_response(returned: Any) -> HttpResponseData:
    """The ``$return`` Datum of an HTTP function as a response (a plain string is a 200 text body)."""
    if returned is None or returned.type is None:
        return HttpResponseData(204, {}, b"")
    if returned.type == "http":
        value = returned.value
        body = value["body"].value
        return HttpResponseData(
            status=int(value["status_code"].value),
            headers={name: str(item.value) for name, item in value["headers"].items()},
            body=body if isinstance(body, bytes) else str(body).encode(),
        )
    text = returned.value if isinstance(returned.value, str) else json.dumps(returned.value)
    return HttpResponseData(200, {"content-type": "text/plain; charset=utf-8"}, text.encode())


def _exception_text(exc: BaseException) -> str:
    """The worker's own wording: ``TypeName: message`` (as in its ``serialize_exception``)."""
    return f"{type(exc).__name__}: {exc}"


# --- The public API ----------------------------------------------------------------------------------


class WorkerApp:
    """A function app indexed by the worker library; invoke its Event Grid functions by name."""

    def __init__(
        self,
        app_dir: Path,
        script: str,
        functions: Mapping[str, FunctionInfo],
        registry_keys: Mapping[str, str],
    ) -> None:
        self.app_dir = app_dir
        self.script = script
        self._functions = dict(functions)
        self._registry_keys = dict(registry_keys)

    @property
    def functions(self) -> Mapping[str, FunctionInfo]:
        """Indexed functions by name (the ``@app.function_name`` value, else the ``def`` name)."""
        return types.MappingProxyType(self._functions)

    @classmethod
    def load(cls, app_dir: Path, script: str = DEFAULT_SCRIPT) -> WorkerApp:
        """Import ``app_dir/script`` and index it as the worker does; raise ``WorkerIndexError`` on failure.

        Settings the app reads at import time must already be in ``os.environ``.
        """
        app_dir = Path(app_dir).resolve()
        script_path = app_dir / script
        if not script_path.is_file():
            raise WorkerIndexError(app_dir, script, f"script file not found: {script_path}")
        handle_event, meta, *_ = _runtime()
        module_name = pathlib.Path(script).stem
        with _LOAD_LOCK:
            handle_event.protos = _PROTOS
            meta.load_binding_registry()
            registry = _registry_dict()
            keys_before = set(registry)
            previous_module = sys.modules.pop(module_name, None)
            sys.path.insert(0, str(app_dir))
            importlib.invalidate_caches()
            try:
                try:
                    validate: Any = importlib.import_module("azure_functions_runtime.utils.validators")
                    validate.validate_script_file_name(script)
                    metadata_list: Any = handle_event.index_functions(str(script_path), str(app_dir))
                except Exception as exc:
                    # Leave no half-indexed functions in the shared registry.
                    for key in set(registry) - keys_before:
                        registry.pop(key, None)
                    raise WorkerIndexError(app_dir, script, _exception_text(exc)) from exc
                functions: dict[str, FunctionInfo] = {}
                registry_keys: dict[str, str] = {}
                token = uuid.uuid4().hex
                for metadata in metadata_list or ():
                    library_info = registry.pop(metadata.function_id)
                    info = _function_info(metadata, library_info)
                    # Re-key under an app-scoped id: the worker's id is a uuid5 of the name alone, so two
                    # loaded apps with a function of the same name would otherwise overwrite each other.
                    key = f"{info.function_id}@{token}"
                    registry[key] = library_info
                    functions[info.name] = info
                    registry_keys[info.name] = key
            finally:
                with contextlib.suppress(ValueError):
                    sys.path.remove(str(app_dir))
                if str(app_dir) not in sys.path:
                    sys.path.append(str(app_dir))
                # Give the name back to whoever had it, so `import function_app` elsewhere is unaffected.
                if previous_module is not None:
                    sys.modules[module_name] = previous_module
                else:
                    sys.modules.pop(module_name, None)
            _ensure_threadpool()
        _log.debug("indexed %s: %s", script_path, ", ".join(functions) or "no functions")
        return cls(app_dir, script, functions, registry_keys)

    async def invoke(self, function_name: str, event: object | str) -> InvocationResult:
        """Invoke one function with one event (a decoded JSON value, or its JSON text).

        The event goes through the worker's binding path as a ``json`` Datum: it is converted to
        ``func.EventGridEvent`` or ``func.CloudEvent`` (by the presence of ``specversion``), the function
        is called (sync ones on the worker thread pool), and the ``$return`` rule is checked.
        """
        text = event if isinstance(event, str) else json.dumps(event)
        return await self._invoke(function_name, lambda datum: datum(text, "json"))

    async def invoke_http(self, function_name: str, request: HttpRequestData) -> InvocationResult:
        """Invoke an HTTP function with one request; ``result.response`` is what it returned."""

        def build(datum: Any) -> Any:
            return datum(
                {
                    "method": datum(request.method, "string"),
                    "url": datum(request.url, "string"),
                    "headers": {name: datum(value, "string") for name, value in request.headers.items()},
                    "body": datum(request.body, "bytes"),
                    "params": {name: datum(value, "string") for name, value in request.route_params.items()},
                    "query": {name: datum(value, "string") for name, value in request.query.items()},
                },
                "http",
            )

        return await self._invoke(function_name, build)

    async def invoke_timer(
        self, function_name: str, *, past_due: bool, last: datetime | None, next_run: datetime
    ) -> InvocationResult:
        """Invoke a timer function with the status the host sends (``func.TimerRequest``)."""
        status = {
            "Schedule": {"AdjustForDST": True},
            "ScheduleStatus": {
                "Last": (last or datetime.min).isoformat(),
                "Next": next_run.isoformat(),
                "LastUpdated": (last or next_run).isoformat(),
            },
            "IsPastDue": past_due,
        }
        text = json.dumps(status)
        return await self._invoke(function_name, lambda datum: datum(text, "json"))

    async def _invoke(self, function_name: str, build: Any) -> InvocationResult:
        info = self._functions.get(function_name)
        if info is None:
            raise UnknownFunctionError(function_name, tuple(self._functions))
        if info.trigger_arg_name is None:
            raise WorkerError(f"function {function_name!r} has no trigger binding to bind an input to")
        _, _, datumdef, native, _ = _runtime()
        _ensure_threadpool()
        started = time.perf_counter()
        returned: Any = None
        try:
            outcome: Any = await native.invocation_request_native(
                str(uuid.uuid4()),
                self._registry_keys[function_name],
                [(info.trigger_arg_name, build(datumdef.Datum))],
                {},
            )
            ok, returned, _outputs, error, error_traceback = outcome
        except Exception as exc:  # the library catches the function's errors; this is its own failure
            ok, error, error_traceback = False, _exception_text(exc), None
        duration_ms = (time.perf_counter() - started) * 1000.0
        response = _http_response(returned) if ok and info.trigger_type == HTTP_TRIGGER else None
        return InvocationResult(
            ok=bool(ok),
            error=None if ok else str(error),
            duration_ms=duration_ms,
            traceback=None if ok or not error_traceback else str(error_traceback),
            response=response,
        )

    def close(self) -> None:
        """Drop this app's functions from the worker's registry (the shared thread pool stays up)."""
        registry = _registry_dict()
        for key in self._registry_keys.values():
            registry.pop(key, None)
        self._registry_keys.clear()
        self._functions.clear()
