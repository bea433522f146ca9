import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  Client, defaultSocketPath, JobkernelError, NotFoundError, UnknownTypeError, InvalidParamsError,
  InvalidStateError, IdempotencyConflictError, MethodNotFoundError, LeaseExpiredError, NoKernelError,
  InvalidRequestError, CursorExpiredError, UnavailableError, RequestCancelledError, ParseError,
  InternalError, ERROR_CLASSES, errorFromRpc,
} from '../src/index.js';
import { startKernel, within, tempDir } from '../testlib/helpers.js';

let k, c;
before(async () => {
  k = await startKernel({ config: '\n[workflow]\npublishing = true\nauto_publish = false\n' });
  c = await Client.connect({ socketPath: k.socketPath, callTimeoutMs: 10000, clientInfo: { name: 'js-test', version: '1' } });
});
after(async () => {
  await c?.close();
  await k?.stop();
});

test('enqueue, get, list, cancel, retry', async () => {
  const { job, duplicate } = await c.enqueue('remote', { n: 1 }, { priority: 7 });
  assert.equal(duplicate, false);
  assert.match(job.id, /^\d+$/);
  assert.equal(job.status, 'pending');
  assert.equal(job.priority, 7);
  assert.equal(job.created_by, 'js-test');
  assert.deepEqual(JSON.parse(JSON.stringify(job)).payload, { n: 1 });
  assert.equal(typeof job.wait, 'function');

  const got = await c.get(job.id);
  assert.equal(got.id, job.id);
  assert.deepEqual(got.payload, { n: 1 });

  const { job: j2 } = await c.enqueue({ type: 'remote', items: ['a', 'b'] });
  assert.equal(j2.items.total, 2);
  const page = await c.list({ type: 'remote', limit: 1 });
  assert.equal(page.jobs.length, 1);
  assert.equal(page.jobs[0].id, j2.id, 'newest first');
  assert.ok(page.next_cursor);
  const all = [];
  for await (const j of c.listAll({ type: 'remote', limit: 1 })) all.push(j.id);
  assert.ok(all.includes(job.id) && all.includes(j2.id));

  const cancelled = await c.cancel(job.id, 'superseded');
  assert.equal(cancelled.status, 'cancelled');
  assert.equal(cancelled.error.message, 'superseded');
  const again = await job.cancel();
  assert.equal(again.status, 'cancelled', 'terminal job returned unchanged');
  const retried = await c.retry(job.id);
  assert.equal(retried.status, 'pending');
  await c.cancel(retried.id);
  await c.cancel(j2.id);
  const final = await within(5000, job.wait({ timeoutMs: 4000 }), 'wait');
  assert.equal(final.status, 'cancelled');
});

test('idempotency: duplicate and conflict', async () => {
  const a = await c.enqueue('remote', { x: 1 }, { idempotency_key: 'k1' });
  const b = await c.enqueue('remote', { x: 1 }, { idempotency_key: 'k1' });
  assert.equal(b.duplicate, true);
  assert.equal(b.job.id, a.job.id);
  await assert.rejects(c.enqueue('remote', { x: 2 }, { idempotency_key: 'k1' }), (e) => {
    assert.ok(e instanceof IdempotencyConflictError);
    assert.equal(e.code, -32003);
    assert.equal(e.data.job_id, a.job.id);
    return true;
  });
  await c.cancel(a.job.id);
});

test('progress, log, logs on a leased (running) job', async () => {
  const { job } = await c.enqueue('other', {});
  await assert.rejects(c.progress(job.id, { current: 1 }), InvalidStateError);
  const { leases } = await c.fetch({ types: ['other'], max: 1, wait_s: 2 });
  assert.equal(leases.length, 1);
  assert.equal(leases[0].job.id, job.id);
  const p = await c.progress(job.id, { current: 3, total: 10, phase: 'infer' });
  assert.equal(p.current, 3);
  assert.equal(p.total, 10);
  assert.equal(p.percent, 30);
  assert.equal(p.phase, 'infer');
  const l1 = await c.log(job.id, 'first');
  const l2 = await c.log(job.id, 'second', 'warn');
  assert.equal(l2.seq, l1.seq + 1);
  const logs = await c.logs(job.id, { since: 0, limit: 1 });
  assert.equal(logs.lines.length, 1);
  assert.equal(logs.lines[0].message, 'first');
  assert.equal(logs.next, l1.seq);
  const rest = await c.logs(job.id, { since: logs.next });
  assert.deepEqual(rest.lines.map((l) => [l.level, l.message]), [['warn', 'second']]);
  const ext = await c.extend(leases[0].lease, 10);
  assert.equal(ext.lease, leases[0].lease);
  assert.equal(await c.ack(leases[0].lease, { ok: true }), true);
  await assert.rejects(c.ack(leases[0].lease), LeaseExpiredError, 'settled lease is -32005');
  const done = await c.get(job.id);
  assert.equal(done.status, 'success');
  assert.deepEqual(done.result, { ok: true });
});

test('settings and stats', async () => {
  assert.deepEqual(await c.settingsGet('workflow.publishing'), { 'workflow.publishing': true });
  // only the toggles [workflow] declares exist; a typo is refused with the closest one
  await assert.rejects(c.settingsGet('workflow.never_declared'), (e) => e instanceof InvalidParamsError && e.data.field === 'key');
  await assert.rejects(c.settingsSet('workflow.publsihing', false), (e) => e instanceof InvalidParamsError && /did you mean workflow\.publishing\?/.test(e.message));
  assert.deepEqual(await c.settingsSet('workflow.auto_publish', true), { 'workflow.auto_publish': true });
  const all = await c.settingsGet();
  assert.equal(all['workflow.auto_publish'], true);
  const s = await c.stats();
  assert.ok(s.jobs && typeof s.seq === 'number');
  assert.ok(s.connections >= 1);
});

test('error mapping: one class per docs/promises.md §4 code', async () => {
  const cases = [
    [() => c.get('999999'), NotFoundError, -32001, 'not_found'],
    [() => c.enqueue('no_such_type'), UnknownTypeError, -32002, 'unknown_type'],
    [() => c.list({ limit: 0 }), InvalidParamsError, -32602, 'invalid_params'],
    [() => c.call('get', { id: '1', bogus: 1 }), InvalidParamsError, -32602, 'invalid_params'],
    [() => c.call('no.such.method', {}), MethodNotFoundError, -32601, 'method_not_found'],
    [() => c.ack('no-such-lease'), LeaseExpiredError, -32005, 'lease_expired'],
    [() => c.call('get', ['1']), InvalidParamsError, -32602, 'invalid_params'],
  ];
  for (const [fn, Cls, code, reason] of cases) {
    await assert.rejects(fn(), (e) => {
      assert.ok(e instanceof Cls, `${e.name} should be ${Cls.name}`);
      assert.ok(e instanceof JobkernelError);
      assert.equal(e.code, code);
      assert.equal(e.data.reason, reason);
      return true;
    });
  }
  const e = await c.call('get', { id: '1', bogus: 1 }).catch((x) => x);
  assert.equal(e.data.field, 'bogus');
  // retry of a pending job: -32004 with status
  const { job } = await c.enqueue('remote', {});
  const st = await c.retry(job.id).catch((x) => x);
  assert.ok(st instanceof InvalidStateError);
  assert.equal(st.data.status, 'pending');
  await c.cancel(job.id);
  // since above the latest seq: -32602
  const { seq } = await c.stats();
  await assert.rejects(c.subscribe({ since: seq + 1000 }), InvalidParamsError);
  // the static table covers every code
  const table = { [-32700]: ParseError, [-32600]: InvalidRequestError, [-32603]: InternalError,
    [-32006]: CursorExpiredError, [-32007]: UnavailableError, [-32800]: RequestCancelledError };
  for (const [code, Cls] of Object.entries(table)) {
    assert.equal(ERROR_CLASSES[code], Cls);
    assert.ok(errorFromRpc({ code: Number(code), message: 'm', data: { reason: 'r' } }) instanceof Cls);
  }
  assert.equal(errorFromRpc({ code: -1, message: 'x' }).constructor, JobkernelError);
});

test('NoKernelError when nothing listens, and the default socket path', async () => {
  const dir = tempDir();
  await assert.rejects(
    within(5000, Client.connect({ socketPath: path.join(dir, 'none.sock') })),
    (e) => e instanceof NoKernelError && /jobkernel serve/.test(e.message),
  );
  assert.equal(defaultSocketPath({ JOBKERNEL_SOCKET: '/x/y.sock', JOBKERNEL_HOME: '/h' }), '/x/y.sock');
  assert.equal(defaultSocketPath({ JOBKERNEL_HOME: '/h' }), '/h/kernel.sock');
  assert.match(defaultSocketPath({}), /\.local\/state\/jobkernel\/kernel\.sock$/);
});

test('pipelined calls are matched by id', async () => {
  const rs = await within(10000, Promise.all(Array.from({ length: 50 }, (_, i) => c.enqueue('remote', { i }))), 'pipelined');
  rs.forEach((r, i) => assert.deepEqual(r.job.payload, { i }));
  await Promise.all(rs.map((r) => c.cancel(r.job.id)));
});
