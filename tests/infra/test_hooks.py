"""The azd hooks (infra/hooks/*.sh), run by `sh` against fake `az` and `azd` commands that record calls.

No Azure access is needed or attempted: PATH holds only the fakes and the few POSIX tools the hooks use.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.infra.conftest import INFRA

PREPROVISION = INFRA / "hooks" / "preprovision.sh"
POSTDEPLOY = INFRA / "hooks" / "postdeploy.sh"
ACS_ID = (
    "/subscriptions/0000/resourceGroups/rg-acs/providers/Microsoft.Communication/communicationServices/acs1"
)
TOOLS = ("awk", "tr", "base64", "sleep", "cat")

# A fake CLI: append its argv to $CALLS, then answer from files the test wrote.
#   az ... system-topic list  -> prints $FAKE/topics.tsv
#   az ... function show      -> fails until it has been called $FAKE/ready_after times
#   azd ...                   -> succeeds
FAKE_AZ = """#!/bin/sh
echo "az $*" >> "$CALLS"
case "$*" in
  *"system-topic list"*) cat "$FAKE/topics.tsv" ;;
  *"function show"*)
    n=$(( $(cat "$FAKE/show_count" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$FAKE/show_count"
    [ "$n" -ge "$(cat "$FAKE/ready_after")" ] ;;
esac
"""
FAKE_AZD = """#!/bin/sh
echo "azd $*" >> "$CALLS"
"""


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    calls: list[str]


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """A PATH directory with the POSIX tools the hooks use and nothing else (no real az or azd)."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found, f"{tool} not found"
        (tools / tool).symlink_to(found)
    (tools / "python3").symlink_to(sys.executable)
    return tools


def _install_fakes(bin_dir: Path, *, az: bool = True) -> None:
    fakes = {"azd": FAKE_AZD, **({"az": FAKE_AZ} if az else {})}
    for name, text in fakes.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)


def _run(script: Path, bin_dir: Path, tmp_path: Path, **env: str) -> Run:
    calls = tmp_path / "calls.log"
    calls.touch()
    proc = subprocess.run(  # noqa: S603 - fixed argv: /bin/sh and a hook script from the repository
        ["/bin/sh", str(script)],
        env={"PATH": str(bin_dir), "CALLS": str(calls), "FAKE": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr, calls.read_text().splitlines())


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --- preprovision -------------------------------------------------------------------------------------------


def test_preprovision_fails_with_the_fix_when_acs_resource_id_is_missing(
    bin_dir: Path, tmp_path: Path
) -> None:
    _install_fakes(bin_dir)
    run = _run(PREPROVISION, bin_dir, tmp_path)
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
    bin_dir: Path, tmp_path: Path, bad_id: str
) -> None:
    _install_fakes(bin_dir)
    run = _run(PREPROVISION, bin_dir, tmp_path, ACS_RESOURCE_ID=bad_id, ACS_SYSTEM_TOPIC_NAME="t")
    assert run.code != 0
    assert "is not a Communication Services resource id" in run.stderr


def test_preprovision_accepts_a_resource_id_in_any_letter_case(bin_dir: Path, tmp_path: Path) -> None:
    _install_fakes(bin_dir)
    run = _run(PREPROVISION, bin_dir, tmp_path, ACS_RESOURCE_ID=ACS_ID.lower(), ACS_SYSTEM_TOPIC_NAME="t")
    assert run.code == 0, run.stderr


def test_preprovision_rejects_an_unknown_auth_mode(bin_dir: Path, tmp_path: Path) -> None:
    _install_fakes(bin_dir)
    run = _run(
        PREPROVISION,
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
    bin_dir: Path, tmp_path: Path, env: dict[str, str], message: str
) -> None:
    _install_fakes(bin_dir)
    run = _run(PREPROVISION, bin_dir, tmp_path, ACS_RESOURCE_ID=ACS_ID, ACS_SYSTEM_TOPIC_NAME="t", **env)
    assert run.code != 0
    assert message in run.stderr


def test_preprovision_accepts_an_inline_policy_that_is_base64_json(bin_dir: Path, tmp_path: Path) -> None:
    _install_fakes(bin_dir)
    policy = _b64('{"version": 1, "rules": [], "default": {"action": "accept"}}')
    run = _run(
        PREPROVISION,
        bin_dir,
        tmp_path,
        ACS_RESOURCE_ID=ACS_ID,
        ACS_SYSTEM_TOPIC_NAME="t",
        OFFER_POLICY_B64=policy,
    )
    assert run.code == 0, run.stderr


def test_preprovision_adopts_the_resources_existing_system_topic(bin_dir: Path, tmp_path: Path) -> None:
    _install_fakes(bin_dir)
    (tmp_path / "topics.tsv").write_text(
        "other-topic\t/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1\n"
        f"acs1-portal-topic\t{ACS_ID.replace('resourceGroups', 'resourcegroups')}\n"
    )
    run = _run(PREPROVISION, bin_dir, tmp_path, ACS_RESOURCE_ID=ACS_ID)
    assert run.code == 0, run.stderr
    assert "azd env set ACS_SYSTEM_TOPIC_NAME acs1-portal-topic" in run.calls
    assert "az eventgrid system-topic list --subscription 0000 --query [].[name, source] -o tsv" in run.calls


def test_preprovision_creates_a_new_topic_when_the_resource_has_none(bin_dir: Path, tmp_path: Path) -> None:
    _install_fakes(bin_dir)
    (tmp_path / "topics.tsv").write_text("other\t/subscriptions/0000/resourceGroups/rg/providers/X/y/z\n")
    run = _run(PREPROVISION, bin_dir, tmp_path, ACS_RESOURCE_ID=ACS_ID)
    assert run.code == 0, run.stderr
    assert not any(c.startswith("azd") for c in run.calls)


def test_preprovision_keeps_a_system_topic_name_that_is_already_set(bin_dir: Path, tmp_path: Path) -> None:
    _install_fakes(bin_dir)
    run = _run(PREPROVISION, bin_dir, tmp_path, ACS_RESOURCE_ID=ACS_ID, ACS_SYSTEM_TOPIC_NAME="mine")
    assert run.code == 0, run.stderr
    assert run.calls == []


def test_preprovision_without_the_azure_cli_says_so_and_continues(bin_dir: Path, tmp_path: Path) -> None:
    _install_fakes(bin_dir, az=False)
    run = _run(PREPROVISION, bin_dir, tmp_path, ACS_RESOURCE_ID=ACS_ID)
    assert run.code == 0, run.stderr
    assert "Azure CLI not found" in run.stdout
    assert run.calls == []


# --- postdeploy ---------------------------------------------------------------------------------------------

DEPLOYED = {
    "AZURE_FUNCTION_APP_NAME": "func-abc",
    "AZURE_RESOURCE_GROUP": "rg-env",
    "FUNCTION_INDEX_WAIT_SECONDS": "0",
    "FUNCTION_INDEX_WAIT_TRIES": "5",
}
SHOW = "az functionapp function show --resource-group rg-env --name func-abc --function-name on_offer_issued"


def test_postdeploy_does_nothing_once_the_subscription_is_in_the_deployment(
    bin_dir: Path, tmp_path: Path
) -> None:
    _install_fakes(bin_dir)
    run = _run(POSTDEPLOY, bin_dir, tmp_path, EVENT_SUBSCRIPTION_ENABLED="true", **DEPLOYED)
    assert run.code == 0, run.stderr
    assert run.calls == []


def test_postdeploy_waits_for_the_function_then_provisions_the_subscription(
    bin_dir: Path, tmp_path: Path
) -> None:
    _install_fakes(bin_dir)
    (tmp_path / "ready_after").write_text("3")
    run = _run(POSTDEPLOY, bin_dir, tmp_path, **DEPLOYED)
    assert run.code == 0, run.stderr
    assert [c.split(" --query")[0] for c in run.calls] == [
        SHOW,
        SHOW,
        SHOW,
        "azd env set EVENT_SUBSCRIPTION_ENABLED true",
        "azd provision --no-prompt",
    ]


def test_postdeploy_gives_up_after_the_bounded_wait_with_the_manual_command(
    bin_dir: Path, tmp_path: Path
) -> None:
    _install_fakes(bin_dir)
    (tmp_path / "ready_after").write_text("99")
    run = _run(POSTDEPLOY, bin_dir, tmp_path, **DEPLOYED)
    assert run.code != 0
    assert "not indexed" in run.stderr
    assert "azd env set EVENT_SUBSCRIPTION_ENABLED true && azd provision" in run.stderr
    assert len(run.calls) == 5
    assert not any(c.startswith("azd") for c in run.calls)


def test_postdeploy_without_the_azure_cli_still_provisions_the_subscription(
    bin_dir: Path, tmp_path: Path
) -> None:
    _install_fakes(bin_dir, az=False)
    run = _run(POSTDEPLOY, bin_dir, tmp_path, **DEPLOYED)
    assert run.code == 0, run.stderr
    assert run.calls == ["azd env set EVENT_SUBSCRIPTION_ENABLED true", "azd provision --no-prompt"]


def test_postdeploy_explains_a_missing_provision_output(bin_dir: Path, tmp_path: Path) -> None:
    _install_fakes(bin_dir)
    run = _run(POSTDEPLOY, bin_dir, tmp_path, AZURE_RESOURCE_GROUP="rg-env")
    assert run.code != 0
    assert "AZURE_FUNCTION_APP_NAME is not set" in run.stderr


@pytest.mark.parametrize("script", [PREPROVISION, POSTDEPLOY], ids=["preprovision", "postdeploy"])
def test_hook_named_in_azure_yaml_is_an_executable_posix_script(script: Path) -> None:
    azure_yaml = (INFRA.parent / "azure.yaml").read_text(encoding="utf-8")
    assert f"run: ./infra/hooks/{script.name}" in azure_yaml
    assert script.read_text(encoding="utf-8").startswith("#!/bin/sh\n")
    assert script.stat().st_mode & 0o111
