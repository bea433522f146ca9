// Typed errors for jobkernel JSON-RPC answers (docs/promises.md §4).

export class JobkernelError extends Error {
  /**
   * @param {number} code JSON-RPC error code
   * @param {string} message
   * @param {object|undefined} data error data ({reason, field?, job_id?, status?, ...})
   */
  constructor(code, message, data) {
    super(message);
    this.name = this.constructor.name;
    this.code = code;
    this.data = data;
  }
  /** data.reason, e.g. "not_found" */
  get reason() {
    return this.data && this.data.reason;
  }
}

export class ParseError extends JobkernelError {}
export class InvalidRequestError extends JobkernelError {}
export class MethodNotFoundError extends JobkernelError {}
export class InvalidParamsError extends JobkernelError {}
export class InternalError extends JobkernelError {}
export class NotFoundError extends JobkernelError {}
export class UnknownTypeError extends JobkernelError {}
export class IdempotencyConflictError extends JobkernelError {}
export class InvalidStateError extends JobkernelError {}
export class LeaseExpiredError extends JobkernelError {}
export class CursorExpiredError extends JobkernelError {}
export class UnavailableError extends JobkernelError {}
export class RequestCancelledError extends JobkernelError {}

/** Code → class, one per docs/promises.md §4 row. */
export const ERROR_CLASSES = Object.freeze({
  [-32700]: ParseError,
  [-32600]: InvalidRequestError,
  [-32601]: MethodNotFoundError,
  [-32602]: InvalidParamsError,
  [-32603]: InternalError,
  [-32001]: NotFoundError,
  [-32002]: UnknownTypeError,
  [-32003]: IdempotencyConflictError,
  [-32004]: InvalidStateError,
  [-32005]: LeaseExpiredError,
  [-32006]: CursorExpiredError,
  [-32007]: UnavailableError,
  [-32800]: RequestCancelledError,
});

/** Builds the typed error for a JSON-RPC error object `{code, message, data?}`. */
export function errorFromRpc(err) {
  const code = err && typeof err.code === 'number' ? err.code : -32603;
  const message = (err && err.message) || `JSON-RPC error ${code}`;
  const Cls = ERROR_CLASSES[code] || JobkernelError;
  return new Cls(code, message, err ? err.data : undefined);
}

/** No kernel answers at the socket (the CLI's exit code 3). */
export class NoKernelError extends Error {
  constructor(socketPath, cause) {
    super(
      `no jobkernel answers at ${socketPath}` +
        (cause && cause.code ? ` (${cause.code})` : '') +
        `; start one with: jobkernel serve --socket ${socketPath}`,
    );
    this.name = 'NoKernelError';
    this.socketPath = socketPath;
    this.cause = cause;
  }
}

/** The connection closed before the answer to a call arrived. */
export class ConnectionClosedError extends Error {
  constructor(message = 'connection to jobkernel closed') {
    super(message);
    this.name = 'ConnectionClosedError';
  }
}

/** A client-side time limit passed (call timeout, wait timeout). */
export class TimeoutError extends Error {
  constructor(message = 'timed out') {
    super(message);
    this.name = 'TimeoutError';
  }
}

/** Throw from a Worker/serveWorker handler to fail a unit; `retryable: false` fails it for good. */
export class UnitError extends Error {
  constructor(message, { retryable = true, code, data } = {}) {
    super(message);
    this.name = 'UnitError';
    this.retryable = retryable;
    if (code !== undefined) this.code = code;
    if (data !== undefined) this.data = data;
  }
}

/** wait({raiseOnFailure: true}) on a job that ended other than `success`; `.job` is the final job. */
export class JobFailedError extends Error {
  constructor(job) {
    const msg = job.error && job.error.message ? `: ${job.error.message}` : '';
    super(`job ${job.id} ended ${job.status}${msg}`);
    this.name = 'JobFailedError';
    this.job = job;
    this.status = job.status;
  }
}
