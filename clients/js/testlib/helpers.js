// Test helpers: a real kernel in a temp dir, bounded waits.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '../../..');
export const BIN = process.env.JOBKERNEL_BIN || path.join(REPO, '.build/debug/jobkernel');
export const BASE_CONFIG = '[types.remote]\nmode = "async_api"\n\n[types.other]\nmode = "async_api"\n';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Rejects after ms; every wait in the tests goes through this. */
export function within(ms, promise, what = 'operation') {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export function tempDir(prefix = 'jk-js-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

function canConnect(p) {
  return new Promise((resolve) => {
    const s = net.createConnection({ path: p });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** Starts `jobkernel serve --socket … --db … --config …` in a temp dir. */
export async function startKernel({ config = '', db } = {}) {
  const dir = tempDir();
  const socketPath = path.join(dir, 'k.sock');
  const configPath = path.join(dir, 'jobkernel.toml');
  fs.writeFileSync(configPath, BASE_CONFIG + config);
  const proc = spawn(BIN, ['serve', '--socket', socketPath, '--db', db || path.join(dir, 'jobs.db'), '--config', configPath], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, JOBKERNEL_HOME: dir },
  });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 10000;
  while (!(await canConnect(socketPath))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      throw new Error(`kernel did not start (exit ${proc.exitCode}): ${stderr}`);
    }
    await sleep(30);
  }
  return {
    dir,
    socketPath,
    configPath,
    proc,
    get stderr() {
      return stderr;
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      fs.rmSync(dir, { recursive: true, force: true });
      return exited;
    },
  };
}
