"""jobkernel — Python client for the jobkernel job-dispatch kernel (JSON-RPC 2.0 over a Unix
socket or a spawned ``jobkernel serve --stdio``)."""

from .errors import (
    ConnectionLost,
    CursorExpired,
    IdempotencyConflict,
    InternalError,
    InvalidParams,
    InvalidRequest,
    InvalidState,
    JobkernelError,
    JobNotFound,
    LeaseExpired,
    MethodNotFound,
    NoKernel,
    ParseError,
    RequestCancelled,
    TransportError,
    Unavailable,
    UnknownType,
)
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
    "JobkernelError",
    "ParseError",
    "InvalidRequest",
    "MethodNotFound",
    "InvalidParams",
    "InternalError",
    "JobNotFound",
    "UnknownType",
    "IdempotencyConflict",
    "InvalidState",
    "LeaseExpired",
    "CursorExpired",
    "Unavailable",
    "RequestCancelled",
    "TransportError",
    "NoKernel",
    "ConnectionLost",
]
