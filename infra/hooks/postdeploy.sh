#!/bin/sh
# azd postdeploy hook: create the Event Grid subscription once the function exists.
# Event Grid validates an AzureFunction endpoint when the subscription is created, and on the first `azd up`
# the function only exists after the package is deployed and indexed. So the first provision runs with
# EVENT_SUBSCRIPTION_ENABLED=false; this hook waits (bounded) until the host has indexed on_offer_issued, turns
# the flag on and provisions again. Later `azd up` / `azd provision` runs keep the subscription in the template.
set -eu

if [ "${EVENT_SUBSCRIPTION_ENABLED:-false}" = "true" ]; then
  echo "postdeploy: the Event Grid subscription is already part of the deployment; nothing to do"
  exit 0
fi

app="${AZURE_FUNCTION_APP_NAME:?postdeploy: AZURE_FUNCTION_APP_NAME is not set (run azd provision first)}"
group="${AZURE_RESOURCE_GROUP:?postdeploy: AZURE_RESOURCE_GROUP is not set (run azd provision first)}"
function_name="${AZURE_FUNCTION_NAME:-on_offer_issued}"
tries="${FUNCTION_INDEX_WAIT_TRIES:-30}"
delay="${FUNCTION_INDEX_WAIT_SECONDS:-10}"

if command -v az >/dev/null 2>&1; then
  attempt=1
  until az functionapp function show --resource-group "$group" --name "$app" --function-name "$function_name" \
    --query name -o tsv >/dev/null 2>&1; do
    if [ "$attempt" -ge "$tries" ]; then
      echo "postdeploy: $function_name is not indexed in $app after $tries checks; check the deployment logs, then run: azd env set EVENT_SUBSCRIPTION_ENABLED true && azd provision" >&2
      exit 1
    fi
    attempt=$((attempt + 1))
    sleep "$delay"
  done
  echo "postdeploy: $function_name is indexed in $app"
else
  echo "postdeploy: Azure CLI not found; not waiting for the function to be indexed (if the next step fails, run azd provision again in a minute)"
fi

azd env set EVENT_SUBSCRIPTION_ENABLED true
azd provision --no-prompt
