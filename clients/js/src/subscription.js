// A resumable subscription: an async iterator of `event` params, each event once, in seq order.
import { ConnectionClosedError, TimeoutError } from './errors.js';

export class Subscription {
  constructor(client, filters = {}, { maxBuffered = 10000 } = {}) {
    this.client = client;
    const { since, ...rest } = filters;
    this.filters = rest;
    this.id = null; // current kernel subscription id (changes on resume)
    this.seq = null; // seq of the first subscribe result
    this.jobs = undefined; // snapshots of the first subscribe result (when ids given)
    this.lastSeq = null; // seq of the last event received (or the starting point)
    this.resumes = 0; // how many times the subscription was re-established
    this.maxBuffered = maxBuffered;
    this._queue = [];
    this._waiters = [];
    this._ended = false;
    this._error = null;
    this._resuming = false;
    this._overflow = false;
  }

  async _start(since) {
    const params = { ...this.filters };
    if (since !== undefined && since !== null) params.since = since;
    const first = this.seq === null;
    await this.client.call('subscribe', params, {
      onResult: (r) => {
        // runs before any event that follows the answer is dispatched
        if (this._ended) return;
        this.id = r.subscription;
        this.client._subs.set(r.subscription, this);
        if (first) {
          this.seq = r.seq;
          this.jobs = r.jobs;
          this.lastSeq = since ?? r.seq;
        }
      },
    });
    if (this._ended && this.id !== null) this._unsubscribeQuietly(this.id);
  }

  _onEvent(ev) {
    if (this._ended || this._overflow) return;
    if (this.lastSeq !== null && ev.seq <= this.lastSeq) return; // replay overlap
    if (this._queue.length >= this.maxBuffered) {
      // The consumer is too slow: stop taking events and catch up later with `since`.
      this._overflow = true;
      const id = this.id;
      this.client._subs.delete(id);
      this._unsubscribeQuietly(id);
      return;
    }
    this.lastSeq = ev.seq;
    const w = this._waiters.shift();
    if (w) w.resolve({ value: ev, done: false });
    else this._queue.push(ev);
  }

  _onDropped() {
    this._resume();
  }

  async _resume() {
    if (this._ended) return;
    if (this._resuming) {
      // e.g. the new subscription was dropped again before its answer was processed
      this._resumeAgain = true;
      return;
    }
    this._resuming = true;
    this._resumeAgain = false;
    this.id = null;
    try {
      await this._start(this.lastSeq);
      this.resumes++;
      // a drop (or disconnect) seen while subscribing: go again from the last event seen
      if (this._resumeAgain && (this.id === null || !this.client._subs.has(this.id))) {
        this._resuming = false;
        return this._resume();
      }
    } catch (e) {
      if (e instanceof ConnectionClosedError && !this.client.closed) {
        // the client reconnects and calls _resume again
      } else {
        this._fail(e);
      }
    } finally {
      this._resuming = false;
    }
  }

  _unsubscribeQuietly(id) {
    if (id === null || id === undefined) return;
    this.client.call('unsubscribe', { subscription: id }).catch(() => {});
  }

  _fail(e) {
    if (this._ended) return;
    this._error = e;
    this._ended = true;
    this.client._allSubs.delete(this);
    for (const w of this._waiters.splice(0)) w.reject(e);
  }

  _end() {
    if (this._ended) return;
    this._ended = true;
    this.client._allSubs.delete(this);
    if (this.id !== null) this.client._subs.delete(this.id);
    for (const w of this._waiters.splice(0)) w.resolve({ value: undefined, done: true });
  }

  /** Next event; `timeoutMs` > 0 rejects with TimeoutError (the subscription goes on). */
  next({ timeoutMs = 0 } = {}) {
    if (this._queue.length) {
      const value = this._queue.shift();
      if (!this._queue.length && this._overflow && !this._ended) {
        this._overflow = false;
        this._resume();
      }
      return Promise.resolve({ value, done: false });
    }
    if (this._error) return Promise.reject(this._error);
    if (this._ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      const w = { resolve, reject };
      if (timeoutMs > 0) {
        const timer = setTimeout(() => {
          const i = this._waiters.indexOf(w);
          if (i >= 0) this._waiters.splice(i, 1);
          reject(new TimeoutError(`no event within ${timeoutMs} ms`));
        }, timeoutMs);
        w.resolve = (v) => (clearTimeout(timer), resolve(v));
        w.reject = (e) => (clearTimeout(timer), reject(e));
      }
      this._waiters.push(w);
    });
  }

  /** Ends the iteration and unsubscribes. */
  async close() {
    const id = this.id;
    this._end();
    if (id !== null && this.client.peer && !this.client.peer.closed) {
      try {
        await this.client.peer.request('unsubscribe', { subscription: id }, { timeoutMs: 5000 });
      } catch {
        /* gone already */
      }
    }
  }

  async return() {
    await this.close();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator]() {
    return this;
  }
}
