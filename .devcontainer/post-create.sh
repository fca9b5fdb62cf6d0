#!/usr/bin/env bash
# Runs once when the dev container is created: the project's venv and test tools, then the Functions host
# (Core Tools 4) and Azurite from npm. Core Tools' npm package downloads the host from Microsoft's CDN
# while installing, which works here (a dev container has internet access) but not on offline machines.
set -euo pipefail
cd "$(dirname "$0")/.."

make venv venv-infra tools
npm install --global --no-audit --no-fund azure-functions-core-tools@4 azurite@3
[ -f local.settings.json ] || cp local.settings.sample.json local.settings.json

echo
echo "Ready: func --version $(func --version), azd $(azd version | head -n 1), $(az version --query '"azure-cli"' -o tsv | sed 's/^/az /')"
echo "Run the real host: azurite --silent --skipApiVersionCheck --disableTelemetry --location .azurite &  then  func start"
echo "Or press F5 (Attach to Python Functions). Tests: make test. Policy checks: make check-policies."
