// Pull worker for async_api types (docs/promises.md §5.4): fetch long-poll, auto-extend, ack/nack.
import { EventEmitter } from 'node:events';
import { LeaseExpiredError, ConnectionClosedError } from './errors.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Worker extends EventEmitter {
  /**
   * @param {import('./client.js').Client} client
   * @param {object} o
   * @param {string|string[]} o.types async_api types to fetch
   * @param {(ctx)=>any} o.handler gets {lease, job, item, attempt, expires_at, signal,
   *   progress(p), log(message, level)}; its return value is acked as the result, a throw is
   *   nacked (retryable unless err.retryable === false). When the lease is lost (-32005 from
   *   extend, e.g. the job was cancelled) `signal` aborts and the outcome is dropped.
   * @param {number} [o.concurrency] units in hand at once (1)
   * @param {number} [o.waitS] fetch long-poll seconds (5)
   * @param {number} [o.leaseS] lease length in seconds (30)
   * @param {number} [o.extendEveryMs] extend period (leaseS/3)
   */
  constructor(client, { types, handler, concurrency = 1, waitS = 5, leaseS = 30, extendEveryMs } = {}) {
    super();
    if (!types || typeof handler !== 'function') throw new TypeError('Worker needs types and handler');
    this.client = client;
    this.types = types;
    this.handler = handler;
    this.concurrency = concurrency;
    this.waitS = waitS;
    this.leaseS = leaseS;
    this.extendEveryMs = extendEveryMs ?? Math.max(100, (leaseS * 1000) / 3);
    this.inflight = new Set();
    this.stopping = false;
    this.done = null;
    this.stats = { acked: 0, nacked: 0, lost: 0 };
  }

  /** Starts the loop; resolves when stopped and every unit in hand has settled. */
  start() {
    if (!this.done) this.done = this._loop();
    return this.done;
  }

  /** Stops fetching (the long-poll in flight ends within waitS) and waits for units in hand. */
  async stop() {
    this.stopping = true;
    if (this.done) await this.done;
  }

  async _loop() {
    let backoff = 100;
    while (!this.stopping) {
      const free = this.concurrency - this.inflight.size;
      if (free <= 0) {
        await Promise.race(this.inflight);
        continue;
      }
      let leases;
      try {
        ({ leases } = await this.client.fetch({ types: this.types, max: free, wait_s: this.waitS, lease_s: this.leaseS }));
        backoff = 100;
      } catch (e) {
        if (this.stopping || this.client.closed) break;
        this.emit('error', e);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 5000);
        continue;
      }
      for (const l of leases) {
        const p = this._unit(l).finally(() => this.inflight.delete(p));
        this.inflight.add(p);
      }
    }
    await Promise.allSettled([...this.inflight]);
  }

  async _unit(l) {
    const ac = new AbortController();
    const client = this.client;
    const lost = (e) => {
      if (!ac.signal.aborted) {
        this.stats.lost++;
        ac.abort(e);
        this.emit('lost', l, e);
      }
    };
    const timer = setInterval(async () => {
      try {
        await client.extend(l.lease, this.leaseS);
      } catch (e) {
        if (e instanceof LeaseExpiredError || e instanceof ConnectionClosedError) lost(e);
      }
    }, this.extendEveryMs);
    const ctx = {
      lease: l.lease,
      job: l.job,
      item: l.item,
      attempt: l.attempt,
      expires_at: l.expires_at,
      signal: ac.signal,
      progress: (p) => client.progress(l.job.id, p),
      log: (message, level) => client.log(l.job.id, message, level),
    };
    try {
      let result, failure;
      try {
        result = await this.handler(ctx);
      } catch (e) {
        failure = e;
      }
      clearInterval(timer);
      if (ac.signal.aborted) return;
      try {
        if (failure) {
          const error = { message: (failure && failure.message) || String(failure) };
          if (failure && failure.code !== undefined) error.code = failure.code;
          if (failure && failure.data !== undefined) error.data = failure.data;
          await client.nack(l.lease, error, !(failure && failure.retryable === false));
          this.stats.nacked++;
          this.emit('nack', l, failure);
        } else {
          await client.ack(l.lease, result === undefined ? null : result);
          this.stats.acked++;
          this.emit('ack', l, result);
        }
      } catch (e) {
        if (e instanceof LeaseExpiredError) lost(e);
        else this.emit('error', e);
      }
    } finally {
      clearInterval(timer);
    }
  }
}
