// One plugauth instance for an end-to-end test file: a temp dir with a fresh config and
// SQLite database (made by `plugauth init`), the CLI against that config, and the server
// as a real child process on a free loopback port.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { freePort } from './http.js';

const here = dirname(fileURLToPath(import.meta.url));

export const REPO = resolve(here, '..', '..', '..');
export const BIN = process.env.PLUGAUTH_BIN
  ? resolve(process.env.PLUGAUTH_BIN)
  : join(REPO, 'build', 'plugauth');
export const ISSUER = 'http://127.0.0.1:8080';

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;
const CLI_TIMEOUT_MS = 20_000;
const LISTENING_RE = /^listening on (https?:\/\/127\.0\.0\.1:([0-9]+))\s*$/;

// Children still running when this test process goes away are killed.
const live = new Set();
function killLeftovers() {
  for (const child of live) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
  live.clear();
}
process.on('exit', killLeftovers);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    killLeftovers();
    process.exit(128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 })[sig]);
  });
}

// The environment for plugauth: ours without PLUGAUTH_* overrides (a stray
// PLUGAUTH_CONFIG or PLUGAUTH_DATABASE_URL in the caller's shell would change the
// config under test), plus whatever the test passes.
function childEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('PLUGAUTH_')) env[k] = v;
  }
  return { ...env, ...extra };
}

// The objects a `--json` listing printed: JSON Lines, one object per line.
export function jsonLines(stdout) {
  return stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
}

function checkBinary() {
  if (!existsSync(BIN)) {
    throw new Error(`plugauth binary not found at ${BIN} (build it, or set PLUGAUTH_BIN)`);
  }
}

// Runs plugauth with exactly these arguments (no -c added). Returns {status, stdout, stderr}.
export function run(args, { input, cwd, env } = {}) {
  checkBinary();
  const r = spawnSync(BIN, args, {
    cwd: cwd ?? tmpdir(),
    env: childEnv(env),
    input: input ?? '',
    encoding: 'utf8',
    timeout: CLI_TIMEOUT_MS,
    killSignal: 'SIGKILL',
  });
  if (r.error) throw r.error;
  return {
    status: r.status,
    signal: r.signal,
    stdout: r.stdout,
    stderr: r.stderr,
  };
}

export class Plugauth {
  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'plugauth-e2e-'));
    this.conf = join(this.dir, 'plugauth.conf');
    this.db = join(this.dir, 'plugauth.db');
    this.proc = null;
    this.baseUrl = null;
    this.stdout = '';
    this.stderr = '';
    this.exitCode = null;
  }

  // `plugauth -c <conf> init …`; throws unless it exits 0.
  init({ extraArgs = [] } = {}) {
    const r = this.cli([
      'init', '--issuer', ISSUER,
      '--db', `sqlite:${this.db}`,
      '--listen', '127.0.0.1:0',
      ...extraArgs,
    ]);
    if (r.status !== 0) {
      throw new Error(`plugauth init exited ${r.status}: ${r.stderr.trim()}`);
    }
    return r;
  }

  // `plugauth -c <conf> <args…>`; returns {status, stdout, stderr}.
  cli(args, { input, env } = {}) {
    return run(['-c', this.conf, ...args], { input, env, cwd: this.dir });
  }

  // `client add … --json`, parsed. Throws unless it exits 0. A confidential client opts in
  // to every grant type, client_credentials included, unless `grants` says which ([]: the
  // server's default, authorization_code and refresh_token).
  addClient({
    name = 'e2e', redirectUris = ['https://client.example/cb'], scope, isPublic = false,
    grants = isPublic ? [] : ['authorization_code', 'refresh_token', 'client_credentials'],
  } = {}) {
    const args = ['client', 'add', '--name', name];
    for (const u of redirectUris) args.push('--redirect-uri', u);
    if (scope !== undefined) args.push('--scope', scope);
    if (isPublic) args.push('--public');
    for (const g of grants) args.push('--grant', g);
    args.push('--json');
    const r = this.cli(args);
    if (r.status !== 0) {
      throw new Error(`plugauth client add exited ${r.status}: ${r.stderr.trim()}`);
    }
    try {
      return JSON.parse(r.stdout);
    } catch {
      throw new Error(`plugauth client add --json printed no JSON object: ${JSON.stringify(r.stdout)}`);
    }
  }

  // The server log so far (everything the server wrote to stderr).
  get log() {
    return this.stderr;
  }

  // Spawns `plugauth -c <conf> serve`, waits for `listening on http://127.0.0.1:<port>`
  // (https://… when the server terminates TLS) on stdout and resolves with that base URL.
  // cwd: where it runs (default: the temp dir).
  start({ env, cwd } = {}) {
    checkBinary();
    if (this.proc) throw new Error('server already running');
    this.exitCode = null;
    const child = spawn(BIN, ['-c', this.conf, 'serve'], {
      cwd: cwd ?? this.dir,
      env: childEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = child;
    live.add(child);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => { this.stderr += d; });
    const exited = new Promise((res) => {
      child.on('exit', (code, signal) => {
        live.delete(child);
        this.exitCode = code ?? signal;
        res(this.exitCode);
      });
    });
    this.exited = exited;

    return new Promise((resolveStart, rejectStart) => {
      let pending = '';
      let done = false;
      const finish = (err, url) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) rejectStart(err); else resolveStart(url);
      };
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        finish(new Error(`plugauth serve printed no "listening on" line within ${START_TIMEOUT_MS} ms;`
          + ` stdout: ${JSON.stringify(this.stdout)} stderr: ${JSON.stringify(this.stderr)}`));
      }, START_TIMEOUT_MS);
      child.stdout.on('data', (d) => {
        this.stdout += d;
        pending += d;
        let nl;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl).replace(/\r$/, '');
          pending = pending.slice(nl + 1);
          const m = LISTENING_RE.exec(line);
          if (m && Number(m[2]) > 0) {
            this.baseUrl = m[1];
            finish(null, m[1]);
          }
        }
      });
      child.on('error', (err) => finish(err));
      exited.then((code) => {
        this.proc = null;
        finish(new Error(`plugauth serve exited (${code}) before listening; stderr: ${this.stderr.trim()}`));
      });
    });
  }

  // Sends SIGTERM and resolves with the exit code (or the signal name if it was killed).
  // After STOP_TIMEOUT_MS the server is killed with SIGKILL and the promise resolves
  // with 'SIGKILL'.
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
    this.baseUrl = null;
    return code === null ? 'SIGKILL' : code;
  }

  // Stops the server if it still runs and removes the temp dir.
  async cleanup() {
    if (this.proc) {
      this.proc.kill('SIGKILL');
      await this.exited;
      this.proc = null;
    }
    if (!process.env.PLUGAUTH_E2E_KEEP) {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

// Convenience: a fresh instance with `init` already run.
export function createPlugauth() {
  const pa = new Plugauth();
  try {
    pa.init();
  } catch (err) {
    rmSync(pa.dir, { recursive: true, force: true });
    throw err;
  }
  return pa;
}

// Starts `p` on a free port with an issuer naming that port (strict clients such as
// oauth4webapi compare the issuer, and resource identifiers under it, with the URL they
// asked); resolves with the issuer.
export async function startWithIssuer(p, env = {}) {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    try {
      const base = await p.start({
        env: { PLUGAUTH_SERVER_LISTEN: `127.0.0.1:${port}`, PLUGAUTH_SERVER_ISSUER: url, ...env },
      });
      if (base !== url) throw new Error(`server at ${base}, not ${url}`);
      return url;
    } catch (err) {
      if (attempt >= 3) throw err;   // the port was taken in between: try another
    }
  }
}
