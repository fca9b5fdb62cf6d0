"""No secret is written into deployment files, none leaves through an output, and storage takes no keys."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.infra.bicep import Template
from tests.infra.conftest import INFRA, REPO

# What a leaked credential looks like in a template, a parameters file or a hook.
SECRET_PATTERNS = {
    "connection-string access key": re.compile(r"(?i)accesskey=(?!\.\.\.|<|\$\{)[A-Za-z0-9+/=]{8,}"),
    "storage account key": re.compile(r"(?i)accountkey=(?!\.\.\.|<|\$\{)[A-Za-z0-9+/=]{8,}"),
    "SAS token": re.compile(r"(?i)(sharedaccesssignature=|[?&]sig=[A-Za-z0-9%+/=]{8,})"),
    "function key in a URL": re.compile(r"(?i)[?&]code=[A-Za-z0-9_\-=]{8,}"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "JWT": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\."),
    # 40+ base64 characters with at least 4 digits: keys are random; resource type paths have no digits.
    "long base64 blob": re.compile(
        r"(?<![A-Za-z0-9+/])(?=(?:[A-Za-z+/]*\d){4})[A-Za-z0-9+/]{40,}={0,2}(?![A-Za-z0-9+/])"
    ),
}
DEPLOY_FILES = sorted(
    [p for p in INFRA.rglob("*") if p.is_file() and p.suffix in {".bicep", ".json", ".sh", ".yaml"}]
    + [REPO / "azure.yaml", REPO / "docs" / "deploy.md"]
)
DEPLOY_IDS = [p.relative_to(REPO).as_posix() for p in DEPLOY_FILES]


def _walk(tree: Any) -> Iterator[dict[str, Any]]:
    if isinstance(tree, dict):
        yield tree
        for value in tree.values():
            yield from _walk(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _walk(value)


def _list_calls(tree: Any) -> list[str]:
    """Names of ``resource.listXxx()`` calls (listKeys, listSecrets, listConnectionStrings...)."""
    return [
        node["operator"]["operands"]["func_name"]
        for node in _walk(tree)
        if isinstance(node.get("operator"), dict)
        and node["operator"].get("type") == "function_accessor"
        and str(node["operator"]["operands"].get("func_name", "")).lower().startswith("list")
    ]


@pytest.mark.parametrize("name", sorted(SECRET_PATTERNS), ids=sorted(SECRET_PATTERNS))
def test_secret_patterns_recognise_what_they_are_for(name: str) -> None:
    # The scan below proves nothing if a pattern cannot match a real leak.
    examples = {
        "connection-string access key": "endpoint=https://x.communication.azure.com/;accesskey=c2VjcmV0LWtleQ==",
        "storage account key": "DefaultEndpointsProtocol=https;AccountName=st;AccountKey=c2VjcmV0LWtleQ==",
        "SAS token": "https://st.blob.core.windows.net/c?sv=2022-11-02&sig=abcdEFGH1234%3D",
        "function key in a URL": "https://f.azurewebsites.net/runtime/webhooks/eventgrid?functionName=f&code=abcdEFGH1234",
        "private key": "-----BEGIN RSA PRIVATE KEY-----",
        "JWT": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig",
        "long base64 blob": "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9w",
    }
    assert SECRET_PATTERNS[name].search(examples[name])


@pytest.mark.parametrize("path", DEPLOY_FILES, ids=DEPLOY_IDS)
def test_no_secret_literal_in_deployment_files(path: Any) -> None:
    text = path.read_text(encoding="utf-8")
    leaks = [(name, m.group(0)[:12] + "...") for name, p in SECRET_PATTERNS.items() for m in p.finditer(text)]
    assert leaks == [], f"{path.name}: looks like a secret: {leaks}"


def test_no_secure_parameter_has_a_default(templates: dict[str, Template]) -> None:
    for template in templates.values():
        for name in template.parameters:
            if template.decorator(name, "secure"):
                assert template.param_default(name) is None, (
                    f"{template.path}: @secure() {name} has a default"
                )


def test_no_output_exposes_a_key(templates: dict[str, Template]) -> None:
    for template in templates.values():
        for name, output in template.outputs.items():
            assert _list_calls(output) == [], f"{template.path}: output {name} calls a list* function"


def test_keys_are_read_once_and_only_into_the_key_vault_secret(templates: dict[str, Template]) -> None:
    calls = {path: _list_calls(t.raw) for path, t in templates.items()}
    assert {path: c for path, c in calls.items() if c} == {"infra/app/keyvault.bicep": ["listKeys"]}
    (secret,) = templates["infra/app/keyvault.bicep"].resources_of_type("Microsoft.KeyVault/vaults/secrets")
    assert _list_calls(secret.body) == ["listKeys"]


def test_parameters_file_holds_only_azd_environment_references() -> None:
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    for name, entry in parameters.items():
        assert re.fullmatch(r"\$\{[A-Z][A-Z0-9_]*(=[^}]*)?\}", entry["value"]), (
            f"{name}: literal value in the parameters file"
        )


def test_storage_account_takes_no_shared_keys(templates: dict[str, Template]) -> None:
    storage = templates["infra/app/storage.bicep"]
    (account,) = storage.resources_of_type("Microsoft.Storage/storageAccounts")
    props = account.properties
    assert props["allowSharedKeyAccess"] is False
    assert props["defaultToOAuthAuthentication"] is True
    assert props["allowBlobPublicAccess"] is False
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["supportsHttpsTrafficOnly"] is True
    for container in storage.resources_of_type("Microsoft.Storage/storageAccounts/blobServices/containers"):
        assert container.properties["publicAccess"] == "None"
