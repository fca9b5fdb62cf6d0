"""Read a Job Router configuration from any endpoint, and apply one, through the Job Router SDK.

``read_configuration`` lists distribution, classification and exception policies, queues and (when asked)
workers with the SDK's administration and router clients and returns them as wire JSON, ready for
:func:`~devstack.jobrouter.config_document.build_document`. ``apply_configuration`` upserts resources in
an order every reference is satisfied in: distribution policies, queues (without their exception policy),
classification policies, exception policies, then the queues' exception policies, then workers. Upserts
are merge-patches, as the SDK sends them: fields and labels the document does not name are left as they
are on the target. ``connect`` builds the clients: key auth from a connection string (its ``http://``
kept, which the SDK's own parser would turn into ``https://``), or Microsoft Entra ID for an endpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Self
from urllib.parse import urlsplit

from offer_handlers.client import ENTRA_SCOPE, parse_connection_string

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

__all__ = ["RouterClients", "apply_configuration", "connect", "read_configuration"]

_ADMIN_KINDS: Final = (
    ("distributionPolicies", "list_distribution_policies", "upsert_distribution_policy"),
    ("queues", "list_queues", "upsert_queue"),
    ("classificationPolicies", "list_classification_policies", "upsert_classification_policy"),
    ("exceptionPolicies", "list_exception_policies", "upsert_exception_policy"),
)


@dataclass(frozen=True, slots=True)
class RouterClients:
    """The SDK's administration and router clients, and the options every call needs."""

    admin: Any
    router: Any
    endpoint: str
    call_options: Mapping[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        """Close both clients' pipelines."""
        self.admin.close()
        self.router.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def connect(
    *,
    connection_string: str | None = None,
    endpoint: str | None = None,
    credential: TokenCredential | None = None,
    retry_total: int = 3,
) -> RouterClients:
    """Clients for a connection string (key auth) or an endpoint (Entra ID; ``credential`` or the default).

    Raises ``offer_handlers.errors.ConfigurationError`` for a malformed connection string, ``ValueError``
    for a malformed endpoint.
    """
    options: dict[str, Any] = {"retry_total": retry_total}
    if connection_string is not None:
        from azure.communication.jobrouter import JobRouterAdministrationClient, JobRouterClient
        from azure.core.credentials import AzureKeyCredential

        url, key = parse_connection_string(connection_string)
        return RouterClients(
            JobRouterAdministrationClient(url, AzureKeyCredential(key), **options),
            JobRouterClient(url, AzureKeyCredential(key), **options),
            url,
        )
    assert endpoint is not None, "give a connection string or an endpoint"
    from azure.communication.jobrouter._client import (
        JobRouterAdministrationClient as GeneratedAdministrationClient,
    )
    from azure.communication.jobrouter._client import JobRouterClient as GeneratedRouterClient
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy

    url = _endpoint_url(endpoint)
    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    # The 1.0.0 public clients refuse token credentials; the generated ones take a bearer policy.
    auth = {"authentication_policy": BearerTokenCredentialPolicy(credential, ENTRA_SCOPE)}
    return RouterClients(
        GeneratedAdministrationClient(url, **options, **auth),
        GeneratedRouterClient(url, **options, **auth),
        url,
        # azure-core refuses bearer tokens over plain http unless told per call (a local emulator).
        {"enforce_https": False} if url.startswith("http://") else {},
    )


def _endpoint_url(endpoint: str) -> str:
    parts = urlsplit(endpoint.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"the endpoint must be an http(s) URL, got {endpoint!r}")
    # No trailing slash: the SDK signs the endpoint as the host, slash and all.
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _wire(model: Any) -> dict[str, Any]:
    return dict(model.as_dict()) if hasattr(model, "as_dict") else dict(model)


def read_configuration(clients: RouterClients, *, workers: bool) -> dict[str, list[dict[str, Any]]]:
    """Every policy and queue (and worker, if asked) of the endpoint, as wire JSON."""
    options = clients.call_options
    found: dict[str, list[dict[str, Any]]] = {}
    for kind, list_method, _ in _ADMIN_KINDS:
        found[kind] = [_wire(item) for item in getattr(clients.admin, list_method)(**options)]
    if workers:
        found["workers"] = [_wire(item) for item in clients.router.list_workers(**options)]
    return found


def apply_configuration(
    clients: RouterClients,
    resources: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    progress: Callable[[str, str], None] | None = None,
) -> int:
    """Upsert every resource so that each one's references exist first; returns how many upserts."""
    options = clients.call_options
    upserts = 0

    def upsert(method: Callable[..., Any], kind: str, body: Mapping[str, Any]) -> None:
        nonlocal upserts
        resource_id = str(body["id"])
        method(resource_id, {k: v for k, v in body.items() if k not in ("id", "etag")}, **options)
        upserts += 1
        if progress is not None:
            progress(kind, resource_id)

    admin = clients.admin
    for body in resources.get("distributionPolicies", []):
        upsert(admin.upsert_distribution_policy, "distributionPolicies", body)
    for body in resources.get("queues", []):
        upsert(admin.upsert_queue, "queues", {k: v for k, v in body.items() if k != "exceptionPolicyId"})
    for body in resources.get("classificationPolicies", []):
        upsert(admin.upsert_classification_policy, "classificationPolicies", body)
    for body in resources.get("exceptionPolicies", []):
        upsert(admin.upsert_exception_policy, "exceptionPolicies", body)
    for body in resources.get("queues", []):
        if body.get("exceptionPolicyId") is not None:
            upsert(
                admin.upsert_queue,
                "queues",
                {"id": body["id"], "exceptionPolicyId": body["exceptionPolicyId"]},
            )
    for body in resources.get("workers", []):
        upsert(clients.router.upsert_worker, "workers", body)
    return upserts
