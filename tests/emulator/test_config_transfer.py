"""``python -m devstack.jobrouter export`` / ``import`` and the emulator's ``--import``: a configuration using
every rule kind goes emulator -> file -> fresh emulator unchanged, with its secrets never in the file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from azure.communication.jobrouter import JobRouterAdministrationClient, JobRouterClient
from azure.core.credentials import AccessToken

from devstack.jobrouter import EmulatorConfig, EmulatorThread
from devstack.jobrouter.config_cli import main
from devstack.jobrouter.config_transfer import connect, read_configuration
from tests.emulator.helpers import admin_client, router_client

ROOT = Path(__file__).resolve().parents[2]
SECRETS = ("function-key-1", "app-key-2", "client-secret-3", "scoring-key-4")


def function_rule(path: str, **credential: str) -> dict[str, Any]:
    return {"kind": "function", "functionUri": f"https://rules.example{path}", "credential": credential}


WEBHOOK = {
    "kind": "webhook",
    "authorizationServerUri": "https://login.example/token",
    "clientCredential": {"clientId": "router", "clientSecret": "client-secret-3"},
    "webhookUri": "https://rules.example/hook",
}


def configure(admin: JobRouterAdministrationClient, client: JobRouterClient) -> None:
    """Distribution, classification and exception policies, queues and workers using every rule kind."""
    admin.upsert_distribution_policy(
        "longest", {"name": "longest idle", "offerExpiresAfterSeconds": 60, "mode": {"kind": "longestIdle"}}
    )
    admin.upsert_distribution_policy(
        "scored",
        {
            "offerExpiresAfterSeconds": 30,
            "mode": {
                "kind": "bestWorker",
                "scoringRule": function_rule("/score", functionKey="scoring-key-4"),
                "scoringRuleOptions": {
                    "batchSize": 5,
                    "isBatchScoringEnabled": True,
                    "descendingOrder": False,
                },
                "maxConcurrentOffers": 2,
            },
        },
    )
    admin.upsert_distribution_policy(
        "expressive",
        {"mode": {"kind": "bestWorker", "scoringRule": {"kind": "expression", "expression": "worker.Skill"}}},
    )
    admin.upsert_queue(
        "general", {"name": "General", "distributionPolicyId": "longest", "labels": {"tier": 1}}
    )
    admin.upsert_queue("vip", {"distributionPolicyId": "scored"})
    admin.upsert_classification_policy(
        "triage",
        {
            "name": "triage",
            "fallbackQueueId": "general",
            "queueSelectorAttachments": [
                {
                    "kind": "conditional",
                    "condition": {"kind": "expression", "expression": 'job.Region = "NA"'},
                    "queueSelectors": [{"key": "Id", "labelOperator": "equal", "value": "vip"}],
                },
                {
                    "kind": "ruleEngine",
                    "rule": function_rule("/queues", appKey="app-key-2", clientId="default"),
                },
                {"kind": "passThrough", "key": "Region", "labelOperator": "equal"},
                {
                    "kind": "weightedAllocation",
                    "allocations": [
                        {
                            "weight": 0.5,
                            "queueSelectors": [{"key": "tier", "labelOperator": "equal", "value": 1}],
                        },
                        {
                            "weight": 0.5,
                            "queueSelectors": [{"key": "Id", "labelOperator": "equal", "value": "vip"}],
                        },
                    ],
                },
            ],
            "prioritizationRule": function_rule("/priority", functionKey="function-key-1"),
            "workerSelectorAttachments": [
                {"kind": "ruleEngine", "rule": WEBHOOK},
                {"kind": "ruleEngine", "rule": {"kind": "directMap"}},
                {
                    "kind": "static",
                    "workerSelector": {"key": "skill", "labelOperator": "greaterThan", "value": 3},
                },
            ],
        },
    )
    admin.upsert_exception_policy(
        "escalate",
        {
            "name": "escalate",
            "exceptionRules": [
                {
                    "id": "slow",
                    "trigger": {"kind": "waitTime", "thresholdSeconds": 300},
                    "actions": [
                        {
                            "kind": "reclassify",
                            "classificationPolicyId": "triage",
                            "labelsToUpsert": {"x": 1},
                        },
                        {"kind": "manualReclassify", "queueId": "general", "priority": 5},
                    ],
                },
                {
                    "id": "long",
                    "trigger": {"kind": "queueLength", "threshold": 10},
                    "actions": [{"kind": "cancel"}],
                },
            ],
        },
    )
    admin.upsert_queue("vip", {"exceptionPolicyId": "escalate"})
    client.upsert_worker(
        "alice",
        {
            "queues": ["general", "vip"],
            "capacity": 10,
            "labels": {"Skill": 7, "lang": "en"},
            "tags": {"team": "blue"},
            "channels": [
                {"channelId": "voice", "capacityCostPerJob": 10},
                {"channelId": "chat", "capacityCostPerJob": 2, "maxNumberOfJobs": 4},
            ],
            "availableForOffers": True,
        },
    )
    client.upsert_worker("bob", {"queues": ["general"], "capacity": 1, "availableForOffers": False})


def everything(emu: EmulatorThread) -> dict[str, list[dict[str, Any]]]:
    """Every resource of the emulator as the SDK reads it, etags aside."""
    with connect(connection_string=emu.connection_string) as clients:
        found = read_configuration(clients, workers=True)
    return {
        kind: sorted(({k: v for k, v in r.items() if k != "etag"} for r in items), key=lambda r: r["id"])
        for kind, items in found.items()
    }


@pytest.fixture
def configured(
    emu: EmulatorThread, admin: JobRouterAdministrationClient, client: JobRouterClient
) -> EmulatorThread:
    configure(admin, client)
    return emu


def export(emu: EmulatorThread, path: Path, *extra: str) -> int:
    return main(["export", "--connection-string", emu.connection_string, "-o", str(path), *extra], environ={})


def secret_environment(document: dict[str, Any]) -> dict[str, str]:
    """The variables import needs, each set to the secret its description names."""
    values = {
        "prioritizationRule": "function-key-1",
        "queueSelectorAttachments[1]": "app-key-2",
        "workerSelectorAttachments[0]": "client-secret-3",
        "mode.scoringRule": "scoring-key-4",
    }
    return {
        name: next(v for where, v in values.items() if where in description)
        for name, description in document["secrets"].items()
    }


def test_export_then_import_into_a_fresh_emulator_gives_every_resource_unchanged(
    configured: EmulatorThread, tmp_path: Path
) -> None:
    file = tmp_path / "config.json"
    assert export(configured, file, "--workers") == 0
    document = json.loads(file.read_text())
    with EmulatorThread(EmulatorConfig()) as fresh:
        assert (
            main(
                ["import", str(file), "--connection-string", fresh.connection_string],
                environ=secret_environment(document),
            )
            == 0
        )
        assert everything(fresh) == everything(configured)


def test_secrets_are_never_written_but_named_as_environment_variables(
    configured: EmulatorThread, tmp_path: Path
) -> None:
    file = tmp_path / "config.json"
    export(configured, file)
    text = file.read_text()
    assert not any(secret in text for secret in SECRETS)
    document = json.loads(text)
    assert sorted(document["secrets"]) == [
        "JOBROUTER_SECRET_CLASSIFICATION_POLICY_TRIAGE_PRIORITIZATION_RULE_CREDENTIAL_FUNCTION_KEY",
        "JOBROUTER_SECRET_CLASSIFICATION_POLICY_TRIAGE_QUEUE_SELECTOR_ATTACHMENTS_1_RULE_CREDENTIAL_APP_KEY",
        "JOBROUTER_SECRET_CLASSIFICATION_POLICY_TRIAGE_WORKER_SELECTOR_ATTACHMENTS_0_RULE_CLIENT_CREDENTIAL_CLIENT_SECRET",
        "JOBROUTER_SECRET_DISTRIBUTION_POLICY_SCORED_MODE_SCORING_RULE_CREDENTIAL_FUNCTION_KEY",
    ]
    [triage] = document["classificationPolicies"]
    name = "JOBROUTER_SECRET_CLASSIFICATION_POLICY_TRIAGE_PRIORITIZATION_RULE_CREDENTIAL_FUNCTION_KEY"
    assert triage["prioritizationRule"]["credential"] == {"functionKey": f"${{{name}}}"}
    assert triage["queueSelectorAttachments"][1]["rule"]["credential"]["clientId"] == "default"
    assert "workers" not in document  # only with --workers


def test_export_names_the_secret_variables_on_stderr(
    configured: EmulatorThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export(configured, tmp_path / "config.json")
    err = capsys.readouterr().err
    assert "3 distributionPolicies, 2 queues, 1 classificationPolicies, 1 exceptionPolicies" in err
    assert "JOBROUTER_SECRET_DISTRIBUTION_POLICY_SCORED_MODE_SCORING_RULE_CREDENTIAL_FUNCTION_KEY" in err
    assert not any(secret in err for secret in SECRETS)


def test_import_without_a_secret_variable_exits_2_naming_it_and_changes_nothing(
    configured: EmulatorThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "config.json"
    export(configured, file)
    environ = secret_environment(json.loads(file.read_text()))
    missing = "JOBROUTER_SECRET_DISTRIBUTION_POLICY_SCORED_MODE_SCORING_RULE_CREDENTIAL_FUNCTION_KEY"
    del environ[missing]
    with EmulatorThread(EmulatorConfig()) as fresh:
        assert (
            main(["import", str(file), "--connection-string", fresh.connection_string], environ=environ) == 2
        )
        assert everything(fresh) == {k: [] for k in everything(fresh)}
    assert missing in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("not json", "not valid JSON"),
        ('{"format": "jobrouter-configuration/1", "queues": [], "queues": []}', "queues"),
        ('{"format": "something/2"}', "format"),
        ('{"format": "jobrouter-configuration/1", "queues": {}}', "queues"),
        ('{"format": "jobrouter-configuration/1", "queues": [{"id": "q"}, {"id": "q"}]}', "queues[1].id"),
        ('{"format": "jobrouter-configuration/1", "jobs": []}', "jobs"),
    ],
    ids=["not-json", "duplicate-key", "wrong-format", "not-an-array", "duplicate-id", "unknown-kind"],
)
def test_a_bad_document_exits_2_with_a_line_naming_the_problem(
    emu: EmulatorThread, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, named: str
) -> None:
    file = tmp_path / "bad.json"
    file.write_text(text)
    assert main(["import", str(file), "--connection-string", emu.connection_string], environ={}) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ")
    assert named in err
    assert "\n" not in err


def test_a_resource_the_service_refuses_exits_2_with_its_message(
    emu: EmulatorThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "bad.json"
    file.write_text(
        json.dumps(
            {
                "format": "jobrouter-configuration/1",
                "distributionPolicies": [{"id": "dp", "mode": {"kind": "fastest"}}],
            }
        )
    )
    assert main(["import", str(file), "--connection-string", emu.connection_string], environ={}) == 2
    assert "mode.kind" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["export"], "--connection-string"),
        (["export", "--connection-string", "endpoint=http://x"], "accesskey"),
        (["export", "--endpoint", "ftp://x"], "http(s) URL"),
        (
            ["import", "/does/not/exist.json", "--connection-string", "endpoint=http://x/;accesskey=AA=="],
            "cannot read",
        ),
    ],
    ids=["no-endpoint", "no-key", "not-http", "no-file"],
)
def test_bad_command_lines_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], named: str) -> None:
    assert main(argv, environ={}) == 2
    assert named in capsys.readouterr().err


def test_an_unreachable_endpoint_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["export", "--connection-string", "endpoint=http://127.0.0.1:9/;accesskey=AA=="]
    assert main(argv, environ={}) == 1
    assert "could not reach" in capsys.readouterr().err


class StaticToken:
    """A TokenCredential that always returns one token (what the emulator's --bearer-token expects)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, 2**31)


def test_export_reads_through_entra_id_when_given_an_endpoint() -> None:
    with EmulatorThread(EmulatorConfig(bearer_token="entra-token")) as emu:
        with admin_client(emu) as admin, router_client(emu) as client:
            configure(admin, client)
        with connect(endpoint=emu.endpoint, credential=StaticToken("entra-token")) as clients:
            found = read_configuration(clients, workers=False)
    assert sorted(p["id"] for p in found["classificationPolicies"]) == ["triage"]


# ------------------------------------------------------------------------------ the emulator's --import


@dataclass(frozen=True)
class Running:
    endpoint: str
    access_key: str


def start(args: list[str], environ: dict[str, str]) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **environ)
    return subprocess.Popen(  # noqa: S603 - this interpreter, a fixed module, test-made arguments
        [sys.executable, "-m", "devstack.jobrouter", "--port", "0", "--log-level", "WARNING", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def exported(configured: EmulatorThread, tmp_path: Path) -> tuple[Path, EmulatorThread]:
    file = tmp_path / "config.json"
    export(configured, file, "--workers")
    return file, configured


def test_the_emulator_applies_a_document_at_start_up_before_it_says_it_listens(
    exported: tuple[Path, EmulatorThread],
) -> None:
    file, source = exported
    process = start(["--import", str(file)], secret_environment(json.loads(file.read_text())))
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+) .*accesskey=(\S+)$", line.strip())
        assert match, line + (process.stderr.read() if process.stderr else "")
        running = Running(match[1], match[2])
        with connect(
            connection_string=f"endpoint={running.endpoint}/;accesskey={running.access_key}"
        ) as clients:
            found = read_configuration(clients, workers=True)
        got = {
            k: sorted(({x: y for x, y in r.items() if x != "etag"} for r in v), key=lambda r: r["id"])
            for k, v in found.items()
        }
        assert got == everything(source)
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_the_emulator_refuses_to_start_with_a_document_whose_secret_is_not_set(
    exported: tuple[Path, EmulatorThread],
) -> None:
    file, _ = exported
    process = start(["--import", str(file)], {})
    _, err = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "JOBROUTER_SECRET_" in err
    assert "listening" not in err
