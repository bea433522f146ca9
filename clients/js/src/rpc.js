// A full-duplex JSON-RPC 2.0 peer over a readable/writable pair.
import { EventEmitter } from 'node:events';
import { encode, FrameDecoder } from './framing.js';
import { errorFromRpc, ConnectionClosedError, TimeoutError, JobkernelError } from './errors.js';

export class RpcPeer extends EventEmitter {
  /**
   * @param {object} o
   * @param {import('node:stream').Readable} o.readable
   * @param {import('node:stream').Writable} o.writable
   * @param {'ndjson'|'lsp'} [o.framing] framing of what we send ('ndjson')
   * @param {(method:string, params:any)=>any} [o.onRequest] answers requests from the peer
   */
  constructor({ readable, writable, framing = 'ndjson', onRequest } = {}) {
    super();
    this.readable = readable;
    this.writable = writable;
    this.framing = framing;
    this.onRequest = onRequest;
    this.nextId = 1;
    this.pending = new Map();
    this.closed = false;
    this.lastSendAt = 0;
    this.decoder = new FrameDecoder(
      (m) => this._onMessage(m),
      (err, raw) => this.emit('protocolError', err, raw),
      null,
    );
    this._onData = (chunk) => this.decoder.push(chunk);
    this._onEnd = () => this._close(new ConnectionClosedError());
    this._onErr = (err) => this._close(err);
    readable.on('data', this._onData);
    readable.on('end', this._onEnd);
    readable.on('close', this._onEnd);
    readable.on('error', this._onErr);
    if (writable !== readable) writable.on('error', this._onErr);
  }

  _write(msg) {
    if (this.closed) throw new ConnectionClosedError();
    this.lastSendAt = Date.now();
    this.writable.write(encode(msg, this.framing));
  }

  /**
   * Sends a request; resolves with its result, rejects with a typed JobkernelError.
   * `onResult` runs synchronously when the answer is read, before any later message is handled.
   */
  request(method, params, { timeoutMs = 0, onResult } = {}) {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new ConnectionClosedError());
      const id = this.nextId++;
      const entry = { resolve, reject, onResult, timer: null, method };
      if (timeoutMs > 0) {
        entry.timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new TimeoutError(`${method}: no answer within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.pending.set(id, entry);
      const msg = { jsonrpc: '2.0', id, method };
      if (params !== undefined) msg.params = params;
      try {
        this._write(msg);
      } catch (e) {
        this.pending.delete(id);
        if (entry.timer) clearTimeout(entry.timer);
        reject(e);
      }
    });
  }

  notify(method, params) {
    const msg = { jsonrpc: '2.0', method };
    if (params !== undefined) msg.params = params;
    this._write(msg);
  }

  _onMessage(msg) {
    if (Array.isArray(msg)) {
      for (const m of msg) this._onMessage(m);
      return;
    }
    if (!msg || typeof msg !== 'object') return this.emit('protocolError', new Error('not an object'), msg);
    if ('method' in msg) {
      if ('id' in msg) return this._answer(msg);
      if (typeof msg.method === 'string' && msg.method.startsWith('$/')) return;
      this.emit('notification', msg.method, msg.params);
      return;
    }
    if ('result' in msg || 'error' in msg) {
      const entry = msg.id === null || msg.id === undefined ? undefined : this.pending.get(msg.id);
      if (!entry) {
        this.emit('protocolError', msg.error ? errorFromRpc(msg.error) : new Error('unmatched response'), msg);
        return;
      }
      this.pending.delete(msg.id);
      if (entry.timer) clearTimeout(entry.timer);
      if ('error' in msg && msg.error) {
        entry.reject(errorFromRpc(msg.error));
      } else {
        if (entry.onResult) {
          try {
            entry.onResult(msg.result);
          } catch (e) {
            return entry.reject(e);
          }
        }
        entry.resolve(msg.result);
      }
    }
  }

  async _answer(msg) {
    const reply = (body) => {
      if (this.closed) return;
      try {
        this._write({ jsonrpc: '2.0', id: msg.id, ...body });
      } catch {
        /* closed meanwhile */
      }
    };
    if (typeof msg.method === 'string' && msg.method.startsWith('$/')) {
      return reply({ error: { code: -32601, message: `method ${msg.method} not found`, data: { reason: 'method_not_found' } } });
    }
    if (!this.onRequest) {
      return reply({ error: { code: -32601, message: `method ${msg.method} not found`, data: { reason: 'method_not_found' } } });
    }
    try {
      const result = await this.onRequest(msg.method, msg.params, msg.id);
      reply({ result: result === undefined ? null : result });
    } catch (e) {
      reply({ error: rpcErrorBody(e) });
    }
  }

  _close(err) {
    if (this.closed) return;
    this.closed = true;
    this.readable.off('data', this._onData);
    for (const [, entry] of this.pending) {
      if (entry.timer) clearTimeout(entry.timer);
      entry.reject(new ConnectionClosedError(`connection closed before the answer to ${entry.method}`));
    }
    this.pending.clear();
    this.emit('close', err);
  }

  /** Closes our side; pending calls reject with ConnectionClosedError. */
  close() {
    this._close(new ConnectionClosedError());
  }
}

/** Error object to send for a thrown value. */
export function rpcErrorBody(e) {
  if (e instanceof JobkernelError) {
    return { code: e.code, message: e.message, ...(e.data !== undefined ? { data: e.data } : {}) };
  }
  const data = { reason: (e && e.reason) || 'handler_error', retryable: !(e && e.retryable === false) };
  if (e && e.data !== undefined) data.detail = e.data;
  return {
    code: e && Number.isInteger(e.code) ? e.code : -32000,
    message: (e && e.message) || String(e),
    data,
  };
}
