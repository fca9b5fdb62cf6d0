#!/bin/sh
# azd postdeploy hook (postdeploy.ps1 does the same on Windows). After every `azd deploy` / `azd up`:
#
# 1. First deploy only: create the Event Grid subscription. Event Grid validates an AzureFunction endpoint when
#    the subscription is created, so it can exist only once the host has indexed on_offer_issued; provision
#    therefore runs with EVENT_SUBSCRIPTION_ENABLED=false the first time. This hook waits (bounded) for the
#    function, then deploys infra/app/events.bicep once more, as ONE `az deployment group create` into the
#    Communication Services resource group, with the parameters the last provision gave that module (read from
#    its deployment record) and createEventSubscription=true. It then sets EVENT_SUBSCRIPTION_ENABLED=true, so
#    later provisions keep the subscription in the template.
# 2. Every deploy: GET https://<app host>/api/health with the app's default function key (header
#    x-functions-key). 200 is healthy; anything else, after a bounded wait, fails the deploy with the failing
#    checks and what to do. The key is never printed and never put on a command line: curl reads it from stdin.
set -eu

fail() {
  echo "postdeploy: $*" >&2
  exit 1
}

app="${AZURE_FUNCTION_APP_NAME:?postdeploy: AZURE_FUNCTION_APP_NAME is not set (run azd provision first)}"
group="${AZURE_RESOURCE_GROUP:?postdeploy: AZURE_RESOURCE_GROUP is not set (run azd provision first)}"
function_name="${AZURE_FUNCTION_NAME:-on_offer_issued}"
tries="${FUNCTION_INDEX_WAIT_TRIES:-30}"
delay="${FUNCTION_INDEX_WAIT_SECONDS:-10}"
health_tries="${HEALTH_CHECK_TRIES:-12}"
health_delay="${HEALTH_CHECK_WAIT_SECONDS:-10}"
# The name main.bicep gives the events module's deployment, and the module's parameters it passes.
events_deployment=events
events_template="$(dirname "$0")/../app/events.bicep"
events_parameters="communicationServicesName systemTopicName tags eventGridIdentityId eventSubscriptionName
  functionAppId functionName eventDeliverySchema eventTimeToLiveInMinutes maxDeliveryAttempts
  deadLetterStorageAccountId deadLetterContainerName"

command -v az >/dev/null 2>&1 \
  || fail "the Azure CLI (az) is needed to create the event subscription and check the app's health: install it, run az login, then run: azd hooks run postdeploy"
command -v curl >/dev/null 2>&1 || fail "curl is needed to call the app's health endpoint: install it, then run: azd hooks run postdeploy"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# --- 1. the event subscription (first deploy only) -----------------------------------------------------------
if [ "${EVENT_SUBSCRIPTION_ENABLED:-false}" = "true" ]; then
  echo "postdeploy: the Event Grid subscription is already part of the deployment"
else
  acs_id="${ACS_RESOURCE_ID:?postdeploy: ACS_RESOURCE_ID is not set (azd env set ACS_RESOURCE_ID ...)}"
  acs_group="${ACS_RESOURCE_GROUP:?postdeploy: ACS_RESOURCE_GROUP is not set (run azd provision first)}"
  acs_subscription=$(printf '%s' "$acs_id" | awk -F/ '{ print $3 }')

  attempt=1
  until az functionapp function show --resource-group "$group" --name "$app" --function-name "$function_name" \
    --query name -o tsv >/dev/null 2>&1; do
    if [ "$attempt" -ge "$tries" ]; then
      fail "$function_name is not indexed in $app after $tries checks; check the deployment logs (a failed remote build of requirements.txt?), then run: azd hooks run postdeploy"
    fi
    attempt=$((attempt + 1))
    sleep "$delay"
  done
  echo "postdeploy: $function_name is indexed in $app"

  query=""
  for name in $events_parameters; do
    query="${query:+$query, }$name: {value: properties.parameters.$name.value}"
  done
  az deployment group show --subscription "$acs_subscription" --resource-group "$acs_group" \
    --name "$events_deployment" --query "{$query}" -o json >"$scratch/parameters.json" \
    || fail "cannot read the '$events_deployment' deployment in $acs_group that azd provision made; run azd provision, then: azd hooks run postdeploy"
  az deployment group create --subscription "$acs_subscription" --resource-group "$acs_group" \
    --name "$events_deployment" --template-file "$events_template" \
    --parameters "@$scratch/parameters.json" --parameters createEventSubscription=true \
    --only-show-errors -o none \
    || fail "the event subscription could not be created (the error is above); fix it, then run: azd hooks run postdeploy"
  azd env set EVENT_SUBSCRIPTION_ENABLED true
  echo "postdeploy: created the Event Grid subscription for $function_name"
fi

# --- 2. the health check (every deploy) ------------------------------------------------------------------------
host=$(az functionapp show --resource-group "$group" --name "$app" --query defaultHostName -o tsv) \
  || fail "cannot read the host name of $app"
key=$(az functionapp keys list --resource-group "$group" --name "$app" --query functionKeys.default -o tsv) \
  || fail "cannot list the function keys of $app (the signed-in identity needs Contributor or Website Contributor on it)"
[ -n "$key" ] || fail "$app has no default function key; create one with az functionapp keys set, then run: azd hooks run postdeploy"
url="https://$host/api/health"

attempt=1
while :; do
  status=$(printf 'header = "x-functions-key: %s"\n' "$key" \
    | curl --silent --show-error --config - --output "$scratch/body" --write-out '%{http_code}' --max-time 30 \
      "$url" 2>"$scratch/curl-error") || status=000
  [ "$status" = 200 ] && break
  [ "$attempt" -ge "$health_tries" ] && break
  attempt=$((attempt + 1))
  sleep "$health_delay"
done

if [ "$status" = 200 ]; then
  echo "postdeploy: $url answered 200: healthy"
  exit 0
fi

{
  echo "postdeploy: the app is NOT healthy: GET $url answered $status after $attempt tries."
  case "$status" in
    503)
      echo "The checks it reported:"
      cat "$scratch/body"
      echo
      echo "What to do:"
      echo "  - Right after the first deployment, Job Router checks fail with 401/403 until the new role assignment"
      echo "    propagates (5-10 minutes): wait, then run: azd hooks run postdeploy"
      echo "  - If they keep failing, switch to the access-key path:"
      echo "    azd env set JOBROUTER_AUTH accessKey && azd provision && azd deploy"
      echo "  - Any other failing check names the app setting to fix (docs/deploy.md)."
      ;;
    401 | 403)
      echo "The function key was refused. Run azd hooks run postdeploy again; if it persists, check the app's keys with az functionapp keys list."
      ;;
    404)
      echo "The deployed app has no health function: run azd deploy again, and check the deployment logs."
      ;;
    000)
      echo "The app could not be reached: $(cat "$scratch/curl-error")"
      echo "Check that $app is running (az functionapp show --query state), then run: azd hooks run postdeploy"
      ;;
    *)
      cat "$scratch/body"
      echo
      echo "Check the app's logs in Application Insights, then run: azd hooks run postdeploy"
      ;;
  esac
} >&2
exit 1
