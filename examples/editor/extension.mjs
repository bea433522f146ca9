#!/usr/bin/env node
// What an editor extension does with jobkernel: spawn `jobkernel serve --stdio` (Content-Length
// framing), enqueue work, show it as LSP work-done progress, let the user cancel.
//
//   node examples/editor/extension.mjs
//
// The user already runs a kernel (here the example starts one in a temp dir, standing in for
// `jobkernel serve` or the systemd service), so the spawned `serve --stdio` *attaches* to it:
// it relays the editor's stdin/stdout to that kernel's socket, and the shell sees the editor's
// jobs. Closing stdin detaches; the user's kernel keeps running.
//
// stdout: the LSP messages the extension would send to the editor, one JSON per line
// (window/workDoneProgress/create, $/progress begin/report/end) and the editor's
// window/workDoneProgress/cancel it reacts to. stderr: commentary.
// The example is its own async_api worker (fetch/ack on the same stdio channel).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client, Worker, isTerminal } from '../../clients/js/src/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const bin = process.env.JOBKERNEL_BIN || (fs.existsSync(path.join(repo, '.build/debug/jobkernel')) ? path.join(repo, '.build/debug/jobkernel') : 'jobkernel');
const note = (...a) => console.error('#', ...a);
const lsp = (msg) => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', ...msg }) + '\n');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jk-editor-'));
fs.writeFileSync(path.join(dir, 'jobkernel.toml'), '[types.lint]\nmode = "async_api"\n');

/** Maps one job's jobkernel events to LSP work-done progress for one token. */
class ProgressBridge {
  constructor(client, job, title, onBegin) {
    this.client = client;
    this.job = job;
    this.token = `jobkernel-${job.id}`;
    this.title = title;
    this.onBegin = onBegin;
    this.begun = false;
    this.ended = false;
    this.total = job.items ? job.items.total : null;
    this.done = 0;
    this.created = false;
  }

  async run() {
    // subscribe {ids}: the snapshot says where the job is now, events say what happens next
    const sub = await this.client.subscribe({ ids: [this.job.id], kinds: ['job.status', 'job.progress', 'item.status'] });
    try {
      const snap = sub.jobs[0];
      lsp({ id: `create-${this.token}`, method: 'window/workDoneProgress/create', params: { token: this.token } });
      if (snap.status === 'running') this.begin(snap);
      if (isTerminal(snap.status)) return this.end(snap);
      for await (const ev of sub) {
        if (ev.kind === 'job.status') {
          if (ev.data.to === 'running') this.begin(ev.data.job);
          if (isTerminal(ev.data.to)) return this.end(ev.data.job);
        } else if (ev.kind === 'job.progress') {
          const p = ev.data.progress;
          this.report(p.percent, p.message ?? (p.phase ? `${p.phase}` : undefined));
        } else if (ev.kind === 'item.status' && ['success', 'failed'].includes(ev.data.to)) {
          this.done++;
          if (this.total) this.report((100 * this.done) / this.total, `${this.done}/${this.total} files`);
        }
      }
    } finally {
      await sub.close();
    }
  }

  begin(job) {
    if (this.begun) return;
    this.begun = true;
    const pct = job.progress && job.progress.percent != null ? Math.round(job.progress.percent) : 0;
    lsp({ method: '$/progress', params: { token: this.token, value: { kind: 'begin', title: this.title, cancellable: true, percentage: pct } } });
    if (this.onBegin) this.onBegin(this);
  }

  report(percent, message) {
    if (!this.begun || this.ended) return;
    const value = { kind: 'report' };
    if (percent != null) value.percentage = Math.round(percent);
    if (message) value.message = message;
    lsp({ method: '$/progress', params: { token: this.token, value } });
  }

  end(job) {
    if (this.ended) return job;
    if (!this.begun) {
      // never ran (e.g. cancelled while pending): LSP still wants begin before end
      this.begun = true;
      lsp({ method: '$/progress', params: { token: this.token, value: { kind: 'begin', title: this.title, cancellable: false } } });
    }
    this.ended = true;
    const message = job.status === 'success' ? 'done' : `${job.status}${job.error ? `: ${job.error.message}` : ''}`;
    lsp({ method: '$/progress', params: { token: this.token, value: { kind: 'end', message } } });
    return job;
  }

  /** The editor's window/workDoneProgress/cancel for this token. */
  async cancelFromEditor() {
    lsp({ method: 'window/workDoneProgress/cancel', params: { token: this.token } });
    return this.client.cancel(this.job.id, 'cancelled from the editor');
  }
}

// The user's kernel, on a database and socket of its own.
const config = path.join(dir, 'jobkernel.toml');
const db = path.join(dir, 'jobs.db');
const socket = path.join(dir, 'kernel.sock');
const kernel = spawn(bin, ['serve', '--socket', socket, '--db', db, '--config', config], { stdio: ['ignore', 'ignore', 'inherit'] });
const kernelExit = new Promise((resolve) => kernel.once('exit', (code) => resolve(code)));
const shell = (...args) => spawnSync(bin, [...args, '--socket', socket], { encoding: 'utf8' });
for (let i = 0; shell('call', 'stats').status !== 0; i++) {
  if (i > 100) throw new Error(`the kernel did not start at ${socket}`);
  await new Promise((r) => setTimeout(r, 50));
}
note(`the user's kernel runs (pid ${kernel.pid}) at ${socket}`);

// The editor spawns `serve --stdio` on the same database: it attaches to that kernel.
const client = await Client.spawn(bin, ['serve', '--stdio', '--db', db, '--config', config], {
  stderr: 'pipe',
  clientInfo: { name: 'editor-example', version: '1' },
  callTimeoutMs: 15000,
});
let bridgeLog = '';
client.process.stderr.on('data', (d) => (bridgeLog += d));
note('serve --stdio spawned (Content-Length framing)');

// The example is its own worker: lint "files" one at a time.
const worker = new Worker(client, {
  types: 'lint',
  waitS: 1,
  leaseS: 2,
  extendEveryMs: 200,
  handler: async (ctx) => {
    if (ctx.job.payload.slow) {
      // long work that only a cancel ends (the lease is auto-extended meanwhile)
      await ctx.progress({ current: 1, total: 4, phase: 'indexing', message: `reading ${ctx.item.value}` });
      await new Promise((resolve) => {
        ctx.signal.addEventListener('abort', resolve);
        setTimeout(resolve, 10000).unref();
      });
      if (ctx.signal.aborted) note(`worker: lease lost (${ctx.signal.reason.code}), stopped work on ${ctx.item.value}`);
      return null;
    }
    await new Promise((r) => setTimeout(r, 60));
    await ctx.log(`linted ${ctx.item.value}`);
    return { file: ctx.item.value, warnings: ctx.item.index % 2 };
  },
});
const working = worker.start();

const { job: lintJob } = await client.enqueue({ type: 'lint', items: ['a.js', 'b.js', 'c.js', 'd.js', 'e.js'], payload: {} });
const { job: bigJob } = await client.enqueue({ type: 'lint', items: ['huge.js', 'huger.js'], payload: { slow: true } });
note(`enqueued job ${lintJob.id} (5 files) and job ${bigJob.id} (slow)`);

const first = new ProgressBridge(client, lintJob, 'Linting workspace');
const second = new ProgressBridge(client, bigJob, 'Indexing large files', (b) => {
  // the user clicks "cancel" on the second notification shortly after it appears
  setTimeout(() => b.cancelFromEditor().then((j) => note(`cancel answered: job ${j.id} is ${j.status}`)), 300);
});
const [r1, r2] = await Promise.race([
  Promise.all([first.run(), second.run()]),
  new Promise((_, rej) => setTimeout(() => rej(new Error('example did not finish within 30 s')), 30000).unref()),
]);
note(`job ${r1.id}: ${r1.status}; job ${r2.id}: ${r2.status}`);

await worker.stop();
await working;

// The shell sees the editor's jobs: they are on the user's kernel.
const status = shell('status', lintJob.id, '--json');
const seen = status.status === 0 && JSON.parse(status.stdout);
note(`jobkernel status ${lintJob.id} (the shell): ${seen ? `${seen.status}, created by ${seen.created_by}` : status.stderr}`);

const exit = await client.close();
const attached = bridgeLog.includes('attached to the running kernel');
note(`serve --stdio ${attached ? 'was attached and ' : 'was NOT attached, '}exited with ${exit.code}`);
const stillThere = shell('call', 'stats').status === 0;
note(`the user's kernel ${stillThere ? 'keeps running' : 'is gone'} after the editor left`);
kernel.kill('SIGTERM');
const kernelCode = await kernelExit;
note(`the user's kernel stopped with ${kernelCode}`);
fs.rmSync(dir, { recursive: true, force: true });
const ok = r1.status === 'success' && r2.status === 'cancelled' && exit.code === 0 && attached
  && seen && seen.created_by === 'editor-example' && stillThere && kernelCode === 0;
process.exit(ok ? 0 : 1);
