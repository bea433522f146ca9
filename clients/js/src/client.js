// jobkernel client: Unix socket or a spawned `serve --stdio`, promise calls, subscriptions.
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn as spawnProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { RpcPeer } from './rpc.js';
import { NoKernelError, ConnectionClosedError, TimeoutError, JobFailedError } from './errors.js';

/** One job id, a job object, or an array of either → an array of id strings. */
function ids(v) {
  const list = Array.isArray(v) ? v : [v];
  return list.map((x) => String(typeof x === 'object' && x !== null ? x.id : x));
}
import { Subscription } from './subscription.js';

export const TERMINAL_STATUSES = Object.freeze(['success', 'partial_success', 'failed', 'cancelled', 'skipped']);
export const isTerminal = (status) => TERMINAL_STATUSES.includes(status);

/** `$JOBKERNEL_SOCKET`, else `$JOBKERNEL_HOME/kernel.sock`, else `~/.local/state/jobkernel/kernel.sock`. */
export function defaultSocketPath(env = process.env) {
  if (env.JOBKERNEL_SOCKET) return env.JOBKERNEL_SOCKET;
  const home = env.JOBKERNEL_HOME || path.join(os.homedir(), '.local', 'state', 'jobkernel');
  return path.join(home, 'kernel.sock');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function openSocket(socketPath, timeoutMs) {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection({ path: socketPath });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new NoKernelError(socketPath, Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.removeAllListeners('error');
      resolve(sock);
    });
    sock.once('error', (err) => {
      clearTimeout(timer);
      reject(new NoKernelError(socketPath, err));
    });
  });
}

export class Client extends EventEmitter {
  /** Use Client.connect() or Client.spawn(). */
  constructor(opts = {}) {
    super();
    this.opts = opts;
    this.framing = opts.framing || 'ndjson';
    this.peer = null;
    this.closed = false;
    this._subs = new Map(); // subscription id → Subscription
    this._allSubs = new Set();
    this._ready = null; // promise while (re)connecting
    this.process = null;
  }

  /**
   * Connects to a kernel's Unix socket.
   * @param {object} [o]
   * @param {string} [o.socketPath] default: defaultSocketPath()
   * @param {'ndjson'|'lsp'} [o.framing] 'ndjson'
   * @param {boolean} [o.reconnect] reconnect (and resume subscriptions) after a disconnect; true
   * @param {number} [o.reconnectTimeoutMs] give up reconnecting after this long; 30000
   * @param {number} [o.connectTimeoutMs] 5000
   * @param {number} [o.callTimeoutMs] default per-call timeout; 0 = none
   * @param {{name:string, version?:string}} [o.clientInfo] sent with `initialize`
   */
  static async connect(o = {}) {
    const socketPath = o.socketPath || defaultSocketPath();
    const c = new Client({ reconnect: true, reconnectTimeoutMs: 30000, connectTimeoutMs: 5000, ...o, socketPath });
    c._openTransport = async () => {
      const sock = await openSocket(socketPath, c.opts.connectTimeoutMs);
      return { readable: sock, writable: sock, destroy: () => sock.destroy(), socket: sock };
    };
    await c._connect();
    return c;
  }

  /**
   * Spawns `binary args…` (default args: `serve --stdio`) and talks to it over its stdin/stdout
   * with Content-Length framing, as an editor extension would. No reconnect: when the process
   * exits the client is closed. close() ends stdin, the kernel shuts down gracefully.
   * @param {string} [binary] 'jobkernel'
   * @param {string[]} [args] ['serve', '--stdio']
   * @param {object} [o] {framing='lsp', stderr='inherit'|'ignore'|'pipe', env, cwd, clientInfo, callTimeoutMs}
   */
  static async spawn(binary = 'jobkernel', args = ['serve', '--stdio'], o = {}) {
    const c = new Client({ framing: 'lsp', ...o, reconnect: false });
    c._openTransport = async () => {
      const child = spawnProcess(binary, args, {
        stdio: ['pipe', 'pipe', o.stderr || 'inherit'],
        env: o.env || process.env,
        cwd: o.cwd,
      });
      await new Promise((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
      child.stdin.on('error', () => {});
      c.process = child;
      c.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
      return { readable: child.stdout, writable: child.stdin, destroy: () => child.kill('SIGKILL'), child };
    };
    await c._connect();
    return c;
  }

  async _connect() {
    const t = await this._openTransport();
    this.transport = t;
    const peer = new RpcPeer({ readable: t.readable, writable: t.writable, framing: this.framing });
    this.peer = peer;
    peer.on('notification', (method, params) => this._onNotification(method, params));
    peer.on('protocolError', (err, raw) => this.emit('protocolError', err, raw));
    peer.on('close', (err) => this._onPeerClose(peer, err));
    if (this.opts.clientInfo) await peer.request('initialize', { client: this.opts.clientInfo });
  }

  _onNotification(method, params) {
    if (method === 'event') {
      const sub = params && this._subs.get(params.subscription);
      if (sub) sub._onEvent(params);
      this.emit('event', params);
    } else if (method === 'subscription.dropped') {
      const sub = params && this._subs.get(params.subscription);
      if (sub) {
        this._subs.delete(params.subscription);
        sub._onDropped(params);
      }
      this.emit('subscription.dropped', params);
    } else {
      this.emit('notification', method, params);
    }
  }

  _onPeerClose(peer, err) {
    if (peer !== this.peer) return;
    this._subs.clear();
    this.emit('disconnect', err);
    if (this.closed) return;
    if (!this.opts.reconnect) {
      this.closed = true;
      for (const s of this._allSubs) s._fail(new ConnectionClosedError('kernel connection closed'));
      this.emit('close');
      return;
    }
    this._ready = this._reconnectLoop();
    this._ready.then(
      () => {
        this._ready = null;
        this.emit('reconnect');
        for (const s of this._allSubs) s._resume();
      },
      (e) => {
        this._ready = null;
        this.closed = true;
        for (const s of this._allSubs) s._fail(e);
        this.emit('close', e);
      },
    );
    this._ready.catch(() => {});
  }

  async _reconnectLoop() {
    const deadline = Date.now() + (this.opts.reconnectTimeoutMs ?? 30000);
    let delay = 50;
    for (;;) {
      if (this.closed) throw new ConnectionClosedError('client closed');
      try {
        await this._connect();
        return;
      } catch (e) {
        if (Date.now() + delay > deadline) throw e;
        await sleep(delay);
        delay = Math.min(delay * 2, 1000);
      }
    }
  }

  /** Resolves once connected (immediately unless a reconnect is under way). */
  async ready() {
    if (this._ready) await this._ready;
    if (this.closed) throw new ConnectionClosedError('client closed');
  }

  /**
   * Raw JSON-RPC call. Rejects with a typed JobkernelError subclass, ConnectionClosedError or
   * TimeoutError. `opts.onResult` runs synchronously when the answer is read.
   */
  async call(method, params, opts = {}) {
    await this.ready();
    const timeoutMs = opts.timeoutMs ?? this.opts.callTimeoutMs ?? 0;
    return this.peer.request(method, params, { timeoutMs, onResult: opts.onResult });
  }

  /** Sends a notification. */
  async notify(method, params) {
    await this.ready();
    this.peer.notify(method, params);
  }

  /** Closes the connection (for a spawned kernel: ends its stdin and waits for it to exit). */
  async close({ timeoutMs = 5000 } = {}) {
    if (this.closed && !this.peer) return;
    this.closed = true;
    for (const s of this._allSubs) s._end();
    const t = this.transport;
    if (this.process) {
      try {
        this.process.stdin.end();
      } catch {}
      const timer = setTimeout(() => this.process.kill('SIGKILL'), timeoutMs);
      const r = await this.exited;
      clearTimeout(timer);
      if (this.peer) this.peer.close();
      return r;
    }
    if (this.peer) this.peer.close();
    if (t) t.destroy();
  }

  // ---- convenience methods (docs/promises.md §6) ----

  initialize(client) {
    return this.call('initialize', client ? { client } : {});
  }

  /**
   * enqueue(type, payload?, options?) or enqueue({type, ...}). Resolves to {job, duplicate};
   * `job` also has non-enumerable methods wait(), cancel(), refresh().
   */
  async enqueue(type, payload, options = {}) {
    const params = typeof type === 'object' ? { ...type } : { type, ...options };
    if (typeof type !== 'object' && payload !== undefined) params.payload = payload;
    // run_at may be a Date; after may be one id, a job, or an array of either.
    if (params.run_at instanceof Date) params.run_at = params.run_at.toISOString();
    if (params.after !== undefined) params.after = ids(params.after);
    const r = await this.call('enqueue', params);
    this.bindJob(r.job);
    return r;
  }

  /** Adds wait()/cancel()/refresh() (non-enumerable) to a job object. */
  bindJob(job) {
    const client = this;
    Object.defineProperties(job, {
      wait: { value: (opts) => client.wait(job.id, opts), enumerable: false, configurable: true },
      itemResults: { value: (opts) => client.allItems(job.id, opts), enumerable: false, configurable: true },
      remove: { value: () => client.remove(job.id), enumerable: false, configurable: true },
      cancel: { value: (reason) => client.cancel(job.id, reason), enumerable: false, configurable: true },
      refresh: { value: () => client.get(job.id), enumerable: false, configurable: true },
    });
    return job;
  }

  async get(id) {
    return this.bindJob(await this.call('get', { id }));
  }
  list(filters = {}) {
    return this.call('list', filters);
  }
  /** Async iterator over every job matching the filters, following next_cursor. */
  async *listAll(filters = {}) {
    let cursor;
    do {
      const page = await this.list(cursor ? { ...filters, cursor } : filters);
      for (const j of page.jobs) yield j;
      cursor = page.next_cursor;
    } while (cursor);
  }
  cancel(id, reason) {
    return this.call('cancel', reason === undefined ? { id } : { id, reason });
  }
  retry(id) {
    return this.call('retry', { id });
  }
  /** progress(id, {current, total, phase, message, item}) */
  progress(id, p = {}) {
    return this.call('progress', { id, ...p });
  }
  log(id, message, level) {
    return this.call('log', level ? { id, message, level } : { id, message });
  }
  logs(id, { since, limit } = {}) {
    const p = { id };
    if (since !== undefined) p.since = since;
    if (limit !== undefined) p.limit = limit;
    return this.call('logs', p);
  }
  /** items(id, {status, since, limit}) → one page {items, next} of per-item results (docs/promises.md §13). */
  items(id, { status, since, limit } = {}) {
    const p = { id };
    if (status !== undefined) p.status = status;
    if (since !== undefined) p.since = since;
    if (limit !== undefined) p.limit = limit;
    return this.call('items', p);
  }
  /** Every item of the job (optionally of one status), following `next`. */
  async allItems(id, { status } = {}) {
    const out = [];
    let since;
    do {
      const page = await this.items(id, { status, since });
      out.push(...page.items);
      since = page.next ?? undefined;
    } while (since !== undefined);
    return out;
  }
  /** remove(idOrIds) → how many finished jobs went (descendants included). */
  async remove(idOrIds) {
    return (await this.call('remove', { ids: ids(idOrIds) })).removed;
  }
  /** clean({status, type, older_than_s}) → how many went; answered when the kernel is done. */
  async clean(filters = {}, { timeoutMs = 0 } = {}) {
    return (await this.call('clean', filters, { timeoutMs })).removed;
  }
  /** pause(type?) / resume(type?) → the settings; resume() without a type resumes everything. */
  pause(type) {
    return this.call('pause', type === undefined ? {} : { type });
  }
  resume(type) {
    return this.call('resume', type === undefined ? {} : { type });
  }

  /** settingsGet() → every toggle; settingsGet(key) → {key: value} */
  settingsGet(key) {
    return this.call('settings.get', key === undefined ? {} : { key });
  }
  settingsSet(key, value) {
    return this.call('settings.set', { key, value });
  }
  stats() {
    return this.call('stats', {});
  }
  schedules() {
    return this.call('schedules', {});
  }
  shutdown() {
    return this.call('shutdown', {});
  }
  discover() {
    return this.call('rpc.discover', {});
  }
  /** fetch({types, max, wait_s, lease_s}) → {leases}; waits up to wait_s (+10 s client slack). */
  fetch(params) {
    const waitS = Number(params.wait_s || 0);
    return this.call('fetch', params, { timeoutMs: waitS > 0 ? (waitS + 10) * 1000 : undefined });
  }
  ack(lease, result) {
    return this.call('ack', result === undefined ? { lease } : { lease, result });
  }
  nack(lease, error, retryable) {
    const p = { lease, error };
    if (retryable !== undefined) p.retryable = retryable;
    return this.call('nack', p);
  }
  extend(lease, lease_s) {
    return this.call('extend', lease_s === undefined ? { lease } : { lease, lease_s });
  }

  /**
   * Subscribes; resolves to a Subscription, an async iterator of `event` params that survives
   * disconnects and `subscription.dropped` by resubscribing with `since` (each event once, in
   * seq order). filters: {ids?, types?, kinds?, since?}
   */
  async subscribe(filters = {}) {
    const sub = new Subscription(this, filters);
    this._allSubs.add(sub);
    try {
      await sub._start(filters.since);
    } catch (e) {
      this._allSubs.delete(sub);
      throw e;
    }
    return sub;
  }

  /**
   * Waits until the job is terminal; resolves to the final job (whatever its status, unless
   * `raiseOnFailure`: then a job that did not end in success rejects with JobFailedError).
   * Uses the `jobs` snapshot of `subscribe {ids}` so no transition is missed.
   */
  async wait(id, { timeoutMs = 0, raiseOnFailure = false } = {}) {
    const job = await this._wait(id, { timeoutMs });
    if (raiseOnFailure && job.status !== 'success') throw new JobFailedError(job);
    return job;
  }

  async _wait(id, { timeoutMs = 0 } = {}) {
    const sub = await this.subscribe({ ids: [id], kinds: ['job.status'] });
    const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : 0;
    try {
      const snap = sub.jobs && sub.jobs[0];
      if (snap && isTerminal(snap.status)) return this.bindJob(snap);
      for (;;) {
        const left = deadline ? deadline - Date.now() : 0;
        if (deadline && left <= 0) throw new TimeoutError(`job ${id} not terminal within ${timeoutMs} ms`);
        const r = await sub.next({ timeoutMs: left });
        if (r.done) throw new ConnectionClosedError(`subscription for job ${id} ended`);
        const ev = r.value;
        if (ev.kind === 'job.status' && isTerminal(ev.data.to)) return this.bindJob(ev.data.job);
      }
    } finally {
      sub.close().catch(() => {});
    }
  }
}
