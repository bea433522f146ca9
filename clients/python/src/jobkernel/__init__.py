"""jobkernel — Python client for the jobkernel job-dispatch kernel (JSON-RPC 2.0 over a Unix
socket or a spawned ``jobkernel serve --stdio``)."""

from . import errors as _errors
from .errors import *  # noqa: F401,F403 — every error class (errors.__all__)
from .client import TERMINAL_STATUSES, UNSET, Client, Event, Job, Subscription, default_binary, default_socket_path
from .aio import AsyncClient, AsyncJob, AsyncSubscription
from .worker import Cancelled, Items, PermanentError, PullWorker, Run, Task
from . import worker

__version__ = "0.1.0"

__all__ = [
    "Client",
    "AsyncClient",
    "Job",
    "AsyncJob",
    "Subscription",
    "AsyncSubscription",
    "Event",
    "PullWorker",
    "Task",
    "Run",
    "Items",
    "PermanentError",
    "Cancelled",
    "worker",
    "TERMINAL_STATUSES",
    "UNSET",
    "default_socket_path",
    "default_binary",
]
# The error classes, listed once in errors.__all__.
__all__ += [name for name in _errors.__all__ if name != "error_from_response"]
