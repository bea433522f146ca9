// Client.spawn over `serve --stdio` with Content-Length framing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Worker, NotFoundError, FrameDecoder, encode } from '../src/index.js';
import { BIN, BASE_CONFIG, tempDir, within } from '../testlib/helpers.js';

test('framing: Content-Length and NDJSON round trip, split chunks, detection', () => {
  const got = [];
  const errs = [];
  const d = new FrameDecoder((m) => got.push(m), (e) => errs.push(e));
  const bytes = Buffer.from(encode({ a: 'é' }, 'lsp') + encode({ b: [1, 2] }, 'lsp'));
  for (let i = 0; i < bytes.length; i += 3) d.push(bytes.subarray(i, i + 3));
  assert.deepEqual(got, [{ a: 'é' }, { b: [1, 2] }]);
  const n = [];
  const d2 = new FrameDecoder((m) => n.push(m), (e) => errs.push(e));
  d2.push(Buffer.from('\n{"x":1}\n\nnot json\n{"y"'));
  d2.push(Buffer.from(':2}\n'));
  assert.deepEqual(n, [{ x: 1 }, { y: 2 }]);
  assert.equal(errs.length, 1);
});

test('Client.spawn: serve --stdio with Content-Length framing', async () => {
  const dir = tempDir();
  const cfg = path.join(dir, 'jobkernel.toml');
  fs.writeFileSync(cfg, BASE_CONFIG);
  const c = await within(
    10000,
    Client.spawn(BIN, ['serve', '--stdio', '--db', ':memory:', '--config', cfg], {
      stderr: 'ignore',
      env: { ...process.env, JOBKERNEL_HOME: dir },
      callTimeoutMs: 10000,
      clientInfo: { name: 'stdio-test' },
    }),
    'spawn',
  );
  try {
    assert.equal(c.framing, 'lsp');
    const init = await c.initialize({ name: 'stdio-test', version: '0' });
    assert.equal(init.protocol, '1');
    const { job } = await c.enqueue('remote', { via: 'stdio' }, { items: ['a', 'b', 'c'] });
    assert.equal(job.created_by, 'stdio-test');
    // the same channel is the worker too
    const w = new Worker(c, { types: 'remote', waitS: 1, concurrency: 3, handler: async (ctx) => ctx.item.value.toUpperCase() });
    w.start();
    const final = await within(10000, job.wait({ timeoutMs: 9000 }), 'wait');
    assert.equal(final.status, 'success');
    await within(5000, w.stop(), 'stop');
    await assert.rejects(c.get('424242'), NotFoundError);
  } finally {
    const r = await within(10000, c.close(), 'close');
    assert.deepEqual(r, { code: 0, signal: null }, 'kernel exits 0 when stdin closes');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
