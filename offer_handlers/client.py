"""Building the Job Router client, with budgets sized to an offer, behind ``OfferResponder``.

``build_sdk_client`` is the one factory; the bot fleet's registrar (worker_registrar.py) uses it too.

Two auth paths, chosen by the settings:

* ``JOBROUTER_CONNECTION_STRING``: key (HMAC) auth through the public ``JobRouterClient``, built from
  the parsed endpoint so that an ``http://`` endpoint (a local emulator) stays http; the SDK's own
  ``from_connection_string`` would rewrite it to https.
* ``JOBROUTER_ENDPOINT`` alone: Microsoft Entra ID through ``DefaultAzureCredential``. The 1.0.0
  public client refuses token credentials, so the SDK's generated client is built with a bearer-token
  policy for the scope the .NET, Java and JS clients use. ``azure.identity`` is imported only here.

Every call is bounded by the time the offer has left (retries included, ``Retry-After`` too), and the
network trace logging policy redacts the ``Authorization`` header, so no secret reaches a log.
"""

from __future__ import annotations

import base64
import binascii
import copy
import time
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Protocol, override
from urllib.parse import urlsplit

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import NetworkTraceLoggingPolicy, RetryPolicy
from azure.core.rest import HttpRequest, HttpResponse

from offer_handlers.errors import ConfigurationError
from offer_handlers.settings import CONNECTION_STRING, ENDPOINT, Settings

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.core.pipeline.transport import AsyncHttpResponse as LegacyAsyncHttpResponse
    from azure.core.pipeline.transport import HttpRequest as LegacyHttpRequest
    from azure.core.pipeline.transport import HttpResponse as LegacyHttpResponse
    from azure.core.pipeline.transport import HttpTransport
    from azure.core.rest import AsyncHttpResponse

__all__ = [
    "ENTRA_SCOPE",
    "DeadlineRetryPolicy",
    "RedactingNetworkTraceLoggingPolicy",
    "SdkOfferResponder",
    "build_responder",
    "build_sdk_client",
    "parse_connection_string",
]

# The scope the .NET, Java and JS Job Router clients request (the double slash is theirs, and needed).
ENTRA_SCOPE: Final = "https://communication.azure.com//.default"
# The health check reads this worker id, which no deployment registers: Job Router answers 404 when the
# credentials are good and 401/403 when they are not (a 200 would prove access just as well).
PROBE_WORKER_ID: Final = "offer-handler-health-probe-0000"
# Event Grid abandons a delivery after 30 s; no call (retries included) may outlast that.
MAX_CALL_SECONDS: Final = 25.0
_BACKOFF_FACTOR: Final = 0.2
_BACKOFF_MAX: Final = 1.0
_SECRET_HEADERS: Final = frozenset({"authorization"})


class _OfferClient(Protocol):
    """The two SDK methods the responder uses (both the public and the generated client have them)."""

    def accept_job_offer(self, worker_id: str, offer_id: str, **kwargs: Any) -> object: ...

    def decline_job_offer(
        self, worker_id: str, offer_id: str, options: Any = None, **kwargs: Any
    ) -> None: ...

    def get_worker(self, worker_id: str, **kwargs: Any) -> object: ...


class SdkOfferResponder:
    """``OfferResponder`` over a Job Router SDK client, with per-call budgets from the offer's time left."""

    def __init__(
        self,
        client: _OfferClient,
        *,
        request_timeout: float,
        call_options: Mapping[str, object] | None = None,
    ) -> None:
        self._client = client
        self._request_timeout = request_timeout
        self._call_options = dict(call_options or {})

    def _budget(self, time_left: float) -> dict[str, object]:
        total = min(time_left, MAX_CALL_SECONDS)
        per_attempt = min(self._request_timeout, total)
        return {
            **self._call_options,
            "timeout": total,  # the retry policy's absolute budget for the whole call
            "connection_timeout": per_attempt,
            "read_timeout": per_attempt,
        }

    def accept(self, worker_id: str, offer_id: str, *, timeout: float) -> None:
        """Accept the offer within ``timeout`` seconds."""
        self._client.accept_job_offer(worker_id, offer_id, **self._budget(timeout))

    def decline(self, worker_id: str, offer_id: str, *, retry_at: datetime | None, timeout: float) -> None:
        """Decline the offer within ``timeout`` seconds; options go positionally (keywords fail on 1.0.0)."""
        from azure.communication.jobrouter.models import DeclineJobOfferOptions

        options = DeclineJobOfferOptions(retry_offer_at=retry_at)
        self._client.decline_job_offer(worker_id, offer_id, options, **self._budget(timeout))

    def check_access(self, *, timeout: float) -> None:
        """Read a worker that does not exist: a 404 (``ResourceNotFoundError``) proves the credentials."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self._client.get_worker(PROBE_WORKER_ID, **self._budget(timeout))
        except ResourceNotFoundError:
            return


class DeadlineRetryPolicy(RetryPolicy[HttpRequest, HttpResponse]):
    """A ``RetryPolicy`` that never sleeps or retries past the call's ``timeout``.

    azure-core honours ``Retry-After`` even beyond the absolute timeout; an offer would expire meanwhile.
    """

    @override
    def configure_retries(self, options: dict[str, Any]) -> dict[str, Any]:
        settings = super().configure_retries(options)
        settings["deadline"] = time.monotonic() + float(settings["timeout"])
        return settings

    @override
    def is_retry[
        Req: (HttpRequest, LegacyHttpRequest),
        Resp: (HttpResponse, LegacyHttpResponse, AsyncHttpResponse, LegacyAsyncHttpResponse),
    ](self, settings: dict[str, Any], response: PipelineResponse[Req, Resp]) -> bool:
        if not super().is_retry(settings, response):
            return False
        # The wait before the next attempt: Retry-After, or the backoff once this attempt is counted.
        wait = self.get_retry_after(response)
        if wait is None:
            wait = self.get_backoff_time({**settings, "history": [*settings["history"], None]})
        deadline: float = settings["deadline"]
        return time.monotonic() + wait < deadline

    def _sleep_backoff(
        self, settings: dict[str, Any], transport: HttpTransport[HttpRequest, HttpResponse]
    ) -> None:
        backoff = min(self.get_backoff_time(settings), settings["deadline"] - time.monotonic())
        if backoff > 0:
            transport.sleep(backoff)


class RedactingNetworkTraceLoggingPolicy(NetworkTraceLoggingPolicy):
    """azure-core's network trace (``logging_enable=True``), with the secret-bearing headers redacted."""

    @override
    def on_request(self, request: PipelineRequest[Any]) -> None:
        original = request.http_request
        shown = copy.copy(original)
        shown.headers = {
            name: ("REDACTED" if name.lower() in _SECRET_HEADERS else value)
            for name, value in original.headers.items()
        }
        proxy: PipelineRequest[Any] = PipelineRequest(shown, request.context)
        super().on_request(proxy)


def parse_connection_string(value: str) -> tuple[str, str]:
    """Split ``endpoint=...;accesskey=...`` into (endpoint with its scheme kept, access key)."""
    parts: dict[str, str] = {}
    for element in value.split(";"):
        key, _, item = element.partition("=")  # the key's base64 padding keeps its '='
        if key.strip():
            parts[key.strip().lower()] = item.strip()
    endpoint, access_key = parts.get("endpoint"), parts.get("accesskey")
    if not endpoint or not access_key:
        raise ConfigurationError(
            f"{CONNECTION_STRING} must look like endpoint=https://<resource>.communication.azure.com/;"
            "accesskey=<key>",
            setting=CONNECTION_STRING,
        )
    try:
        base64.b64decode(access_key, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(
            f"the accesskey in {CONNECTION_STRING} is not valid base64", setting=CONNECTION_STRING
        ) from None
    return _endpoint(endpoint, CONNECTION_STRING), access_key


def _endpoint(raw: str, setting: str) -> str:
    candidate = raw if "://" in raw else f"https://{raw}"
    try:
        parts = urlsplit(candidate)
        scheme = parts.scheme.lower()
        netloc = parts.netloc.lower()  # the SDK signs this host; HTTP stacks lower-case it on the wire
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        scheme, netloc = "", ""
    if scheme not in ("http", "https") or not netloc:
        raise ConfigurationError(f"the endpoint in {setting} must be an http(s) URL", setting=setting)
    # No trailing slash: the SDK signs the endpoint string as the host, slash and all.
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def build_responder(
    settings: Settings,
    *,
    transport: HttpTransport[HttpRequest, HttpResponse] | None = None,
    credential: TokenCredential | None = None,
    logging_enable: bool = False,
) -> SdkOfferResponder:
    """Build the client the settings call for; ``transport``/``credential`` are for tests."""
    client, call_options = build_sdk_client(
        settings, transport=transport, credential=credential, logging_enable=logging_enable
    )
    return SdkOfferResponder(client, request_timeout=settings.request_timeout, call_options=call_options)


def build_sdk_client(
    settings: Settings,
    *,
    transport: HttpTransport[HttpRequest, HttpResponse] | None = None,
    credential: TokenCredential | None = None,
    logging_enable: bool = False,
) -> tuple[Any, dict[str, object]]:
    """The Job Router client the settings call for, and the options every call must pass.

    Key auth gives the public ``JobRouterClient``; Entra ID the generated client with a bearer policy
    (whose calls over plain http need ``enforce_https=False``). Both have the same operations.
    """
    options: dict[str, Any] = {
        "retry_policy": DeadlineRetryPolicy(
            retry_total=settings.max_retries,
            # azure-core caps each kind of retry at 3 unless told: JOBROUTER_MAX_RETRIES bounds them all.
            retry_connect=settings.max_retries,
            retry_read=settings.max_retries,
            retry_status=settings.max_retries,
            retry_backoff_factor=_BACKOFF_FACTOR,
            retry_backoff_max=_BACKOFF_MAX,
            timeout=MAX_CALL_SECONDS,
        ),
        "logging_policy": RedactingNetworkTraceLoggingPolicy(logging_enable=logging_enable),
        "connection_timeout": settings.request_timeout,
        "read_timeout": settings.request_timeout,
    }
    if transport is not None:
        options["transport"] = transport

    if settings.connection_string is not None:
        from azure.communication.jobrouter import JobRouterClient
        from azure.core.credentials import AzureKeyCredential

        endpoint, access_key = parse_connection_string(settings.connection_string)
        return JobRouterClient(endpoint, AzureKeyCredential(access_key), **options), {}

    if settings.endpoint is not None:
        from azure.communication.jobrouter._client import JobRouterClient as GeneratedJobRouterClient
        from azure.core.pipeline.policies import BearerTokenCredentialPolicy

        endpoint = _endpoint(settings.endpoint, ENDPOINT)
        if credential is None:
            from azure.identity import DefaultAzureCredential

            # AZURE_CLIENT_ID picks a user-assigned managed identity; without it, the system-assigned one.
            identity = {"managed_identity_client_id": settings.client_id} if settings.client_id else {}
            credential = DefaultAzureCredential(**identity)
        options["authentication_policy"] = BearerTokenCredentialPolicy(credential, ENTRA_SCOPE)
        generated = GeneratedJobRouterClient(endpoint, **options)
        # azure-core refuses bearer tokens over plain http unless told per call (the local emulator's mode).
        call_options: dict[str, object] = {"enforce_https": False} if endpoint.startswith("http://") else {}
        return generated, call_options

    raise ConfigurationError(
        f"set {CONNECTION_STRING} (key auth) or {ENDPOINT} (Microsoft Entra ID); neither is set",
        setting=f"{CONNECTION_STRING}, {ENDPOINT}",
    )
