"""A function app the worker refuses to index: arg_name does not match the parameter name."""

import azure.functions as func

app = func.FunctionApp()


@app.event_grid_trigger(arg_name="evt")
def mismatched(event: func.EventGridEvent) -> None:
    """The decorator says "evt", the parameter says "event"."""
