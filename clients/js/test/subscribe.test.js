import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '../src/index.js';
import { startKernel, within, sleep } from '../testlib/helpers.js';

/** Collects events from a subscription until pred(events) or timeout. */
async function collect(sub, pred, ms = 10000) {
  const got = [];
  const deadline = Date.now() + ms;
  while (!pred(got)) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`only ${got.length} events within ${ms} ms`);
    const r = await sub.next({ timeoutMs: left });
    if (r.done) break;
    got.push(r.value);
  }
  return got;
}

function assertOrderedOnce(events) {
  for (let i = 1; i < events.length; i++) assert.ok(events[i].seq > events[i - 1].seq, `seq order at ${i}`);
}

test('subscribe: snapshot, live events, resume after the socket is destroyed', async () => {
  const k = await startKernel();
  const a = await Client.connect({ socketPath: k.socketPath, callTimeoutMs: 10000 });
  const b = await Client.connect({ socketPath: k.socketPath, callTimeoutMs: 10000 });
  try {
    const { job } = await b.enqueue('remote', {});
    const sub = await a.subscribe({ ids: [job.id], kinds: ['job.status', 'job.log'] });
    assert.equal(sub.jobs.length, 1);
    assert.equal(sub.jobs[0].status, 'pending');
    assert.equal(typeof sub.seq, 'number');
    const { leases } = await b.fetch({ types: 'remote', wait_s: 2 });
    for (let i = 1; i <= 10; i++) await b.log(job.id, `line ${i}`);
    const first = await collect(sub, (ev) => ev.filter((e) => e.kind === 'job.log').length >= 10);
    assert.equal(first[0].kind, 'job.status');
    assert.equal(first[0].data.to, 'running');

    // break a's connection; b keeps producing while a reconnects
    const reconnected = new Promise((r) => a.once('reconnect', r));
    a.transport.socket.destroy();
    for (let i = 11; i <= 30; i++) await b.log(job.id, `line ${i}`);
    await within(10000, reconnected, 'reconnect');
    for (let i = 31; i <= 40; i++) await b.log(job.id, `line ${i}`);
    await b.ack(leases[0].lease, 'ok');

    const rest = await collect(sub, (ev) => ev.some((e) => e.kind === 'job.status' && e.data.to === 'success'));
    const all = [...first, ...rest];
    assertOrderedOnce(all);
    const lines = all.filter((e) => e.kind === 'job.log').map((e) => e.data.message);
    assert.deepEqual(lines, Array.from({ length: 40 }, (_, i) => `line ${i + 1}`));
    assert.ok(sub.resumes >= 1, 'resubscribed with since');
    await sub.close();
  } finally {
    await a.close();
    await b.close();
    await k.stop();
  }
});

test('subscribe: subscription.dropped (small max_outbound_bytes) is resumed without loss', async () => {
  const k = await startKernel({ config: '\n[limits]\nmax_outbound_bytes = 65536\n' });
  const a = await Client.connect({ socketPath: k.socketPath, callTimeoutMs: 10000 });
  const b = await Client.connect({ socketPath: k.socketPath, callTimeoutMs: 10000 });
  try {
    const { job } = await b.enqueue('remote', {});
    const { leases } = await b.fetch({ types: 'remote', wait_s: 2 });
    const sub = await a.subscribe({ ids: [job.id], kinds: ['job.log', 'job.status'] });
    let dropped = 0;
    a.on('subscription.dropped', () => dropped++);
    // stop reading on a's side so the kernel's outbound buffer for it grows
    a.transport.socket.pause();
    const big = 'x'.repeat(4000);
    const N = 200;
    for (let i = 1; i <= N; i++) await b.log(job.id, `${i} ${big}`);
    await b.ack(leases[0].lease, null);
    await sleep(100);
    a.transport.socket.resume();
    const events = await collect(sub, (ev) => ev.some((e) => e.kind === 'job.status' && e.data.to === 'success'), 20000);
    assertOrderedOnce(events);
    const nums = events.filter((e) => e.kind === 'job.log').map((e) => Number(e.data.message.split(' ')[0]));
    assert.deepEqual(nums, Array.from({ length: N }, (_, i) => i + 1));
    assert.ok(dropped >= 1, 'the kernel dropped the subscription');
    assert.ok(sub.resumes >= 1);
    await sub.close();
  } finally {
    await a.close();
    await b.close();
    await k.stop();
  }
});

test('subscribe with since replays, and job.wait() uses the snapshot', async () => {
  const k = await startKernel();
  const c = await Client.connect({ socketPath: k.socketPath, callTimeoutMs: 10000 });
  try {
    const { seq } = await c.stats();
    const { job } = await c.enqueue('remote', {});
    const waiting = job.wait({ timeoutMs: 10000 });
    const { leases } = await c.fetch({ types: 'remote', wait_s: 2 });
    await c.ack(leases[0].lease, { answer: 42 });
    const final = await within(10000, waiting, 'wait');
    assert.equal(final.status, 'success');
    assert.deepEqual(final.result, { answer: 42 });
    // already terminal: answered from the snapshot
    const again = await within(5000, c.wait(job.id, { timeoutMs: 4000 }), 'wait terminal');
    assert.equal(again.status, 'success');
    // replay from before the job existed
    const sub = await c.subscribe({ types: 'remote', since: seq });
    const ev = await collect(sub, (e) => e.some((x) => x.kind === 'job.status' && x.data.to === 'success'));
    assert.deepEqual(ev.map((e) => e.kind).slice(0, 2), ['job.created', 'job.status']);
    assertOrderedOnce(ev);
    await sub.close();
    // a wait that times out
    const { job: j2 } = await c.enqueue('remote', {});
    await assert.rejects(within(5000, j2.wait({ timeoutMs: 300 })), { name: 'TimeoutError' });
    await c.cancel(j2.id);
  } finally {
    await c.close();
    await k.stop();
  }
});
