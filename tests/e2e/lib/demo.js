// `plugauth demo` as a child process: started on a free loopback port, its stdout read
// for what it prints (the listening URL, the playground URL, the client secret, the curl
// command), stopped with SIGTERM. Shared by demo.test.js and playground.test.js.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { BIN } from './server.js';

export const DEMO_USER = 'demo';
export const DEMO_PASSWORD = 'demo';
export const DEMO_CLIENT_ID = 'demo-client';
export const PLAYGROUND_CLIENT_ID = 'demo-playground';

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 15_000;
const CURL_RE = /^\s*(curl -s -u '([^':]+):([^']+)' -d grant_type=client_credentials (\S+))\s*$/m;

// Children still running when this test process goes away are killed.
const live = new Set();
process.on('exit', () => {
  for (const child of live) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

// Ours without PLUGAUTH_* (a stray PLUGAUTH_DATABASE_URL would change the server), plus
// the test's own overrides.
function childEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PLUGAUTH_')) env[k] = v;
  return { ...env, ...extra };
}

export class Demo {
  constructor() {
    this.proc = null;
    this.stdout = '';
    this.stderr = '';
    this.exitCode = null;
  }

  // The server log so far (stderr).
  get log() {
    return this.stderr;
  }

  // Spawns `plugauth demo --listen 127.0.0.1:0` and resolves once it has printed the
  // curl command (its last line), with this filled in: base, playgroundUrl, curl,
  // clientSecret, and the lines before.
  // env: PLUGAUTH_* overrides for this demo.
  start({ env } = {}) {
    if (!existsSync(BIN)) throw new Error(`plugauth binary not found at ${BIN}`);
    const child = spawn(BIN, ['demo', '--listen', '127.0.0.1:0'], {
      cwd: tmpdir(), env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = child;
    live.add(child);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => { this.stderr += d; });
    this.exited = new Promise((res) => child.on('exit', (code, sig) => {
      live.delete(child);
      this.exitCode = code ?? sig;
      res(this.exitCode);
    }));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`plugauth demo printed no curl command within ${START_TIMEOUT_MS} ms;`
          + ` stdout: ${JSON.stringify(this.stdout)} stderr: ${JSON.stringify(this.stderr)}`));
      }, START_TIMEOUT_MS);
      child.stdout.on('data', (d) => {
        this.stdout += d;
        const m = CURL_RE.exec(this.stdout);
        if (!m || !this.stdout.endsWith('\n\n')) return;
        clearTimeout(timer);
        this.curl = m[1];
        this.clientSecret = m[3];
        const listening = /^listening on (http:\/\/127\.0\.0\.1:[0-9]+)$/m.exec(this.stdout);
        this.base = listening?.[1];
        this.playgroundUrl = /^\s*(http:\/\/\S+\/demo)\s*$/m.exec(this.stdout)?.[1];
        resolve(this);
      });
      this.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`plugauth demo exited (${code}) early; stderr: ${this.stderr.trim()}`));
      });
    });
  }

  // The demo's SQLite file, found among the server's open files (Linux /proc).
  dbPath() {
    const fdDir = `/proc/${this.proc.pid}/fd`;
    for (const fd of readdirSync(fdDir)) {
      let target;
      try { target = readlinkSync(join(fdDir, fd)); } catch { continue; }
      if (target.endsWith('/demo.db')) return target;
    }
    throw new Error('the demo database is not among the server\'s open files');
  }

  // The demo's temporary directory.
  dir() {
    return dirname(this.dbPath());
  }

  // `plugauth user add NAME --password-stdin` against the running demo's database, through
  // a throwaway config file pointing at it.
  addUser(name, password) {
    const cdir = mkdtempSync(join(tmpdir(), 'plugauth-demo-cli-'));
    try {
      const conf = join(cdir, 'plugauth.conf');
      writeFileSync(conf, `[server]\nissuer = ${this.base}\n\n[database]\nurl = sqlite:${this.dbPath()}\n`);
      const r = spawnSync(BIN, ['-c', conf, 'user', 'add', name, '--password-stdin'], {
        input: `${password}\n`, encoding: 'utf8', env: childEnv(), timeout: 20_000,
      });
      if (r.status !== 0) throw new Error(`user add ${name} exited ${r.status}: ${r.stderr}`);
    } finally {
      rmSync(cdir, { recursive: true, force: true });
    }
  }

  // SIGTERM; resolves with the exit code ('SIGKILL' if it had to be killed).
  async stop() {
    const child = this.proc;
    if (!child) return this.exitCode;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    let timer;
    const timeout = new Promise((res) => {
      timer = setTimeout(() => { child.kill('SIGKILL'); res(null); }, STOP_TIMEOUT_MS);
    });
    const code = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    await this.exited;
    this.proc = null;
    return code === null ? 'SIGKILL' : code;
  }
}

export async function startDemo(opts) {
  return new Demo().start(opts);
}

