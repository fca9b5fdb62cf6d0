"""The azd hooks (infra/hooks/*.sh and their Windows twins *.ps1), run against fake `az`, `azd` and `curl`.

Every behaviour is checked for both versions: `sh` runs the POSIX hook, `pwsh` (PowerShell 7) the Windows
one, with the same fakes and the same expectations. Where pwsh is not installed, its half is skipped and says
so (GitHub's ubuntu runners, where the CI workflow runs `make test`, have it). No Azure access is needed or
attempted: PATH holds only the fakes and the few POSIX tools the hooks and fakes use.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import INFRA

REPO = INFRA.parent
HOOKS = INFRA / "hooks"
ACS_ID = (
    "/subscriptions/0000/resourceGroups/rg-acs/providers/Microsoft.Communication/communicationServices/acs1"
)
TOOLS = ("awk", "tr", "base64", "sleep", "cat", "mktemp", "rm", "dirname", "sed", "tail")
PWSH = shutil.which("pwsh")
FUNCTION_KEY = "FAKE-function-key_0123456789abcdef=="

# A fake CLI: append its argv to $CALLS, then answer from files the test wrote.
#   az ... system-topic list        -> prints $FAKE/topics.tsv
#   az ... function show            -> fails until it has been called $FAKE/ready_after times
#   az ... deployment group show    -> prints $FAKE/events_parameters.json
#   az ... deployment group create  -> copies the @parameters file to $FAKE/deployed_parameters.json;
#                                      fails when $FAKE/create_fails exists
#   az ... functionapp show         -> the app's host name
#   az ... functionapp keys list    -> the function key
#   azd ...                         -> succeeds
FAKE_AZ = """#!/bin/sh
echo "az $*" >> "$CALLS"
case "$*" in
  *"system-topic list"*) cat "$FAKE/topics.tsv" ;;
  *"function show"*)
    n=$(( $(cat "$FAKE/show_count" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$FAKE/show_count"
    [ "$n" -ge "$(cat "$FAKE/ready_after")" ] ;;
  *"deployment group show"*) cat "$FAKE/events_parameters.json" ;;
  *"deployment group create"*)
    for a in "$@"; do case "$a" in @*) cat "${a#@}" > "$FAKE/deployed_parameters.json" ;; esac; done
    [ ! -e "$FAKE/create_fails" ] || { echo "ERROR: InvalidTemplateDeployment" >&2; exit 1; } ;;
  *"functionapp show"*) echo "func-abc.azurewebsites.net" ;;
  *"functionapp keys list"*) cat "$FAKE/key" ;;
esac
"""
FAKE_AZD = """#!/bin/sh
echo "azd $*" >> "$CALLS"
"""
# curl: records its argv and standard input (its --config), writes $FAKE/health_body to --output and prints
# the n-th line of $FAKE/health_statuses (the last one once they run out); 000 is a connection failure.
FAKE_CURL = """#!/bin/sh
echo "curl $*" >> "$CALLS"
cat >> "$FAKE/curl_stdin"
out=""; previous=""
for a in "$@"; do [ "$previous" = "--output" ] && out="$a"; previous="$a"; done
n=$(( $(cat "$FAKE/curl_count" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$FAKE/curl_count"
status=$(sed -n "${n}p" "$FAKE/health_statuses")
[ -n "$status" ] || status=$(tail -n 1 "$FAKE/health_statuses")
if [ "$status" = 000 ]; then
  echo "curl: (6) Could not resolve host: func-abc.azurewebsites.net" >&2; printf 000; exit 6
fi
cat "$FAKE/health_body" > "$out"
printf '%s' "$status"
"""


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    calls: list[str]


@dataclass(frozen=True)
class Shell:
    """How to run one version of a hook: `sh` with the .sh file, or `pwsh` with the .ps1 file."""

    name: str
    suffix: str

    def argv(self, hook: str) -> list[str]:
        script = str(HOOKS / f"{hook}{self.suffix}")
        if self.name == "sh":
            return ["/bin/sh", script]
        assert PWSH
        return [PWSH, "-NoLogo", "-NoProfile", "-NonInteractive", "-File", script]


@pytest.fixture(params=["sh", "pwsh"])
def shell(request: pytest.FixtureRequest) -> Shell:
    if request.param == "pwsh" and PWSH is None:
        pytest.skip(
            "PowerShell 7 (pwsh) is not installed here: the Windows hooks (*.ps1) run where it is "
            "(GitHub's ubuntu runners have it; no Debian, PyPI or npm package provides it)"
        )
    return Shell("sh", ".sh") if request.param == "sh" else Shell("pwsh", ".ps1")


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """A PATH directory with the POSIX tools the hooks use and nothing else (no real az, azd or curl)."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found, f"{tool} not found"
        (tools / tool).symlink_to(found)
    (tools / "python3").symlink_to(sys.executable)
    return tools


def _install_fakes(bin_dir: Path, *, az: bool = True, curl: bool = True) -> None:
    fakes = {"azd": FAKE_AZD, **({"az": FAKE_AZ} if az else {}), **({"curl": FAKE_CURL} if curl else {})}
    for name, text in fakes.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)


def _run(shell: Shell, hook: str, bin_dir: Path, tmp_path: Path, **env: str) -> Run:
    calls = tmp_path / "calls.log"
    calls.touch()
    proc = subprocess.run(  # noqa: S603 - fixed argv: a shell and a hook script from the repository
        shell.argv(hook),
        env={"PATH": str(bin_dir), "CALLS": str(calls), "FAKE": str(tmp_path), "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr, calls.read_text().splitlines())


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --- preprovision -------------------------------------------------------------------------------------------


def test_preprovision_fails_with_the_fix_when_acs_resource_id_is_missing(
    shell: Shell, bin_dir: Path, tmp_path: Path
) -> None:
    _install_fakes(bin_dir)
    run = _run(shell, "preprovision", bin_dir, tmp_path)
    assert run.code != 0
    assert "ACS_RESOURCE_ID is not set" in run.stderr
    assert "azd env set ACS_RESOURCE_ID" in run.stderr


BAD_IDS = {
    "storage account": ACS_ID.replace(
        "Microsoft.Communication/communicationServices", "Microsoft.Storage/storageAccounts"
    ),
    "no resource name": ACS_ID.rsplit("/", 1)[0],
    "child resource": ACS_ID + "/domains/d1",
    "just a name": "acs1",
}


@pytest.mark.parametrize("bad_id", BAD_IDS.values(), ids=BAD_IDS.keys())
def test_preprovision_rejects_an_id_that_is_not_a_communication_services_resource(
    shell: Shell, bin_dir: Path, tmp_path: Path, bad_id: str
) -> None:
    _install_fakes(bin_dir)
    run = _run(shell, "preprovision", bin_dir, tmp_path, ACS_RESOURCE_ID=bad_id, ACS_SYSTEM_TOPIC_NAME="t")
    assert run.code != 0
    assert "is not a Communication Services resource id" in run.stderr


def test_preprovision_accepts_a_resource_id_in_any_letter_case(
    shell: Shell, bin_dir: Path, tmp_path: Path
) -> None:
    _install_fakes(bin_dir)
    run = _run(
        shell, "preprovision", bin_dir, tmp_path, ACS_RESOURCE_ID=ACS_ID.lower(), ACS_SYSTEM_TOPIC_NAME="t"
    )
    assert run.code == 0, run.stderr


def test_preprovision_rejects_an_unknown_auth_mode(shell: Shell, bin_dir: Path, tmp_path: Path) -> None:
    _install_fakes(bin_dir)
    run = _run(
        shell,
        "preprovision",
        bin_dir,
        tmp_path,
        ACS_RESOURCE_ID=ACS_ID,
        ACS_SYSTEM_TOPIC_NAME="t",
        JOBROUTER_AUTH="key",
    )
    assert run.code != 0
    assert "JOBROUTER_AUTH must be managedIdentity or accessKey" in run.stderr


POLICY_CASES = {
    "both policy settings": ({"OFFER_POLICY_B64": _b64("{}"), "OFFER_POLICY_FILE": "p.json"}, "not both"),
    "not base64": ({"OFFER_POLICY_B64": "{not base64!"}, "not valid base64"),
    "not JSON": ({"OFFER_POLICY_B64": _b64("rules: []")}, "does not decode to a JSON document"),
}


@pytest.mark.parametrize(("env", "message"), POLICY_CASES.values(), ids=POLICY_CASES.keys())
def test_preprovision_rejects_a_policy_the_app_would_refuse(
    shell: Shell, bin_dir: Path, tmp_path: Path, env: dict[str, str], message: str
) -> None:
    _install_fakes(bin_dir)
    run = _run(
        shell, "preprovision", bin_dir, tmp_path, ACS_RESOURCE_ID=ACS_ID, ACS_SYSTEM_TOPIC_NAME="t", **env
    )
    assert run.code != 0
    assert message in run.stderr


def test_preprovision_accepts_an_inline_policy_that_is_base64_json(
    shell: Shell, bin_dir: Path, tmp_path: Path
) -> None:
    _install_fakes(bin_dir)
    policy = _b64('{"version": 1, "rules": [], "default": {"action": "accept"}}')
    run = _run(
        shell,
        "preprovision",
        bin_dir,
        tmp_path,
        ACS_RESOURCE_ID=ACS_ID,
        ACS_SYSTEM_TOPIC_NAME="t",
        OFFER_POLICY_B64=policy,
    )
    assert run.code == 0, run.stderr


def test_preprovision_adopts_the_resources_existing_system_topic(
    shell: Shell, bin_dir: Path, tmp_path: Path
) -> None:
    _install_fakes(bin_dir)
    (tmp_path / "topics.tsv").write_text(
        "other-topic\t/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1\n"
        f"acs1-portal-topic\t{ACS_ID.replace('resourceGroups', 'resourcegroups')}\n"
    )
    run = _run(shell, "preprovision", bin_dir, tmp_path, ACS_RESOURCE_ID=ACS_ID)
    assert run.code == 0, run.stderr
    assert "azd env set ACS_SYSTEM_TOPIC_NAME acs1-portal-topic" in run.calls
    assert "az eventgrid system-topic list --subscription 0000 --query [].[name, source] -o tsv" in run.calls


def test_preprovision_creates_a_new_topic_when_the_resource_has_none(
    shell: Shell, bin_dir: Path, tmp_path: Path
) -> None:
    _install_fakes(bin_dir)
    (tmp_path / "topics.tsv").write_text("other\t/subscriptions/0000/resourceGroups/rg/providers/X/y/z\n")
    run = _run(shell, "preprovision", bin_dir, tmp_path, ACS_RESOURCE_ID=ACS_ID)
    assert run.code == 0, run.stderr
    assert not any(c.startswith("azd") for c in run.calls)


def test_preprovision_keeps_a_system_topic_name_that_is_already_set(
    shell: Shell, bin_dir: Path, tmp_path: Path
) -> None:
    _install_fakes(bin_dir)
    run = _run(shell, "preprovision", bin_dir, tmp_path, ACS_RESOURCE_ID=ACS_ID, ACS_SYSTEM_TOPIC_NAME="mine")
    assert run.code == 0, run.stderr
    assert run.calls == []


def test_preprovision_without_the_azure_cli_says_so_and_continues(
    shell: Shell, bin_dir: Path, tmp_path: Path
) -> None:
    _install_fakes(bin_dir, az=False)
    run = _run(shell, "preprovision", bin_dir, tmp_path, ACS_RESOURCE_ID=ACS_ID)
    assert run.code == 0, run.stderr
    assert "Azure CLI not found" in run.stdout
    assert run.calls == []


# --- postdeploy: the event subscription ---------------------------------------------------------------------

DEPLOYED = {
    "AZURE_FUNCTION_APP_NAME": "func-abc",
    "AZURE_RESOURCE_GROUP": "rg-env",
    "ACS_RESOURCE_ID": ACS_ID,
    "ACS_RESOURCE_GROUP": "rg-acs",
    "FUNCTION_INDEX_WAIT_SECONDS": "0",
    "FUNCTION_INDEX_WAIT_TRIES": "5",
    "HEALTH_CHECK_WAIT_SECONDS": "0",
    "HEALTH_CHECK_TRIES": "4",
}
SHOW_FUNCTION = (
    "az functionapp function show --resource-group rg-env --name func-abc --function-name on_offer_issued "
    "--query name -o tsv"
)
SHOW_HOST = "az functionapp show --resource-group rg-env --name func-abc --query defaultHostName -o tsv"
LIST_KEYS = (
    "az functionapp keys list --resource-group rg-env --name func-abc --query functionKeys.default -o tsv"
)
HEALTH_URL = "https://func-abc.azurewebsites.net/api/health"
CURL = (
    "curl --silent --show-error --config - --output {body} --write-out %{http_code} --max-time 30 "
    + HEALTH_URL
)
HEALTHY = json.dumps(
    {"status": "healthy", "checks": [{"name": "policy", "ok": True, "detail": "", "setting": None}]}
)
UNHEALTHY = json.dumps(
    {
        "status": "unhealthy",
        "checks": [
            {
                "name": "jobrouter",
                "ok": False,
                "detail": "403 from Job Router",
                "setting": "JOBROUTER_ENDPOINT",
            }
        ],
    }
)
# What `az deployment group show ... --query {...}` answers for the events module of the last provision.
EVENTS_PARAMETERS: dict[str, Any] = {
    "communicationServicesName": {"value": "acs1"},
    "systemTopicName": {"value": "acs1-events"},
    "tags": {"value": {"azd-env-name": "offers-prod"}},
    "eventGridIdentityId": {"value": "/subscriptions/0000/resourceGroups/rg-env/providers/id-evgt"},
    "eventSubscriptionName": {"value": "offer-issued-to-func-abc"},
    "functionAppId": {
        "value": "/subscriptions/0000/resourceGroups/rg-env/providers/Microsoft.Web/sites/func-abc"
    },
    "functionName": {"value": "on_offer_issued"},
    "eventDeliverySchema": {"value": "EventGridSchema"},
    "eventTimeToLiveInMinutes": {"value": 5},
    "maxDeliveryAttempts": {"value": 10},
    "deadLetterStorageAccountId": {"value": "/subscriptions/0000/resourceGroups/rg-env/providers/st"},
    "deadLetterContainerName": {"value": "offer-dead-letters"},
}


def _azure(
    tmp_path: Path, *, ready_after: int = 1, statuses: tuple[str, ...] = ("200",), body: str = HEALTHY
) -> None:
    """What the fake Azure answers: when the function is indexed, the health statuses in turn, the body."""
    (tmp_path / "ready_after").write_text(str(ready_after))
    (tmp_path / "events_parameters.json").write_text(json.dumps(EVENTS_PARAMETERS))
    (tmp_path / "key").write_text(FUNCTION_KEY + "\n")
    (tmp_path / "health_statuses").write_text("\n".join(statuses) + "\n")
    (tmp_path / "health_body").write_text(body)


def _events_module_parameters() -> list[str]:
    text = (INFRA / "app" / "events.bicep").read_text(encoding="utf-8")
    return re.findall(r"^param (\w+) ", text, re.MULTILINE)


def _without_scratch_paths(calls: list[str]) -> list[str]:
    """The calls with the hook's temporary file names replaced by placeholders."""
    calls = [re.sub(r"--output \S+/body ", "--output {body} ", c) for c in calls]
    calls = [re.sub(r"--template-file \S+/events\.bicep ", "--template-file {template} ", c) for c in calls]
    return [re.sub(r"@\S+/parameters\.json ", "@{parameters} ", c) for c in calls]


def test_postdeploy_waits_for_the_function_then_deploys_the_events_module_once_with_the_subscription(
    shell: Shell, bin_dir: Path, tmp_path: Path
) -> None:
    _install_fakes(bin_dir)
    _azure(tmp_path, ready_after=3)

    run = _run(shell, "postdeploy", bin_dir, tmp_path, **DEPLOYED)

    assert run.code == 0, run.stderr
    calls = _without_scratch_paths(run.calls)
    query = ", ".join(f"{p}: {{value: properties.parameters.{p}.value}}" for p in EVENTS_PARAMETERS)
    assert calls[:6] == [
        SHOW_FUNCTION,
        SHOW_FUNCTION,
        SHOW_FUNCTION,
        "az deployment group show --subscription 0000 --resource-group rg-acs --name events "
        f"--query {{{query}}} -o json",
        "az deployment group create --subscription 0000 --resource-group rg-acs --name events "
        "--template-file {template} --parameters @{parameters} --parameters createEventSubscription=true "
        "--only-show-errors -o none",
        "azd env set EVENT_SUBSCRIPTION_ENABLED true",
    ]
    assert json.loads((tmp_path / "deployed_parameters.json").read_text()) == EVENTS_PARAMETERS
    assert not [c for c in run.calls if c.startswith("azd provision")]


def test_postdeploy_deploys_the_events_module_of_the_repository(
    shell: Shell, bin_dir: Path, tmp_path: Path
) -> None:
    _install_fakes(bin_dir)
    _azure(tmp_path)

    run = _run(shell, "postdeploy", bin_dir, tmp_path, **DEPLOYED)

    (create,) = [c for c in run.calls if "deployment group create" in c]
    template = re.search(r"--template-file (\S+)", create)
    assert template
    assert Path(template.group(1)).resolve() == INFRA / "app" / "events.bicep"


def test_postdeploy_passes_every_parameter_of_the_events_module() -> None:
    # The hook lists the parameters it copies from the last provision; createEventSubscription it sets itself.
    for hook in ("postdeploy.sh", "postdeploy.ps1"):
        text = (HOOKS / hook).read_text(encoding="utf-8")
        listed = [p for p in _events_module_parameters() if p != "createEventSubscription"]
        assert all(re.search(rf"\b{p}\b", text) for p in listed), hook
    assert sorted(EVENTS_PARAMETERS) == sorted(
        p for p in _events_module_parameters() if p != "createEventSubscription"
    )


def test_main_bicep_names_the_events_module_deployment_as_the_hook_reads_it() -> None:
    main = (INFRA / "main.bicep").read_text(encoding="utf-8")

    assert re.search(r"module events 'app/events\.bicep' = \{\s+name: 'events'", main)
    for hook in ("postdeploy.sh", "postdeploy.ps1"):
        assert re.search(r"""[Ee]vents_?[Dd]eployment\s*=\s*'?events'?$""", (HOOKS / hook).read_text(), re.M)


def test_postdeploy_skips_the_subscription_once_it_is_in_the_deployment_and_checks_health(
    shell: Shell, bin_dir: Path, tmp_path: Path
) -> None:
    _install_fakes(bin_dir)
    _azure(tmp_path)

    run = _run(shell, "postdeploy", bin_dir, tmp_path, EVENT_SUBSCRIPTION_ENABLED="true", **DEPLOYED)

    assert run.code == 0, run.stderr
    assert _without_scratch_paths(run.calls) == [SHOW_HOST, LIST_KEYS, CURL]
    assert "already part of the deployment" in run.stdout


def test_postdeploy_gives_up_after_the_bounded_wait_with_what_to_do(
    shell: Shell, bin_dir: Path, tmp_path: Path
) -> None:
    _install_fakes(bin_dir)
    _azure(tmp_path, ready_after=99)

    run = _run(shell, "postdeploy", bin_dir, tmp_path, **DEPLOYED)

    assert run.code != 0
    assert "not indexed" in run.stderr
    assert "azd hooks run postdeploy" in run.stderr
    assert run.calls == [SHOW_FUNCTION] * 5


def test_postdeploy_stops_when_the_deployment_fails_and_keeps_the_flag_off(
    shell: Shell, bin_dir: Path, tmp_path: Path
) -> None:
    _install_fakes(bin_dir)
    _azure(tmp_path)
    (tmp_path / "create_fails").touch()

    run = _run(shell, "postdeploy", bin_dir, tmp_path, **DEPLOYED)

    assert run.code != 0
    assert "could not be created" in run.stderr
    assert not [c for c in run.calls if c.startswith(("azd", "curl"))]


def test_postdeploy_without_the_azure_cli_fails_with_what_to_do(
    shell: Shell, bin_dir: Path, tmp_path: Path
) -> None:
    _install_fakes(bin_dir, az=False)

    run = _run(shell, "postdeploy", bin_dir, tmp_path, **DEPLOYED)

    assert run.code != 0
    assert "Azure CLI (az) is needed" in run.stderr
    assert "azd hooks run postdeploy" in run.stderr
    assert run.calls == []


def test_postdeploy_explains_a_missing_provision_output(shell: Shell, bin_dir: Path, tmp_path: Path) -> None:
    _install_fakes(bin_dir)
    run = _run(shell, "postdeploy", bin_dir, tmp_path, AZURE_RESOURCE_GROUP="rg-env")
    assert run.code != 0
    assert "AZURE_FUNCTION_APP_NAME is not set" in run.stderr


# --- postdeploy: the health check ---------------------------------------------------------------------------

HEALTHY_ONLY = {**DEPLOYED, "EVENT_SUBSCRIPTION_ENABLED": "true"}


def test_postdeploy_retries_the_health_check_until_the_app_is_healthy(
    shell: Shell, bin_dir: Path, tmp_path: Path
) -> None:
    _install_fakes(bin_dir)
    _azure(tmp_path, statuses=("000", "503", "200"))

    run = _run(shell, "postdeploy", bin_dir, tmp_path, **HEALTHY_ONLY)

    assert run.code == 0, run.stderr
    assert [c for c in _without_scratch_paths(run.calls) if c.startswith("curl")] == [CURL] * 3
    assert f"{HEALTH_URL} answered 200: healthy" in run.stdout


def test_postdeploy_sends_the_function_key_as_a_header_and_never_shows_it(
    shell: Shell, bin_dir: Path, tmp_path: Path
) -> None:
    _install_fakes(bin_dir)
    _azure(tmp_path, statuses=("503",), body=UNHEALTHY)

    run = _run(shell, "postdeploy", bin_dir, tmp_path, **HEALTHY_ONLY)

    assert run.code != 0
    sent = (tmp_path / "curl_stdin").read_text().splitlines()
    assert sent == [f'header = "x-functions-key: {FUNCTION_KEY}"'] * 4
    assert FUNCTION_KEY not in run.stdout + run.stderr
    assert not [c for c in run.calls if FUNCTION_KEY in c]


def test_postdeploy_fails_loudly_with_the_checks_and_what_to_do_when_the_app_stays_unhealthy(
    shell: Shell, bin_dir: Path, tmp_path: Path
) -> None:
    _install_fakes(bin_dir)
    _azure(tmp_path, statuses=("503",), body=UNHEALTHY)

    run = _run(shell, "postdeploy", bin_dir, tmp_path, **HEALTHY_ONLY)

    assert run.code == 1
    assert f"NOT healthy: GET {HEALTH_URL} answered 503 after 4 tries" in run.stderr
    assert '"detail": "403 from Job Router"' in run.stderr
    assert "role assignment" in run.stderr
    assert "azd env set JOBROUTER_AUTH accessKey && azd provision && azd deploy" in run.stderr
    assert "azd hooks run postdeploy" in run.stderr
    assert len([c for c in run.calls if c.startswith("curl")]) == 4


OTHER_FAILURES = {
    "key refused": ("401", "function key was refused"),
    "no health function": ("404", "no health function"),
    "unreachable": ("000", "could not be reached: curl: (6) Could not resolve host"),
    "server error": ("500", "Application Insights"),
}


@pytest.mark.parametrize(("status", "message"), OTHER_FAILURES.values(), ids=OTHER_FAILURES.keys())
def test_postdeploy_says_what_to_do_for_each_kind_of_failure(
    shell: Shell, bin_dir: Path, tmp_path: Path, status: str, message: str
) -> None:
    _install_fakes(bin_dir)
    _azure(tmp_path, statuses=(status,), body="")

    run = _run(shell, "postdeploy", bin_dir, tmp_path, **HEALTHY_ONLY)

    assert run.code == 1
    assert f"answered {status} after 4 tries" in run.stderr
    assert message in run.stderr


def test_postdeploy_without_curl_fails_with_what_to_do(shell: Shell, bin_dir: Path, tmp_path: Path) -> None:
    _install_fakes(bin_dir, curl=False)

    run = _run(shell, "postdeploy", bin_dir, tmp_path, **HEALTHY_ONLY)

    assert run.code != 0
    assert "curl is needed" in run.stderr


# --- azure.yaml ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("hook", ["preprovision", "postdeploy"])
def test_azure_yaml_runs_each_hook_as_sh_on_posix_and_pwsh_on_windows(
    dumped: dict[str, Any], hook: str
) -> None:
    declared = dumped["azure_yaml"]["hooks"][hook]

    assert declared["posix"] == {"shell": "sh", "run": f"./infra/hooks/{hook}.sh", "continueOnError": False}
    assert declared["windows"] == {
        "shell": "pwsh",
        "run": f"./infra/hooks/{hook}.ps1",
        "continueOnError": False,
    }
    posix, windows = HOOKS / f"{hook}.sh", HOOKS / f"{hook}.ps1"
    assert posix.read_text(encoding="utf-8").startswith("#!/bin/sh\n")
    assert windows.read_text(encoding="utf-8").startswith("#!/usr/bin/env pwsh\n")
    assert posix.stat().st_mode & 0o111


def test_every_hook_file_is_declared_in_azure_yaml(dumped: dict[str, Any]) -> None:
    declared = {
        version["run"].removeprefix("./")
        for hook in dumped["azure_yaml"]["hooks"].values()
        for version in hook.values()
    }
    assert declared == {p.relative_to(REPO).as_posix() for p in HOOKS.iterdir()}


def test_azure_yaml_builds_the_app_remotely(dumped: dict[str, Any]) -> None:
    (service,) = dumped["azure_yaml"]["services"].values()

    assert service["remoteBuild"] is True
    assert (service["language"], service["host"]) == ("python", "function")


def test_azure_yaml_hands_every_template_variable_to_the_pipeline(dumped: dict[str, Any]) -> None:
    # azd pipeline config copies these into GitHub repository variables; the azd workflow sets the other two.
    parameters = (INFRA / "main.parameters.json").read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{(\w+)", parameters))

    assert dumped["azure_yaml"]["pipeline"]["provider"] == "github"
    # AZURE_PRINCIPAL_ID is azd's own: it is whoever runs azd (the pipeline's identity in CI).
    azd_sets = {"AZURE_ENV_NAME", "AZURE_LOCATION", "AZURE_PRINCIPAL_ID"}
    assert set(dumped["azure_yaml"]["pipeline"]["variables"]) == used - azd_sets
    assert "secrets" not in dumped["azure_yaml"]["pipeline"]
