"""Typed errors: one class per JSON-RPC error code of docs/promises.md §4, plus transport errors."""

from typing import Any, Dict, Optional, Type

__all__ = [
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
    "JobFailed",
    "error_from_response",
]


class JobkernelError(Exception):
    """An error answered by the kernel (a JSON-RPC error object).

    ``code`` is the JSON-RPC code, ``message`` the kernel's message and ``data`` the error's
    ``data`` member (a dict with at least ``reason``; ``{}`` when absent).
    """

    code = 0  # type: int

    def __init__(self, code: int, message: str, data: Optional[Dict[str, Any]] = None):
        super().__init__(code, message, data)
        self.code = code
        self.message = message
        self.data = data if isinstance(data, dict) else ({} if data is None else {"value": data})

    @property
    def reason(self) -> Optional[str]:
        return self.data.get("reason")

    @property
    def field(self) -> Optional[str]:
        return self.data.get("field")

    def to_error(self) -> Dict[str, Any]:
        """The JSON-RPC error object this exception stands for."""
        err = {"code": self.code, "message": self.message}  # type: Dict[str, Any]
        if self.data:
            err["data"] = self.data
        return err

    def __str__(self) -> str:
        extra = ""
        if self.data:
            extra = " " + ", ".join("%s=%r" % kv for kv in sorted(self.data.items()))
        return "[%d] %s%s" % (self.code, self.message, extra)

    def __repr__(self) -> str:
        return "%s(%d, %r, %r)" % (type(self).__name__, self.code, self.message, self.data)


def _make(name: str, code: int, doc: str) -> Type[JobkernelError]:
    def __init__(self, message: Optional[str] = None, data: Optional[Dict[str, Any]] = None, code: int = code):
        JobkernelError.__init__(self, code, message if message is not None else doc, data)

    return type(name, (JobkernelError,), {"code": code, "__doc__": doc, "__init__": __init__})


ParseError = _make("ParseError", -32700, "parse error")
InvalidRequest = _make("InvalidRequest", -32600, "invalid request, too large or too deep")
MethodNotFound = _make("MethodNotFound", -32601, "method not found")
InvalidParams = _make("InvalidParams", -32602, "invalid params")
InternalError = _make("InternalError", -32603, "internal error")
JobNotFound = _make("JobNotFound", -32001, "job not found")
UnknownType = _make("UnknownType", -32002, "unknown job type")
IdempotencyConflict = _make("IdempotencyConflict", -32003, "idempotency key reused with different parameters")
InvalidState = _make("InvalidState", -32004, "not allowed in the job's current status")
LeaseExpired = _make("LeaseExpired", -32005, "lease unknown or expired")
CursorExpired = _make("CursorExpired", -32006, "since is older than the retained event log")
Unavailable = _make("Unavailable", -32007, "kernel shutting down or over a limit")
RequestCancelled = _make("RequestCancelled", -32800, "request cancelled")

ERRORS_BY_CODE = {
    cls.code: cls
    for cls in (
        ParseError,
        InvalidRequest,
        MethodNotFound,
        InvalidParams,
        InternalError,
        JobNotFound,
        UnknownType,
        IdempotencyConflict,
        InvalidState,
        LeaseExpired,
        CursorExpired,
        Unavailable,
        RequestCancelled,
    )
}  # type: Dict[int, Type[JobkernelError]]


def error_from_response(err: Any) -> JobkernelError:
    """Builds the typed exception for a JSON-RPC error object."""
    if not isinstance(err, dict):
        return InternalError("malformed error object: %r" % (err,))
    code = err.get("code")
    message = err.get("message") or ""
    data = err.get("data")
    cls = ERRORS_BY_CODE.get(code) if isinstance(code, int) else None
    if cls is None:
        return JobkernelError(code if isinstance(code, int) else 0, message, data)
    return cls(message, data)


class TransportError(ConnectionError):
    """The connection to the kernel could not be made or was lost."""


class NoKernel(TransportError):
    """No kernel answers on the socket."""

    def __init__(self, path: str, cause: Optional[BaseException] = None):
        self.path = path
        self.cause = cause
        msg = (
            "no jobkernel answers on %s (%s); start one with `jobkernel serve` "
            "(or `jobkernel serve --socket %s`), or set JOBKERNEL_SOCKET" % (path, cause or "not reachable", path)
        )
        super().__init__(msg)


class ConnectionLost(TransportError):
    """The connection closed while a request was outstanding or a subscription was live."""


class JobFailed(Exception):
    """Raised by ``Job.wait(raise_on_failure=True)`` when the job ended in a status other than
    ``success``. ``job`` is the final job object; ``status`` and ``error`` come from it."""

    def __init__(self, job: Dict[str, Any]):
        self.job = job
        self.status = job.get("status")
        self.error = job.get("error")
        message = (self.error or {}).get("message") if isinstance(self.error, dict) else None
        super().__init__("job %s ended %s%s" % (job.get("id"), self.status, ": " + message if message else ""))
