"""A Python (v2 model) function app that Job Router rules call, served by the host stand-in in the tests.

``get_priority`` is Microsoft's "GetPriority" sample in Python: the job's ``urgent`` label decides the
priority. ``score_workers`` scores best-worker candidates by their ``Skill`` label, one worker (``worker``)
or a batch (``workers``) per call. Sources:
https://learn.microsoft.com/azure/communication-services/how-tos/router-sdk/azure-function,
https://learn.microsoft.com/azure/communication-services/how-tos/router-sdk/customize-worker-scoring.
"""

import json

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.route(route="priority", methods=["POST"])
def get_priority(req: func.HttpRequest) -> func.HttpResponse:
    """10 for an urgent job, else 5."""
    job = req.get_json()["job"]
    priority = 10 if job.get("urgent") is True else 5
    return func.HttpResponse(json.dumps(priority), mimetype="application/json")


@app.route(route="score", methods=["POST"])
def score_workers(req: func.HttpRequest) -> func.HttpResponse:
    """The worker's Skill label as its score; for a batch, the list of them in the order sent."""
    payload = req.get_json()
    if "workers" in payload:
        scores: object = [worker.get("Skill", 0) for worker in payload["workers"]]
    else:
        scores = payload["worker"].get("Skill", 0)
    return func.HttpResponse(json.dumps(scores), mimetype="application/json")
