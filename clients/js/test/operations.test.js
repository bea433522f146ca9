import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client, JobFailedError, InvalidStateError, NotFoundError } from '../src/index.js';
import { startKernel } from '../testlib/helpers.js';

// Scheduling and operations from the JS client (protocol/protocol.md: enqueue's run_at and after,
// items, remove/clean, pause/resume): run_at as a Date, after, wait({raiseOnFailure}), items,
// remove, clean, pause/resume.
let k, c;
before(async () => {
  k = await startKernel();
  c = await Client.connect({ socketPath: k.socketPath, callTimeoutMs: 10000 });
});
after(async () => {
  await c?.close();
  await k?.stop();
});

async function leaseOne(type = 'remote') {
  const { leases } = await c.fetch({ types: [type], wait_s: 5 });
  assert.equal(leases.length, 1);
  return leases[0];
}

test('run_at takes a Date', async () => {
  // January 2 of the year after next: in the future on whatever day the test runs.
  const year = new Date().getUTCFullYear() + 2;
  const { job } = await c.enqueue('remote', {}, { run_at: new Date(Date.UTC(year, 0, 2, 3, 4, 5, 600)) });
  assert.equal(job.status, 'scheduled');
  assert.equal(job.run_at, `${year}-01-02T03:04:05.600Z`);
  await c.cancel(job.id);
  assert.equal(await c.remove(job), 1);
});

test('after, items, wait({raiseOnFailure}), remove, clean', async () => {
  const { job: first } = await c.enqueue('remote', undefined, { items: ['a', 'b'], max_attempts: 1 });
  const { job: then } = await c.enqueue('other', {}, { after: first });
  assert.equal(then.status, 'scheduled');
  const l1 = await leaseOne();
  await c.ack(l1.lease, { up: l1.item.value.toUpperCase() });
  const l2 = await leaseOne();
  await c.nack(l2.lease, 'bad item', false);
  await assert.rejects(first.wait({ timeoutMs: 5000, raiseOnFailure: true }), (e) => e instanceof JobFailedError && e.status === 'partial_success');
  const items = await first.itemResults();
  assert.deepEqual(items.map((i) => i.status), l1.item.index === 0 ? ['success', 'failed'] : ['failed', 'success']);
  assert.equal(items.find((i) => i.status === 'failed').error.message, 'bad item');
  assert.deepEqual((await c.items(first.id, { status: 'success', limit: 1 })).next, null);
  const skipped = await then.wait({ timeoutMs: 5000 });
  assert.equal(skipped.status, 'skipped');
  assert.equal(skipped.error.message, `dependency ${first.id} ended partial_success`);
  await assert.rejects(c.enqueue('other', {}, { after: ['987654'] }), NotFoundError);
  const { job: open } = await c.enqueue('other');
  await assert.rejects(c.remove([first.id, open.id]), InvalidStateError);
  assert.equal(await c.remove([first.id]), 1);
  assert.equal(await c.clean({ status: 'skipped', older_than_s: 3600 }), 0);
  assert.equal(await c.clean({ status: ['skipped'] }), 1);
  await c.cancel(open.id);
});

test('pause and resume', async () => {
  assert.equal((await c.pause('remote'))['paused.remote'], true);
  const { job } = await c.enqueue('remote');
  assert.deepEqual((await c.fetch({ types: ['remote'] })).leases, []);
  assert.equal((await c.stats()).types.remote.paused, 1);
  const settings = await c.resume();
  assert.equal(settings['paused.remote'], false);
  const lease = await leaseOne();
  assert.equal(lease.job.id, job.id);
  await c.ack(lease.lease);
  assert.equal((await job.wait({ timeoutMs: 5000, raiseOnFailure: true })).status, 'success');
});
