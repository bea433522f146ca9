import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, Worker, UnitError } from '../src/index.js';
import { startKernel, within, sleep } from '../testlib/helpers.js';

test('pull worker: itemized job, progress, log, ack results', async () => {
  const k = await startKernel();
  const c = await Client.connect({ socketPath: k.socketPath, callTimeoutMs: 10000 });
  const wc = await Client.connect({ socketPath: k.socketPath, callTimeoutMs: 10000 });
  const seen = [];
  const w = new Worker(wc, {
    types: ['remote'],
    concurrency: 2,
    waitS: 1,
    handler: async (ctx) => {
      seen.push(ctx.item.index);
      await ctx.log(`item ${ctx.item.index}`);
      await ctx.progress({ item: ctx.item.index, phase: 'square' });
      return ctx.item.value * ctx.item.value;
    },
  });
  try {
    const running = w.start();
    const { job } = await c.enqueue({ type: 'remote', items: [1, 2, 3, 4, 5] });
    const final = await within(15000, job.wait({ timeoutMs: 14000 }), 'itemized job');
    assert.equal(final.status, 'success');
    assert.equal(final.items.success, 5);
    assert.deepEqual([...seen].sort(), [0, 1, 2, 3, 4]);
    const logs = await c.logs(job.id);
    assert.equal(logs.lines.length, 5);
    await within(5000, w.stop(), 'stop');
    await within(1000, running, 'loop end');
    assert.equal(w.stats.acked, 5);
  } finally {
    await w.stop();
    await c.close();
    await wc.close();
    await k.stop();
  }
});

test('pull worker: thrown errors nack (retryable and not)', async () => {
  const k = await startKernel({ config: '\n[pipeline]\nbackoff_base = "50ms"\nbackoff_max = "100ms"\n' });
  const c = await Client.connect({ socketPath: k.socketPath, callTimeoutMs: 10000 });
  let calls = 0;
  const w = new Worker(c, {
    types: 'remote',
    waitS: 1,
    handler: async (ctx) => {
      calls++;
      if (ctx.job.payload.fatal) throw new UnitError('bad input', { retryable: false });
      if (ctx.attempt < 2) throw new Error('flaky');
      return { attempt: ctx.attempt };
    },
  });
  try {
    w.start();
    const { job: flaky } = await c.enqueue('remote', { fatal: false }, { max_attempts: 3 });
    const f1 = await within(15000, flaky.wait({ timeoutMs: 14000 }));
    assert.equal(f1.status, 'success');
    assert.deepEqual(f1.result, { attempt: 2 });
    const { job: fatal } = await c.enqueue('remote', { fatal: true }, { max_attempts: 3 });
    const f2 = await within(15000, fatal.wait({ timeoutMs: 14000 }));
    assert.equal(f2.status, 'failed');
    assert.equal(f2.error.message, 'bad input');
    assert.equal(f2.attempt, 1, 'not retried');
    assert.equal(calls, 3);
    assert.equal(w.stats.nacked, 2);
  } finally {
    await within(5000, w.stop(), 'stop');
    await c.close();
    await k.stop();
  }
});

test('pull worker: cancel while leased aborts the handler (extend answers -32005)', async () => {
  const k = await startKernel();
  const c = await Client.connect({ socketPath: k.socketPath, callTimeoutMs: 10000 });
  const wc = await Client.connect({ socketPath: k.socketPath, callTimeoutMs: 10000 });
  let started;
  const inHand = new Promise((r) => (started = r));
  let aborted = false;
  const w = new Worker(wc, {
    types: 'remote',
    waitS: 1,
    leaseS: 1,
    extendEveryMs: 100,
    handler: (ctx) =>
      new Promise((resolve) => {
        started(ctx);
        ctx.signal.addEventListener('abort', () => {
          aborted = true;
          resolve('too late');
        });
        setTimeout(() => resolve('finished'), 8000).unref();
      }),
  });
  try {
    w.start();
    const { job } = await c.enqueue('remote', {});
    const ctx = await within(5000, inHand, 'unit in hand');
    assert.equal(ctx.job.id, job.id);
    await sleep(1300); // past the first lease length: auto-extend keeps it alive
    assert.equal((await c.get(job.id)).status, 'running');
    const cj = await c.cancel(job.id);
    assert.equal(cj.status, 'cancelled', 'leased units end at once');
    const t0 = Date.now();
    while (!aborted && Date.now() - t0 < 5000) await sleep(20);
    assert.ok(aborted, 'handler signal aborted');
    assert.equal(w.stats.lost, 1);
    assert.equal(w.stats.acked, 0);
    assert.equal((await c.get(job.id)).status, 'cancelled');
  } finally {
    await within(5000, w.stop(), 'stop');
    await c.close();
    await wc.close();
    await k.stop();
  }
});
