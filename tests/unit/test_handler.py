"""One invocation end to end (without the worker): exactly one decision-log line, whatever happens."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError

import offer_handlers.handler
from offer_handlers.decision_log import parse_fields
from offer_handlers.errors import ConfigurationError, InvalidDeciderError, RetryableServiceError
from offer_handlers.events import Envelope
from offer_handlers.execute import OfferResponder, Outcome, Result, SettledOffers
from offer_handlers.handler import DECISION_LOGGER, OfferHandler, format_fields
from offer_handlers.settings import Settings, load_settings
from tests.fixtures import envelope, load_event, offered_at, single, with_data
from tests.fixtures.fakes import FakeResponder, SteppingTimer, http_error

EG = single(load_event("offer_issued.eventgrid"))
CE = single(load_event("offer_issued.cloudevents"))
NOW = offered_at(EG) + timedelta(seconds=1)
ROOT = Path(__file__).resolve().parents[2]

POLICY = {
    "version": 1,
    "rules": [
        {
            "name": "vip-retry",
            "when": {"jobLabels": [{"key": "vip", "labelOperator": "equal", "value": True}]},
            "then": {"action": "decline", "retryAfterSeconds": 60},
        },
        {"name": "chat-leave", "when": {"channels": ["chat"]}, "then": {"action": "leave"}},
        {"name": "never-w9", "when": {"workers": ["w9"]}, "then": {"action": "decline", "retry": "never"}},
    ],
    "default": {"action": "accept"},
}


def parse_line(text: str) -> dict[str, str | None]:
    """Read a decision line back with the product's parser (missing values are None)."""
    return parse_fields(text)


class Harness:
    """An OfferHandler with a fake responder, a fixed clock and settings from a dict."""

    def __init__(self, env: Mapping[str, str] | None = None, responder: FakeResponder | None = None) -> None:
        self.fake = responder or FakeResponder()
        self.settings_loads = 0
        self.responders_built = 0
        self.env = dict(env if env is not None else {"OFFER_POLICY": json.dumps(POLICY)})

        def load(root: Path) -> Settings:
            self.settings_loads += 1
            return load_settings(root, self.env)

        def build(settings: Settings) -> OfferResponder:
            self.responders_built += 1
            return self.fake

        self.handler = OfferHandler(
            app_root=ROOT, settings_loader=load, responder_factory=build, clock=lambda: NOW
        )

    def handle(self, event: Mapping[str, Any]) -> Result:
        return self.handler.handle(envelope(dict(event)))


def decision_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, str | None]]:
    records = [r for r in caplog.records if r.name == DECISION_LOGGER]
    assert all(r.levelno == logging.INFO for r in records)
    return [parse_line(r.getMessage()) for r in records]


def only_line(caplog: pytest.LogCaptureFixture) -> dict[str, str | None]:
    (line,) = decision_lines(caplog)
    return line


@pytest.fixture(autouse=True)
def _info_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)


# --- one line per invocation, for every outcome -----------------------------------------------------


def test_an_accepted_offer_logs_one_line_with_every_id_the_decision_and_the_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = Harness({})

    assert h.handle(EG) == Result(Outcome.ACCEPTED)

    assert [c.method for c in h.fake.calls] == ["accept"]
    assert DECISION_LOGGER == "offer_handlers.decisions"

    line = only_line(caplog)
    assert {k: v for k, v in line.items() if k != "elapsed_ms"} == {
        "v": "2",
        "decision": "accept",
        "reason": "no-policy",
        "retry_at": None,
        "event_id": EG["id"],
        "offer_id": EG["data"]["offerId"],
        "job_id": EG["data"]["jobId"],
        "worker_id": EG["data"]["workerId"],
        "outcome": "accepted",
        "offer_age_ms": "1000",  # the clock reads offeredOn + 1 s when the call is answered
        "time_left_ms": "59000",  # the fixture's offer expires 60 s after it was offered
        "schema": "eventgrid",
    }
    assert float(line["elapsed_ms"] or "nan") >= 0


def test_a_decline_with_retry_logs_retry_at(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness()

    h.handle(EG)

    line = only_line(caplog)
    assert (line["decision"], line["reason"], line["outcome"]) == ("decline", "vip-retry", "declined")
    assert datetime.fromisoformat(str(line["retry_at"])) == NOW + timedelta(seconds=60)
    assert h.fake.calls[0].retry_at == NOW + timedelta(seconds=60)


def test_a_decline_for_good_logs_no_retry_at(caplog: pytest.LogCaptureFixture) -> None:
    Harness().handle(with_data(EG, workerId="w9", jobLabels={}))

    line = only_line(caplog)
    assert (line["decision"], line["reason"], line["retry_at"], line["outcome"]) == (
        "decline",
        "never-w9",
        None,
        "declined",
    )


def test_a_leave_logs_left_and_never_builds_the_client(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness()

    h.handle(CE)

    line = only_line(caplog)
    assert (line["decision"], line["reason"], line["outcome"], line["schema"]) == (
        "leave",
        "chat-leave",
        "left",
        "cloudevents",
    )
    assert h.responders_built == 0


def test_a_gone_offer_logs_gone_with_the_status(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness({}, FakeResponder([http_error(ResourceExistsError, 409)]))

    assert h.handle(EG) == Result(Outcome.GONE, 409)
    line = only_line(caplog)
    assert (line["outcome"], line["status"]) == ("gone", "409")


def test_an_expired_offer_logs_expired_and_makes_no_call(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness({})
    h.handler = OfferHandler(
        app_root=ROOT,
        settings_loader=lambda root: load_settings(root, {}),
        responder_factory=lambda s: h.fake,
        clock=lambda: NOW + timedelta(hours=1),
    )

    h.handle(EG)

    assert only_line(caplog)["outcome"] == "expired"
    assert h.fake.calls == []


def test_a_duplicate_delivery_logs_duplicate_and_makes_no_second_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = Harness({})

    h.handle(EG)
    h.handle(EG)

    assert [line["outcome"] for line in decision_lines(caplog)] == ["accepted", "duplicate"]
    assert len(h.fake.calls) == 1


def test_another_event_type_is_acknowledged_with_one_line_and_no_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = Harness()

    result = h.handle(single(load_event("offer_revoked.eventgrid")))

    assert result == Result(Outcome.IGNORED)
    line = only_line(caplog)
    assert (line["decision"], line["outcome"], line["event_type"]) == (
        "none",
        "ignored",
        "Microsoft.Communication.RouterWorkerOfferRevoked",
    )
    assert (h.settings_loads, h.responders_built, h.fake.calls) == (0, 0, [])


def test_a_malformed_event_is_acknowledged_logged_with_its_field_and_payload(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = Harness()
    broken = with_data(EG, expiresOn="not a date")

    result = h.handle(broken)

    assert result == Result(Outcome.INVALID)
    line = only_line(caplog)
    assert (line["outcome"], line["field"], line["offer_id"], line["worker_id"]) == (
        "invalid",
        "data.expiresOn",
        EG["data"]["offerId"],
        EG["data"]["workerId"],
    )
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    message = error.getMessage()
    assert "data.expiresOn" in message
    assert EG["id"] in message
    assert '"expiresOn": "not a date"' in message  # the payload, recoverable from the log
    assert h.fake.calls == []
    assert h.responders_built == 0


def test_the_logged_payload_of_a_huge_malformed_event_is_capped(caplog: pytest.LogCaptureFixture) -> None:
    broken = with_data(EG, expiresOn=..., jobTags={f"k{n}": "v" * 100 for n in range(1000)})

    Harness().handle(broken)

    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert 8192 < len(error.getMessage()) < 9000
    assert "chars)" in error.getMessage()


def test_a_transient_failure_logs_error_then_raises(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness({}, FakeResponder([http_error(HttpResponseError, 503)]))

    with pytest.raises(RetryableServiceError):
        h.handle(EG)

    line = only_line(caplog)
    assert (line["decision"], line["outcome"], line["error"], line["status"]) == (
        "accept",
        "error",
        "RetryableServiceError",
        "503",
    )
    (detail,) = [r for r in caplog.records if r.name == "offer_handlers.handler"]
    assert detail.levelno == logging.WARNING  # routine: Event Grid redelivers
    assert EG["data"]["offerId"] in detail.getMessage()


def test_an_invalid_policy_fails_every_offer_with_a_configuration_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad = {**POLICY, "rules": [{"name": "x", "when": {"queues": []}, "then": {"action": "accept"}}]}
    h = Harness({"OFFER_POLICY": json.dumps(bad)})

    with pytest.raises(ConfigurationError) as caught:
        h.handle(EG)

    assert "OFFER_POLICY" in str(caught.value)
    assert "rule 'x'" in str(caught.value)
    assert "when.queues" in str(caught.value)
    line = only_line(caplog)
    assert (line["decision"], line["outcome"], line["error"]) == ("none", "error", "ConfigurationError")
    (detail,) = [r for r in caplog.records if r.name == "offer_handlers.handler"]
    assert detail.levelno == logging.ERROR  # needs a person


def test_without_a_connection_string_or_endpoint_the_first_call_names_both_settings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler = OfferHandler(
        app_root=ROOT, settings_loader=lambda root: load_settings(root, {}), clock=lambda: NOW
    )

    with pytest.raises(ConfigurationError) as caught:
        handler.handle(envelope(EG))

    assert "JOBROUTER_CONNECTION_STRING" in str(caught.value)
    assert "JOBROUTER_ENDPOINT" in str(caught.value)
    assert only_line(caplog)["outcome"] == "error"


def test_settings_policy_and_client_are_built_once_per_process() -> None:
    h = Harness({})

    for n in range(3):
        h.handle(with_data(EG, offerId=f"o{n}"))

    assert (h.settings_loads, h.responders_built, len(h.fake.calls)) == (1, 1, 3)


def test_a_plug_in_decider_replaces_the_rules(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness({"OFFER_DECIDER": "tests.fixtures.deciders:vip_decline_else_leave"})

    h.handle(EG)
    h.handle(CE)

    assert [(line["reason"], line["outcome"]) for line in decision_lines(caplog)] == [
        ("plugin-vip", "declined"),
        ("plugin-leave", "left"),
    ]


@pytest.mark.parametrize("name", ["returns_string", "raises"])
def test_a_misbehaving_plug_in_fails_the_invocation_naming_offer_decider(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    h = Harness({"OFFER_DECIDER": f"tests.fixtures.deciders:{name}"})

    with pytest.raises(InvalidDeciderError, match="OFFER_DECIDER"):
        h.handle(EG)

    assert only_line(caplog)["outcome"] == "error"
    assert h.fake.calls == []


def test_values_that_would_break_the_line_are_quoted(caplog: pytest.LogCaptureFixture) -> None:
    Harness({}).handle(with_data(EG, workerId='agent 17 "x"=y'))

    assert only_line(caplog)["worker_id"] == 'agent 17 "x"=y'


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"a": "x", "b": None, "c": ""}, "a=x b=- c=-"),
        ({"a": "two words"}, 'a="two words"'),
        ({"a": "line\nbreak"}, 'a="line\\nbreak"'),
        ({"a": "x" * 300}, 'a="' + "x" * 256 + '...(+44 chars)"'),
    ],
    ids=["plain-and-missing", "space", "newline", "capped"],
)
def test_format_fields_is_logfmt(fields: dict[str, object], text: str) -> None:
    assert format_fields(fields) == text


# --- the policy setting, the reasons and the error path, pinned -------------------------------------


def test_offer_policy_file_is_read_relative_to_the_app_root(caplog: pytest.LogCaptureFixture) -> None:
    # examples/policy.json: a human worker with a VIP job is declined with a retry in 120 s.
    h = Harness({"OFFER_POLICY_FILE": "examples/policy.json"})
    event = with_data(EG, workerLabels={"kind": "human", "level": 1}, jobLabels={"vip": True})

    assert h.handle(event) == Result(Outcome.DECLINED)

    assert (only_line(caplog)["reason"], h.fake.calls[0].retry_at) == (
        "vip-needs-senior",
        NOW + timedelta(seconds=120),
    )


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"OFFER_POLICY": "{"}, "OFFER_POLICY"),
        ({"OFFER_POLICY_FILE": "no/such/policy.json"}, "OFFER_POLICY_FILE"),
    ],
    ids=["policy-text", "policy-file"],
)
def test_a_bad_policy_names_the_setting_it_came_from(env: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Harness(env).handle(EG)

    assert caught.value.setting == setting
    assert str(caught.value).startswith(f"{setting}: policy: ")


def test_another_event_type_logs_the_reason_not_an_offer_event(caplog: pytest.LogCaptureFixture) -> None:
    Harness().handle(single(load_event("offer_revoked.eventgrid")))

    line = only_line(caplog)
    assert (line["reason"], line["event_id"], line["schema"]) == (
        "not-an-offer-event",
        single(load_event("offer_revoked.eventgrid"))["id"],
        "eventgrid",
    )


def test_a_malformed_event_logs_the_reason_invalid_event(caplog: pytest.LogCaptureFixture) -> None:
    Harness().handle(with_data(EG, jobId=7))

    line = only_line(caplog)
    assert (line["decision"], line["reason"], line["outcome"], line["field"]) == (
        "none",
        "invalid-event",
        "invalid",
        "data.jobId",
    )


class SlowResponder(FakeResponder):
    """Takes a known minimum time to accept."""

    def accept(self, worker_id: str, offer_id: str, *, timeout: float) -> None:
        time.sleep(0.05)
        super().accept(worker_id, offer_id, timeout=timeout)


def test_elapsed_ms_is_the_invocations_wall_time_in_milliseconds(caplog: pytest.LogCaptureFixture) -> None:
    Harness({}, SlowResponder()).handle(EG)

    elapsed = only_line(caplog)["elapsed_ms"]
    assert elapsed is not None
    assert re.fullmatch(r"\d+\.\d", elapsed)
    assert 50 <= float(elapsed) < 30_000


def test_an_exception_without_a_status_code_is_logged_and_re_raised_unchanged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = Harness({}, FakeResponder([TypeError("SDK bug")]))

    with pytest.raises(TypeError, match="SDK bug"):
        h.handle(EG)

    line = only_line(caplog)
    assert (line["outcome"], line["error"], "status" in line) == ("error", "TypeError", False)
    (detail,) = [r for r in caplog.records if r.name == "offer_handlers.handler"]
    assert detail.levelno == logging.ERROR
    assert "SDK bug" in detail.getMessage()


def test_a_configuration_error_from_the_service_logs_its_status(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness({}, FakeResponder([http_error(HttpResponseError, 403)]))

    with pytest.raises(ConfigurationError):
        h.handle(EG)

    line = only_line(caplog)
    assert (line["error"], line["status"]) == ("ConfigurationError", "403")


def test_an_injected_settled_memory_is_the_one_used() -> None:
    settled = SettledOffers()
    handler = OfferHandler(
        app_root=ROOT,
        settings_loader=lambda root: load_settings(root, {}),
        responder_factory=lambda settings: FakeResponder(),
        clock=lambda: NOW,
        settled=settled,
    )

    handler.handle(envelope(EG))

    assert handler.settled is settled
    assert EG["data"]["offerId"] in settled


def test_the_time_given_to_the_decision_is_the_clocks(caplog: pytest.LogCaptureFixture) -> None:
    later = NOW + timedelta(seconds=30)
    handler = OfferHandler(
        app_root=ROOT,
        settings_loader=lambda root: load_settings(root, {"OFFER_POLICY": json.dumps(POLICY)}),
        responder_factory=lambda settings: FakeResponder(),
        clock=lambda: later,
    )

    handler.handle(envelope(EG))

    assert datetime.fromisoformat(str(only_line(caplog)["retry_at"])) == later + timedelta(seconds=60)


def test_a_failed_settings_load_is_tried_again_on_the_next_event() -> None:
    loads: list[int] = []

    def flaky(root: Path) -> Settings:
        loads.append(1)
        if len(loads) == 1:
            raise ConfigurationError("not yet", setting="X")
        return load_settings(root, {})

    handler = OfferHandler(
        app_root=ROOT, settings_loader=flaky, responder_factory=lambda s: FakeResponder(), clock=lambda: NOW
    )
    with pytest.raises(ConfigurationError):
        handler.handle(envelope(EG))

    assert handler.handle(envelope(EG)) == Result(Outcome.ACCEPTED)
    assert len(loads) == 2


def test_the_malformed_event_log_shows_the_whole_envelope(caplog: pytest.LogCaptureFixture) -> None:
    Harness().handle(with_data(EG, expiresOn="never"))

    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    payload = json.loads(error.getMessage().split("payload=", 1)[1])
    assert (payload["schema"], payload["id"], payload["type"], payload["subject"]) == (
        "eventgrid",
        EG["id"],
        EG["eventType"],
        EG["subject"],
    )
    assert payload["data"]["expiresOn"] == "never"


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"a": "tab\there"}, 'a="tab\\there"'),
        ({"a": "x=y"}, 'a="x=y"'),
        ({"a": 'say "hi"'}, 'a="say \\"hi\\""'),
        ({"a": "back\\slash"}, 'a="back\\\\slash"'),
        ({"a": "bell\x07"}, 'a="bell\\u0007"'),
        ({"a": 0, "b": False}, "a=0 b=False"),
        ({"a": "x" * 256}, "a=" + "x" * 256),
    ],
    ids=["tab", "equals", "quote", "backslash", "non-printable", "falsy-values-shown", "at-the-cap"],
)
def test_format_fields_quotes_exactly_what_would_break_the_line(fields: dict[str, object], text: str) -> None:
    assert format_fields(fields) == text


# --- the detail log, and the log line's arithmetic ---------------------------------------------------------


def detail(caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    (record,) = [r for r in caplog.records if r.name == "offer_handlers.handler"]
    return record


def ids_of(event: Mapping[str, Any]) -> str:
    data = event["data"]
    return (
        f"event_id={event['id']} offer_id={data['offerId']} job_id={data['jobId']} "
        f"worker_id={data['workerId']}"
    )


def test_a_malformed_event_detail_names_its_ids_field_and_message(caplog: pytest.LogCaptureFixture) -> None:
    Harness().handle(with_data(EG, expiresOn="never"))

    assert (
        detail(caplog)
        .getMessage()
        .startswith(
            f"rejected malformed event {ids_of(EG)} (field data.expiresOn: not an ISO 8601 date-time); "
            'acknowledged without any call. payload={"schema": "eventgrid", '
        )
    )


def test_a_failed_offer_detail_names_its_ids_and_the_error(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(RetryableServiceError):
        Harness({}, FakeResponder([http_error(HttpResponseError, 503)])).handle(EG)

    assert detail(caplog).getMessage() == (
        f"offer {ids_of(EG)} failed: Job Router call failed (HTTP 503); raising so Event Grid redelivers"
    )


def test_a_failure_before_the_decision_logs_no_decision_and_no_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(ConfigurationError):
        Harness({"OFFER_POLICY": "{"}).handle(EG)

    line = only_line(caplog)
    assert (line["decision"], line["reason"], line["retry_at"]) == ("none", None, None)


def test_a_payload_that_is_not_json_is_logged_with_repr(caplog: pytest.LogCaptureFixture) -> None:
    when = datetime(2024, 3, 5, 10, 16, 2)
    data = {**EG["data"], "expiresOn": when}

    Harness().handler.handle(Envelope("eventgrid", "e1", EG["eventType"], "s", data))

    assert f'"expiresOn": "{when!r}"' in detail(caplog).getMessage()


def test_a_payload_that_cannot_be_written_out_is_logged_as_such(caplog: pytest.LogCaptureFixture) -> None:
    data: dict[str, Any] = {**EG["data"], "expiresOn": 5}
    data["self"] = data  # a circular reference

    Harness().handler.handle(Envelope("eventgrid", "e1", EG["eventType"], "s", data))

    assert detail(caplog).getMessage().endswith("payload=<payload could not be serialised>")


def test_the_logged_payload_is_ascii(caplog: pytest.LogCaptureFixture) -> None:
    Harness().handle(with_data(EG, expiresOn="café"))

    message = detail(caplog).getMessage()
    assert '"expiresOn": "caf\\u00e9"' in message
    assert message.isascii()


def test_elapsed_ms_is_the_perf_counter_interval_in_milliseconds(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(offer_handlers.handler, "time", SteppingTimer(0.5))

    Harness({}).handle(EG)

    assert only_line(caplog)["elapsed_ms"] == "500.0"


def test_a_failed_call_logs_how_old_the_offer_was_and_the_time_it_had_left(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(RetryableServiceError):
        Harness({}, FakeResponder([http_error(HttpResponseError, 503)])).handle(EG)

    line = only_line(caplog)
    assert (line["outcome"], line["offer_age_ms"], line["time_left_ms"]) == ("error", "1000", "59000")


def test_a_failure_before_the_decision_puts_no_reason_on_the_log_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(ConfigurationError):
        Harness({"OFFER_POLICY": "{"}).handle(EG)

    (record,) = [r for r in caplog.records if r.name == DECISION_LOGGER]
    assert (record.__dict__["decision"], "reason" in record.__dict__) == ("none", False)


@pytest.mark.parametrize(
    ("event_type", "logged"),
    [
        (42, "42"),
        (
            ["Microsoft.Communication.RouterWorkerOfferIssued"],
            '["Microsoft.Communication.RouterWorkerOfferIssued"]',
        ),
        (datetime(2024, 3, 5, 10, 16, 2), '"datetime.datetime(2024, 3, 5, 10, 16, 2)"'),
    ],
    ids=["number", "list", "not-json"],
)
def test_an_event_type_that_is_not_text_is_logged_as_json(
    event_type: object, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    result = Harness().handler.handle(Envelope("eventgrid", "e1", event_type, "s", {}))

    assert result == Result(Outcome.IGNORED)
    assert (only_line(caplog)["reason"], only_line(caplog)["event_type"]) == ("not-an-offer-event", logged)


@pytest.mark.parametrize(
    ("error_text", "logged"),
    [("x" * 8192, "x" * 8192), ("x" * 8197, "x" * 8192 + "...(+5 chars)")],
    ids=["at-the-cap", "over-the-cap"],
)
def test_a_failed_offer_detail_keeps_8192_characters_of_the_error_and_counts_the_rest(
    error_text: str, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(TypeError):
        Harness({}, FakeResponder([TypeError(error_text)])).handle(EG)

    assert detail(caplog).getMessage() == f"offer {ids_of(EG)} failed: {logged}"
