// nginx in front of an API, asking plugauth about every request with auth_request
// (GET /oauth/verify): the snippet documented in docs/nginx.md, run as written in a real
// nginx (/usr/sbin/nginx) on a loopback port, with a test upstream recording what reaches it.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { basic, describeResponse, freePort, postToken, readBody } from './lib/http.js';
import { ISSUER, REPO, createPlugauth } from './lib/server.js';

const NGINX = '/usr/sbin/nginx';
const DOC = join(REPO, 'docs', 'nginx.md');
const START_TIMEOUT_MS = 10_000;

// The first ```nginx block of the doc that uses auth_request.
function documentedSnippet() {
  const md = readFileSync(DOC, 'utf8');
  for (const m of md.matchAll(/```nginx\n([\s\S]*?)```/g)) {
    if (m[1].includes('auth_request ')) return m[1];
  }
  throw new Error(`${DOC}: no nginx block with auth_request`);
}


function startUpstream() {
  const seen = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      const out = JSON.stringify({ ok: true, url: req.url, bytes: body.length,
        sha256: createHash('sha256').update(body).digest('hex') });
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'yes' });
      res.end(out);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({
      port: server.address().port, seen, last: () => seen[seen.length - 1],
      close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
    }));
  });
}

async function waitForPort(port, proc, log) {
  const t0 = Date.now();
  for (;;) {
    if (proc.exitCode !== null) {
      throw new Error(`nginx exited ${proc.exitCode}: ${log()}`);
    }
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() - t0 > START_TIMEOUT_MS) throw new Error(`nginx did not listen: ${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// A private nginx: its own prefix, pid file, logs and temp paths, in the foreground.
async function startNginx({ port, plugauthPort, upstreamPort }) {
  const dir = mkdtempSync(join(tmpdir(), 'plugauth-nginx-'));
  for (const d of ['logs', 'tmp']) mkdirSync(join(dir, d));
  const snippet = documentedSnippet()
    .replaceAll('127.0.0.1:8080', `127.0.0.1:${plugauthPort}`)
    .replaceAll('127.0.0.1:5000', `127.0.0.1:${upstreamPort}`);
  const t = join(dir, 'tmp');
  const conf = `
${process.getuid?.() === 0 ? 'user root root;' : ''}
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log info;
events { worker_connections 128; }
http {
  access_log ${dir}/logs/access.log;
  client_body_temp_path ${t}/body;
  proxy_temp_path ${t}/proxy;
  fastcgi_temp_path ${t}/fastcgi;
  uwsgi_temp_path ${t}/uwsgi;
  scgi_temp_path ${t}/scgi;
  client_max_body_size 1m;
  server {
    listen 127.0.0.1:${port};
    server_name localhost;
${snippet}
  }
}
`;
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(confPath, conf);
  const args = ['-p', dir, '-e', join(dir, 'logs', 'error.log'), '-c', confPath];
  const check = spawnSync(NGINX, [...args, '-t'], { encoding: 'utf8' });
  assert.equal(check.status, 0, `nginx -t refused the documented snippet:\n${check.stderr}\n${conf}`);
  const proc = spawn(NGINX, [...args, '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  const log = () => {
    let el = '';
    try { el = readFileSync(join(dir, 'logs', 'error.log'), 'utf8'); } catch { /* none yet */ }
    return `${out}\n${el}`;
  };
  const exited = new Promise((r) => proc.on('exit', r));
  await waitForPort(port, proc, log);
  return {
    dir, log,
    stop: async () => {
      if (proc.exitCode === null) proc.kill('SIGQUIT');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      if (!process.env.PLUGAUTH_E2E_KEEP) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function request(port, { method = 'GET', path, headers = {}, body } = {}) {
  const buf = body === undefined ? undefined : Buffer.from(body);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port, method, path, agent: false,
      headers: buf === undefined ? headers : { ...headers, 'content-length': String(buf.length) },
    }, (res) => {
      readBody(res).then((b) => resolve({ status: res.statusCode, raw: res.headers, ...b }), reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.end(buf);
  });
}

const describe = (res) => `HTTP ${res.status} ${JSON.stringify(res.raw)} ${res.text.slice(0, 300)}`;
const RESOURCE_METADATA = `${ISSUER}/.well-known/oauth-protected-resource`;

let up;
let pa;
let nginx;
let port;
let client;
let token;      // todo.read, no user
let userToken;  // alice, todo.read todo.write
const seen = new Set();

function insertUserToken(instance, clientId, user, scope) {
  const tok = 'pa_at_' + randomBytes(32).toString('base64url');
  const digest = createHash('sha256').update(tok).digest('hex');
  const now = Math.floor(Date.now() / 1000);
  const sql = 'INSERT INTO tokens (digest, kind, client_id, user_id, scope, audience, family_id,'
    + ` expires_at, revoked_at, created_at) VALUES (X'${digest}', 1, '${clientId}',`
    + ` (SELECT id FROM users WHERE name = '${user}'), '${scope}', NULL, 0, ${now + 3600}, 0, ${now})`;
  const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', instance.db, sql], { encoding: 'utf8' });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, r.stderr);
  seen.add(tok);
  return tok;
}

before(async () => {
  assert.ok(existsSync(NGINX),
    `${NGINX} is missing: install Debian's nginx (scripts/install-deps does)`);
  up = await startUpstream();
  pa = createPlugauth();
  client = pa.addClient({ name: 'nginx-e2e' });
  seen.add(client.client_secret);
  const r = pa.cli(['user', 'add', 'alice', '--password-stdin'], { input: 'correct horse battery\n' });
  assert.equal(r.status, 0, r.stderr);
  // No [gateway] upstream: nginx does the proxying. The scope makes 403 testable.
  const base = await pa.start({ env: { PLUGAUTH_GATEWAY_SCOPE: 'todo.read' } });
  const res = await postToken(base, {
    body: { grant_type: 'client_credentials' },
    authorization: basic(client.client_id, client.client_secret),
  });
  assert.equal(res.status, 200, describeResponse(res));
  token = res.json.access_token;
  seen.add(token);
  userToken = insertUserToken(pa, client.client_id, 'alice', 'todo.read todo.write');
  port = await freePort();
  nginx = await startNginx({
    port, plugauthPort: Number(new URL(base).port), upstreamPort: up.port,
  });
});

after(async () => {
  const log = pa?.log ?? '';
  await nginx?.stop();
  await pa?.cleanup();
  await up?.close();
  for (const v of seen) assert.ok(!log.includes(v), 'a secret reached the server log');
});

test('nginx_auth_request_401_without_token', async () => {
  const before = up.seen.length;
  const res = await request(port, { path: '/api/todos' });
  assert.equal(res.status, 401, describe(res));
  const ch = res.raw['www-authenticate'] ?? '';
  assert.match(ch, /^Bearer /, describe(res));
  assert.ok(ch.includes(`resource_metadata="${RESOURCE_METADATA}"`), describe(res));
  assert.ok(!ch.includes('error='), describe(res));
  assert.equal(up.seen.length, before, 'the API is not called');
});

test('nginx_auth_request_401_invalid_token', async () => {
  const before = up.seen.length;
  const res = await request(port, {
    path: '/api/todos',
    headers: { authorization: `Bearer pa_at_${randomBytes(32).toString('base64url')}` },
  });
  assert.equal(res.status, 401, describe(res));
  assert.match(res.raw['www-authenticate'] ?? '', /error="invalid_token"/, describe(res));
  assert.equal(up.seen.length, before);
});

test('nginx_auth_request_200_with_identity_headers', async () => {
  const res = await request(port, {
    path: '/api/todos?list=home&x=%2F',
    headers: {
      authorization: `Bearer ${userToken}`,
      'x-plugauth-user': 'root',            // spoofed: must be replaced
      'x-plugauth-client': 'evil',
    },
  });
  assert.equal(res.status, 200, `${describe(res)}\n${nginx.log()}`);
  assert.equal(res.raw['x-upstream'], 'yes');
  const got = up.last();
  assert.equal(got.url, '/api/todos?list=home&x=%2F');
  assert.equal(got.headers['x-plugauth-user'], 'alice');
  assert.equal(got.headers['x-plugauth-client'], client.client_id);
  assert.equal(got.headers['x-plugauth-scope'], 'todo.read todo.write');
  assert.equal(got.headers['x-plugauth-grant'], undefined, 'a user token: no grant header');
  assert.equal(got.headers.authorization, undefined, 'the token does not reach the API');
});

test('nginx_auth_request_client_credentials_post_body', async () => {
  const body = JSON.stringify({ title: 'milk', pad: 'x'.repeat(50_000) });
  const res = await request(port, {
    method: 'POST', path: '/api/todos',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body,
  });
  assert.equal(res.status, 200, `${describe(res)}\n${nginx.log()}`);
  const got = up.last();
  assert.equal(got.method, 'POST');
  assert.equal(got.body.toString('utf8'), body);
  assert.equal(got.headers['x-plugauth-client'], client.client_id);
  assert.equal(got.headers['x-plugauth-scope'], 'todo.read');
  assert.equal(got.headers['x-plugauth-user'], undefined, 'no user: header left out');
  assert.equal(got.headers['x-plugauth-grant'], 'client_credentials');
});

test('nginx_auth_request_403_insufficient_scope', async () => {
  const writeOnly = insertUserToken(pa, client.client_id, 'alice', 'todo.write');
  const before = up.seen.length;
  const res = await request(port, {
    method: 'DELETE', path: '/api/todos/1', headers: { authorization: `Bearer ${writeOnly}` },
  });
  assert.equal(res.status, 403, describe(res));
  assert.equal(up.seen.length, before);
});

test('nginx_serves_plugauth_endpoints_on_the_same_host', async () => {
  // The challenge's resource_metadata document, through nginx (RFC 9728).
  const meta = await request(port, { path: '/.well-known/oauth-protected-resource' });
  assert.equal(meta.status, 200, describe(meta));
  assert.equal(meta.json?.resource, ISSUER, describe(meta));
  const res = await request(port, { path: '/oauth/verify', headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 204, describe(res));
  assert.equal(res.raw['x-plugauth-client'], client.client_id);
});
