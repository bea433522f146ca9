// serveWorker driven over real pipes: the test spawns the worker and plays the kernel (NDJSON).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { within } from '../testlib/helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));

class FakeKernel {
  constructor() {
    this.child = spawn(process.execPath, [path.join(here, '../testlib/fixtures/persistent-worker.mjs')], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, JOBKERNEL_HEARTBEAT_MS: '100' },
    });
    this.msgs = [];
    this.waiters = [];
    this.stderr = '';
    this.bad = [];
    let buf = '';
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.trim()) continue;
        let m;
        try {
          m = JSON.parse(line);
        } catch {
          this.bad.push(line);
          continue;
        }
        this.msgs.push(m);
        this._wake();
      }
    });
    this.child.stderr.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((r) => this.child.once('exit', (code) => r(code)));
  }
  _wake() {
    for (const w of this.waiters.splice(0)) w();
  }
  send(msg) {
    this.child.stdin.write(JSON.stringify(msg) + '\n');
  }
  /** Next message (removed from the inbox) that satisfies pred. */
  async expect(pred, ms = 5000, what = 'message') {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.msgs.findIndex(pred);
      if (i >= 0) return this.msgs.splice(i, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${ms} ms; inbox ${JSON.stringify(this.msgs)} stderr ${this.stderr}`);
      await new Promise((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => (clearTimeout(t), r()));
      });
    }
  }
  response(id) {
    return this.expect((m) => m.id === id && !('method' in m), 5000, `response ${id}`);
  }
  request(method) {
    return this.expect((m) => m.method === method && 'id' in m, 5000, `request ${method}`);
  }
}

const job = (id, payload) => ({ id, type: 'embed', status: 'running', payload });
let k;
before(() => {
  k = new FakeKernel();
});
after(async () => {
  k.child.stdin.end();
  const code = await within(5000, k.exited, 'worker exit on stdin EOF');
  assert.equal(code, 0);
  assert.deepEqual(k.bad, [], 'stdout carries only JSON-RPC');
});

test('run → progress/log calls → {result}', async () => {
  k.send({ jsonrpc: '2.0', id: 1, method: 'run', params: { job: job('7', { mode: 'echo' }), item: { index: 2, value: 'v' }, items: null } });
  const p = await k.request('progress');
  assert.deepEqual(p.params, { id: '7', current: 1, total: 2, phase: 'echo' });
  k.send({ jsonrpc: '2.0', id: p.id, result: { current: 1, total: 2, percent: 50, phase: 'echo', message: null } });
  const l = await k.request('log');
  assert.deepEqual(l.params, { id: '7', message: 'working', level: 'debug' });
  k.send({ jsonrpc: '2.0', id: l.id, result: { seq: 1 } });
  const r = await k.response(1);
  assert.deepEqual(r.result, {
    result: { echo: { mode: 'echo' }, item: { index: 2, value: 'v' }, progress: { current: 1, total: 2, percent: 50, phase: 'echo', message: null }, log: { seq: 1 } },
  });
});

test('cancel notification → the run answers -32800 and the handler is aborted', async () => {
  k.send({ jsonrpc: '2.0', id: 'r2', method: 'run', params: { job: job('8', { mode: 'slow' }), item: null, items: null } });
  await new Promise((r) => setTimeout(r, 100));
  k.send({ jsonrpc: '2.0', method: 'cancel', params: { job_id: '8' } });
  const r = await k.response('r2');
  assert.equal(r.error.code, -32800);
  assert.equal(r.error.data.reason, 'cancelled');
  const t0 = Date.now();
  while (!k.stderr.includes('aborted') && Date.now() - t0 < 2000) await new Promise((x) => setTimeout(x, 20));
  assert.match(k.stderr, /aborted/);
});

test('errors: retryable flag in data', async () => {
  k.send({ jsonrpc: '2.0', id: 3, method: 'run', params: { job: job('9', { mode: 'fail' }), item: null, items: null } });
  const r = await k.response(3);
  assert.equal(r.error.message, 'nope');
  assert.equal(r.error.data.retryable, false);
  k.send({ jsonrpc: '2.0', id: 4, method: 'run', params: { job: job('10', { mode: 'crash' }), item: null, items: null } });
  const r4 = await k.response(4);
  assert.equal(r4.error.message, 'boom');
  assert.equal(r4.error.data.retryable, true);
});

test('heartbeat notifications while the handler is quiet', async () => {
  k.msgs = k.msgs.filter((m) => m.method !== 'heartbeat');
  k.send({ jsonrpc: '2.0', id: 5, method: 'run', params: { job: job('11', { mode: 'quiet' }), item: null, items: null } });
  const hb = await k.expect((m) => m.method === 'heartbeat', 2000, 'heartbeat');
  assert.deepEqual(hb.params, { job_id: '11' });
  assert.equal('id' in hb, false, 'a notification');
  const r = await k.response(5);
  assert.deepEqual(r.result, { result: 'rested' });
  const beats = k.msgs.filter((m) => m.method === 'heartbeat').length;
  assert.ok(beats >= 1, `more heartbeats (${beats + 1} in 500 ms at 100 ms)`);
  k.msgs = k.msgs.filter((m) => m.method !== 'heartbeat');
});

test('batch → {items}; settings.get/enqueue from the worker; console.log kept off stdout', async () => {
  k.send({ jsonrpc: '2.0', id: 6, method: 'run', params: { job: job('12', { mode: 'batch' }), item: null, items: [{ index: 0, value: 1 }, { index: 1, value: 2 }] } });
  const r = await k.response(6);
  assert.deepEqual(r.result, { items: [{ index: 0, status: 'success', result: 10 }, { index: 1, status: 'success', result: 20 }] });

  k.send({ jsonrpc: '2.0', id: 7, method: 'run', params: { job: job('13', { mode: 'console' }), item: null, items: null } });
  const s = await k.request('settings.get');
  assert.deepEqual(s.params, { key: 'workflow.x' });
  k.send({ jsonrpc: '2.0', id: s.id, result: { 'workflow.x': false } });
  const e = await k.request('enqueue');
  assert.deepEqual(e.params, { type: 'child', payload: { from: '13' } });
  k.send({ jsonrpc: '2.0', id: e.id, error: { code: -32002, message: 'unknown type child', data: { reason: 'unknown_type', field: 'type' } } });
  const r7 = await k.response(7);
  // the kernel's error comes back typed and fails the unit with its code
  assert.equal(r7.error.code, -32002);
  assert.match(k.stderr, /stray output goes to stderr/);
});

test('unknown method → -32601; $/ notifications ignored', async () => {
  k.send({ jsonrpc: '2.0', method: '$/ping' });
  k.send({ jsonrpc: '2.0', id: 8, method: 'frobnicate', params: {} });
  const r = await k.response(8);
  assert.equal(r.error.code, -32601);
});

test('serveWorker under the real kernel pool: result, progress/log, cancel', async () => {
  const { startKernel } = await import('../testlib/helpers.js');
  const { Client } = await import('../src/index.js');
  const fixture = path.join(here, '../testlib/fixtures/persistent-worker.mjs');
  const kk = await startKernel({ config: `\n[types.pw]\nmode = "internal"\nworker = [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture)}]\n` });
  const c = await Client.connect({ socketPath: kk.socketPath, callTimeoutMs: 10000 });
  try {
    const { job } = await c.enqueue('pw', { mode: 'echo' });
    const done = await within(15000, job.wait({ timeoutMs: 14000 }), 'persistent echo');
    assert.equal(done.status, 'success');
    assert.deepEqual(done.result.echo, { mode: 'echo' });
    assert.equal(done.result.progress.percent, 50);
    const logs = await c.logs(job.id);
    assert.ok(logs.lines.some((l) => l.message === 'working' && l.level === 'debug'));

    const { job: slow } = await c.enqueue('pw', { mode: 'slow' });
    const sub = await c.subscribe({ ids: [slow.id], kinds: 'job.status' });
    if (sub.jobs[0].status !== 'running') {
      for (;;) {
        const { value } = await sub.next({ timeoutMs: 10000 });
        if (value.data.to === 'running') break;
      }
    }
    await sub.close();
    await c.cancel(slow.id);
    const fin = await within(15000, slow.wait({ timeoutMs: 14000 }), 'cancel');
    assert.equal(fin.status, 'cancelled');

    const { job: bad } = await c.enqueue('pw', { mode: 'fail' }, { max_attempts: 3 });
    const b = await within(15000, bad.wait({ timeoutMs: 14000 }), 'fail');
    assert.equal(b.status, 'failed');
    assert.equal(b.attempt, 1, 'retryable: false is not retried');
  } finally {
    await c.close();
    await kk.stop();
  }
});
