"""One fresh-process measurement for the cold-start benchmark; prints one JSON line.

Run by ``bench/cold_start.py`` (never imported by it): the clock starts before the first import, so the
figures are the import and first-use costs in a process that has loaded nothing yet.

    python bench/probe_cold.py floor-import | app-import | floor-first | app-first | app-responder-key
                               | app-responder-entra | worker-otel-init

``app-first`` also reports how many OpenTelemetry modules the process loaded (``otel_modules``): 0 unless
``PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY`` is on.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()
_C0 = time.process_time()  # CPU time: far less sensitive than wall time to other load on the machine

import contextlib  # noqa: E402
import os  # noqa: E402  (after the clock starts on purpose; os is loaded at start-up anyway)
import sys  # noqa: E402

_TELEMETRY_MODULES = (
    "opentelemetry",
    "azure.monitor",
    "azure.core.tracing.ext",
    "offer_handlers.telemetry_otel",
)


def _otel_modules() -> int:
    return sum(1 for name in sys.modules if name.startswith(_TELEMETRY_MODULES))


def _emit(**fields: object) -> None:
    import json  # after the measurement: its import cost is not part of any figure

    print(json.dumps(fields), flush=True)


def _event(offer_id: str) -> dict[str, object]:
    return {
        "workerId": "cold-start-worker",
        "jobId": "cold-start-job",
        "offerId": offer_id,
        "queueId": "q",
        "channelId": "voice",
        "offeredOn": "2026-01-01T00:00:00Z",
        "expiresOn": "2099-01-01T00:00:00Z",
        "jobPriority": 1,
        "jobLabels": {},
        "workerLabels": {},
    }


def main(mode: str) -> None:
    """Time the probe ``mode`` in this fresh process and print one JSON line."""
    if mode == "floor-import":
        import azure.communication.jobrouter
        import azure.functions

        _emit(import_ms=(time.perf_counter() - _T0) * 1000)
    elif mode == "app-import":
        import function_app

        _emit(import_ms=(time.perf_counter() - _T0) * 1000, identity=int("azure.identity" in sys.modules))
    elif mode == "floor-first":
        import azure.functions
        from azure.communication.jobrouter import JobRouterClient
        from azure.core.credentials import AzureKeyCredential
        from azure.core.exceptions import ResourceNotFoundError

        t1 = time.perf_counter()
        endpoint, key = os.environ["BENCH_ENDPOINT"], os.environ["BENCH_KEY"]
        client = JobRouterClient(endpoint, AzureKeyCredential(key))
        with contextlib.suppress(ResourceNotFoundError):
            client.accept_job_offer("cold-start-worker", os.environ["BENCH_OFFER_ID"])
        t2 = time.perf_counter()
        _emit(import_ms=(t1 - _T0) * 1000, first_ms=(t2 - t1) * 1000, total_ms=(t2 - _T0) * 1000)
    elif mode == "app-first":
        import function_app

        t1 = time.perf_counter()
        from offer_handlers.events import Envelope

        envelope = Envelope(
            "eventgrid",
            "cold-start-event",
            "Microsoft.Communication.RouterWorkerOfferIssued",
            "worker/cold-start-worker/job/cold-start-job",
            _event(os.environ["BENCH_OFFER_ID"]),
        )
        result = function_app.handler.handle(envelope)
        t2 = time.perf_counter()
        _emit(
            import_ms=(t1 - _T0) * 1000,
            first_ms=(t2 - t1) * 1000,
            total_ms=(t2 - _T0) * 1000,
            cpu_total_ms=(time.process_time() - _C0) * 1000,
            outcome=str(result.outcome),
            identity=int("azure.identity" in sys.modules),
            otel_modules=_otel_modules(),
        )
    elif mode in ("app-responder-key", "app-responder-entra"):
        import function_app

        t1 = time.perf_counter()
        function_app.handler.responder()
        t2 = time.perf_counter()
        _emit(responder_ms=(t2 - t1) * 1000, identity=int("azure.identity" in sys.modules))
    elif mode == "worker-otel-init":
        # What the Python worker does at start-up when PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY is true,
        # before it imports the app: import the Azure Monitor distro and configure it.
        import azure.functions  # noqa: F401  (the worker has it loaded already: not part of the figure)

        t0, c0 = time.perf_counter(), time.process_time()
        from azure.monitor.opentelemetry import configure_azure_monitor

        t1, c1 = time.perf_counter(), time.process_time()
        configure_azure_monitor(connection_string=os.environ["BENCH_APPINSIGHTS"], logger_name="")
        t2, c2 = time.perf_counter(), time.process_time()
        _emit(
            import_ms=(t1 - t0) * 1000,
            configure_ms=(t2 - t1) * 1000,
            cpu_import_ms=(c1 - c0) * 1000,
            cpu_configure_ms=(c2 - c1) * 1000,
        )
        os._exit(0)  # the exporters' shutdown flush would try the (unreachable) ingestion endpoint
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1])
