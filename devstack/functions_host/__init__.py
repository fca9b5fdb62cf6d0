"""A stand-in for the Azure Functions host's Event Grid webhook (``python -m devstack.functions_host``).

It runs ``function_app.py`` the way Azure does for a Python 3.13 app: indexed and invoked through the
pinned worker library (``devstack.functions_worker``), served over the host's HTTP contract
(``POST /runtime/webhooks/eventgrid?functionName=NAME``). See docs/functions-host.md.
"""

from devstack.functions_host.host import FunctionsHost, HostNotStartedError, InvocationRecord
from devstack.functions_host.settings import (
    AppliedSettings,
    SettingsError,
    apply_settings,
    load_settings_file,
)

__all__ = [
    "AppliedSettings",
    "FunctionsHost",
    "HostNotStartedError",
    "InvocationRecord",
    "SettingsError",
    "apply_settings",
    "load_settings_file",
]
