"""Request authentication as the 1.0.0 SDK signs (docs/emulator-support-matrix.md), plus an optional bearer.

String to sign: ``VERB\\n<path and query as received>\\n<x-ms-date>;<host>;<x-ms-content-sha256>``,
HMAC-SHA256 with the base64-decoded access key. ``host`` is the request's ``Host`` header; because an SDK
built with an endpoint ending in ``/`` signs ``host/``, that variant is accepted too. The body hash must
match the bytes received and ``x-ms-date`` must be within the allowed skew. Failures raise
:class:`Unauthorized` with a reason that never contains key material or the received signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from devstack.jobrouter.errors import Unauthorized
from devstack.jobrouter.wire import parse_http_date

__all__ = ["check_request", "content_hash", "decode_key", "sign"]

_HMAC_HEADER = re.compile(
    r"^HMAC-SHA256\s+SignedHeaders=(?P<headers>[^&]+)&Signature=(?P<signature>\S+)$", re.IGNORECASE
)


def decode_key(access_key: str) -> bytes:
    """The HMAC key; ValueError (without echoing the key) if it is not valid base64."""
    try:
        return base64.b64decode(access_key, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the access key must be valid base64 (the SDK base64-decodes it)") from None


def content_hash(body: bytes) -> str:
    """base64(SHA-256(body))."""
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def sign(key: bytes, string_to_sign: str) -> str:
    """base64(HMAC-SHA256(key, string_to_sign))."""
    return base64.b64encode(hmac.new(key, string_to_sign.encode(), hashlib.sha256).digest()).decode()


def check_request(
    *,
    method: str,
    path_and_query: str,
    headers: Mapping[str, str],
    body: bytes,
    key: bytes,
    bearer_token: str | None,
    now: datetime,
    max_skew: timedelta,
) -> None:
    """Raise :class:`Unauthorized` unless the request carries a valid HMAC signature or bearer token."""
    authorization = headers.get("Authorization")
    if authorization is None:
        raise Unauthorized("The Authorization header is missing.")
    if authorization[:7].lower() == "bearer ":
        if bearer_token is None:
            raise Unauthorized(
                "Bearer tokens are not enabled on this emulator (start it with --bearer-token)."
            )
        if not hmac.compare_digest(authorization[7:].strip().encode(), bearer_token.encode()):
            raise Unauthorized("The bearer token is not valid.")
        return
    match = _HMAC_HEADER.match(authorization.strip())
    if match is None:
        raise Unauthorized("The Authorization header is not an HMAC-SHA256 or Bearer authorization.")
    if match["headers"].lower() != "x-ms-date;host;x-ms-content-sha256":
        raise Unauthorized("SignedHeaders must be x-ms-date;host;x-ms-content-sha256.")
    date_text = headers.get("x-ms-date")
    claimed_hash = headers.get("x-ms-content-sha256")
    host = headers.get("Host")
    if date_text is None or claimed_hash is None or host is None:
        missing = [
            n
            for n, v in (("x-ms-date", date_text), ("x-ms-content-sha256", claimed_hash), ("Host", host))
            if v is None
        ]
        raise Unauthorized(f"Required header(s) missing: {', '.join(missing)}.")
    assert date_text is not None
    assert claimed_hash is not None
    assert host is not None
    date = parse_http_date(date_text)
    if date is None:
        raise Unauthorized("The x-ms-date header is not an RFC 1123 date.")
    if abs(now - date) > max_skew:
        raise Unauthorized(
            f"The x-ms-date header is more than {int(max_skew.total_seconds() // 60)} minutes "
            "from the server time."
        )
    if not hmac.compare_digest(claimed_hash.encode(), content_hash(body).encode()):
        raise Unauthorized("The x-ms-content-sha256 header does not match the request body.")
    received = match["signature"].encode()
    for signed_host in (host, host + "/"):
        string_to_sign = f"{method.upper()}\n{path_and_query}\n{date_text};{signed_host};{claimed_hash}"
        if hmac.compare_digest(received, sign(key, string_to_sign).encode()):
            return
    raise Unauthorized("The request signature is not valid for this access key.")
