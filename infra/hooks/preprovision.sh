#!/bin/sh
# azd preprovision hook: check the inputs Bicep cannot check, before anything is deployed.
#   - ACS_RESOURCE_ID must be the id of a Communication Services resource.
#   - JOBROUTER_AUTH, if set, must be managedIdentity or accessKey.
#   - OFFER_POLICY_B64, if set, must be base64 of a JSON document, and not be set with OFFER_POLICY_FILE
#     (the app refuses both at once; failing here saves a deployment).
#   - A Communication Services resource may have only ONE Event Grid system topic. If ACS_SYSTEM_TOPIC_NAME is
#     unset and the Azure CLI can see an existing topic for the resource, adopt it instead of failing later.
# Everything here is read-only except `azd env set ACS_SYSTEM_TOPIC_NAME`.
set -eu

fail() {
  echo "preprovision: $*" >&2
  exit 1
}

acs_id="${ACS_RESOURCE_ID:-}"
[ -n "$acs_id" ] || fail "ACS_RESOURCE_ID is not set. Run: azd env set ACS_RESOURCE_ID /subscriptions/<subscription-id>/resourceGroups/<group>/providers/Microsoft.Communication/communicationServices/<name>"

acs_id_lower=$(printf '%s' "$acs_id" | tr '[:upper:]' '[:lower:]')
segments=$(printf '%s' "$acs_id" | awk -F/ '{ print NF }')
case "$acs_id_lower" in
  /subscriptions/*/resourcegroups/*/providers/microsoft.communication/communicationservices/*) ;;
  *) segments=0 ;;
esac
[ "$segments" -eq 9 ] || fail "ACS_RESOURCE_ID is not a Communication Services resource id (expected /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Communication/communicationServices/<name>): $acs_id"

case "${JOBROUTER_AUTH:-managedIdentity}" in
  managedIdentity | accessKey) ;;
  *) fail "JOBROUTER_AUTH must be managedIdentity or accessKey, not '${JOBROUTER_AUTH}'" ;;
esac

if [ -n "${OFFER_POLICY_B64:-}" ] && [ -n "${OFFER_POLICY_FILE:-}" ]; then
  fail "set OFFER_POLICY_B64 or OFFER_POLICY_FILE, not both (clear one with: azd env set OFFER_POLICY_FILE \"\")"
fi

if [ -n "${OFFER_POLICY_B64:-}" ]; then
  printf '%s' "$OFFER_POLICY_B64" | base64 -d >/dev/null 2>&1 \
    || fail "OFFER_POLICY_B64 is not valid base64 (set it with: azd env set OFFER_POLICY_B64 \"\$(base64 -w0 policy.json)\")"
  if command -v python3 >/dev/null 2>&1; then
    printf '%s' "$OFFER_POLICY_B64" | base64 -d | python3 -c 'import json, sys; json.load(sys.stdin)' 2>/dev/null \
      || fail "OFFER_POLICY_B64 does not decode to a JSON document"
  fi
fi

if [ -z "${ACS_SYSTEM_TOPIC_NAME:-}" ]; then
  if command -v az >/dev/null 2>&1; then
    subscription=$(printf '%s' "$acs_id" | awk -F/ '{ print $3 }')
    # Resource ids compare case-insensitively; JMESPath cannot lower-case, so filter here.
    existing=$(az eventgrid system-topic list --subscription "$subscription" --query "[].[name, source]" -o tsv 2>/dev/null \
      | awk -F '\t' -v want="$acs_id_lower" 'tolower($2) == want { print $1; exit }') || existing=""
    if [ -n "$existing" ]; then
      echo "preprovision: adopting the existing Event Grid system topic '$existing' of the Communication Services resource"
      azd env set ACS_SYSTEM_TOPIC_NAME "$existing"
    fi
  else
    echo "preprovision: Azure CLI not found; assuming the Communication Services resource has no Event Grid system topic yet (set ACS_SYSTEM_TOPIC_NAME if it has one)"
  fi
fi
