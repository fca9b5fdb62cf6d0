"""A function app with HTTP and timer triggers, for testing the host stand-in's serving of them."""

import json

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.route(route="items/{item_id}", methods=["GET", "POST"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    """Echoes what the worker bound: method, route parameter, query, a header and the body."""
    body = {
        "method": req.method,
        "item_id": req.route_params.get("item_id"),
        "query": dict(req.params),
        "header": req.headers.get("x-test"),
        "body": req.get_body().decode(),
    }
    return func.HttpResponse(json.dumps(body), status_code=201, mimetype="application/json")


@app.route(route="ping", auth_level=func.AuthLevel.ANONYMOUS)
def ping(req: func.HttpRequest) -> str:
    """A plain string return: the host answers 200 with it as text."""
    return "pong"


@app.route(route="boom", auth_level=func.AuthLevel.ANONYMOUS)
def boom(req: func.HttpRequest) -> func.HttpResponse:
    """Raises: the host answers 500 with an empty body."""
    raise RuntimeError("asked to fail")


@app.timer_trigger(schedule="* * * * * *", arg_name="timer", run_on_startup=True, use_monitor=False)
def tick(timer: func.TimerRequest) -> None:
    """Every second (and once at start-up); fails unless bound to a TimerRequest as the worker does."""
    if not isinstance(timer, func.TimerRequest) or timer.past_due:
        raise RuntimeError(f"unexpected timer argument {timer!r}")
    if "Next" not in timer.schedule_status:  # type: ignore[attr-defined] # the worker sets it; not in the stubs
        raise RuntimeError("no schedule status")
