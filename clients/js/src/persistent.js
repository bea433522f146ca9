// Persistent worker side of the worker protocol (docs/promises.md §5.2) on stdin/stdout (NDJSON).
import { RpcPeer } from './rpc.js';
import { RequestCancelledError, JobkernelError } from './errors.js';

/**
 * Serves `run` requests from the kernel with `handler(ctx)`.
 * ctx: {job, item, items, signal, progress(p), log(message, level), enqueue(params),
 *       settingsGet(key), heartbeat()}
 * A single unit's return value is answered as {"result": value}; for a batch (items non-null)
 * return the array of {index, status, result?, error?} (or {items: [...]}) . A throw answers a
 * JSON-RPC error (retryable unless err.retryable === false). The `cancel` notification aborts
 * ctx.signal and answers the run with -32800 at once. While a run is in hand a `heartbeat`
 * notification goes out whenever nothing else was sent for heartbeatMs.
 *
 * @param {(ctx)=>any} handler
 * @param {object} [o] {input=process.stdin, output=process.stdout, heartbeatMs, redirectConsole}
 * @returns {{peer: RpcPeer, done: Promise<void>, close(): void}}
 */
export function serveWorker(handler, o = {}) {
  const input = o.input || process.stdin;
  const output = o.output || process.stdout;
  const heartbeatMs = o.heartbeatMs ?? Number(process.env.JOBKERNEL_HEARTBEAT_MS || 2000);
  if ((o.redirectConsole ?? output === process.stdout)) {
    // stdout is the protocol channel: keep stray console output off it
    console.log = console.info = console.debug = (...a) => console.error(...a);
  }
  let current = null;
  const peer = new RpcPeer({
    readable: input,
    writable: output,
    framing: 'ndjson',
    onRequest: (method, params) => {
      if (method === 'run') return run(params || {});
      throw new JobkernelError(-32601, `method ${method} not found`, { reason: 'method_not_found' });
    },
  });

  function run({ job, item = null, items = null }) {
    if (current) {
      throw new JobkernelError(-32603, 'a run is already in hand', { reason: 'internal', retryable: true });
    }
    const ac = new AbortController();
    let settle;
    const answer = new Promise((resolve, reject) => (settle = { resolve, reject }));
    const unit = { job, ac, settle, done: false };
    current = unit;
    const hb = setInterval(() => {
      if (Date.now() - peer.lastSendAt >= heartbeatMs * 0.9 && !peer.closed) {
        try {
          peer.notify('heartbeat', { job_id: job.id });
        } catch {}
      }
    }, Math.max(10, heartbeatMs / 2));
    const finish = () => {
      unit.done = true;
      clearInterval(hb);
      if (current === unit) current = null;
    };
    unit.finish = finish;
    const ctx = {
      job,
      item,
      items,
      signal: ac.signal,
      progress: (p = {}) => peer.request('progress', { id: job.id, ...p }),
      log: (message, level) => peer.request('log', level ? { id: job.id, message, level } : { id: job.id, message }),
      enqueue: (params) => peer.request('enqueue', params),
      settingsGet: (key) => peer.request('settings.get', key === undefined ? {} : { key }),
      heartbeat: () => peer.notify('heartbeat', { job_id: job.id }),
    };
    Promise.resolve()
      .then(() => handler(ctx))
      .then(
        (value) => {
          if (unit.done) return;
          finish();
          if (items) settle.resolve({ items: Array.isArray(value) ? value : value && value.items });
          else settle.resolve({ result: value === undefined ? null : value });
        },
        (err) => {
          if (unit.done) return;
          finish();
          settle.reject(err);
        },
      );
    return answer;
  }

  peer.on('notification', (method, params) => {
    if (method === 'cancel' && current && (!params || params.job_id === undefined || String(params.job_id) === String(current.job.id))) {
      const unit = current;
      unit.finish();
      unit.ac.abort(new RequestCancelledError(-32800, 'cancelled', { reason: 'cancelled' }));
      unit.settle.reject(new RequestCancelledError(-32800, 'request cancelled', { reason: 'cancelled' }));
    }
  });

  const done = new Promise((resolve) => peer.once('close', () => {
    if (current) {
      current.ac.abort(new Error('kernel closed the worker channel'));
      current.finish();
    }
    resolve();
  }));
  return { peer, done, close: () => peer.close() };
}
