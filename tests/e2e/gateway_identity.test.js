// [gateway] identity_secret_file: the gateway signs the identity it forwards with
// X-Plugauth-Signature (docs/gateway.md). The upstream here checks each request with the
// docs' Node snippet, behind an upstream path prefix (/base/), and refuses a tampered
// header; a client's own X-Plugauth-Signature never reaches it; a short or
// group-readable secret file stops start-up.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { basic, describeResponse, postToken, readBody } from './lib/http.js';
import { createPlugauth } from './lib/server.js';

// --- the docs' verification (docs/gateway.md, Node), copied --------------------------

function readKey(path) {
  let key = readFileSync(path);
  while (key.length > 0 && (key.at(-1) === 0x0a || key.at(-1) === 0x0d)) key = key.subarray(0, -1);
  return key;
}

function plugauthVerified(req, key, now = Date.now() / 1000) {
  const h = req.headers;
  const m = /^t=([0-9]+), v1=([0-9a-f]{64})$/.exec(h['x-plugauth-signature'] ?? '');
  if (!m || Math.abs(now - Number(m[1])) > 300) return false;
  const user = h['x-plugauth-user'] ?? '';
  const client = h['x-plugauth-client'] ?? '';
  const canonical = ['plugauth-signature-v1', m[1], user, user || client, client,
    h['x-plugauth-scope'] ?? '', h['x-plugauth-grant'] ?? '', req.method, req.url].join('\n');
  const want = createHmac('sha256', key).update(canonical).digest();
  return timingSafeEqual(want, Buffer.from(m[2], 'hex'));
}

// --- the upstream ----------------------------------------------------------------------

// Answers 200 {verified:true} to a request whose signature checks out, else 401.
function startUpstream(key) {
  const seen = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const verified = plugauthVerified(req, key);
      seen.push({ method: req.method, url: req.url, headers: { ...req.headers }, rawHeaders: req.rawHeaders, verified });
      res.writeHead(verified ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ verified }));
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({
      url: `http://127.0.0.1:${server.address().port}`,
      seen,
      close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
    }));
  });
}

function request(base, { method = 'GET', path, headers = {} } = {}) {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path, headers, agent: false }, (res) => {
      readBody(res).then((b) => resolve({ status: res.statusCode, headers: res.headers, ...b }), reject);
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error('request timed out')));
    req.end();
  });
}

const show = (res) => `HTTP ${res.status} ${JSON.stringify(res.headers)} ${res.text}`;

let up;
let pa;
let base;
let client;
let key;
let keyFile;
const servers = [];

function userToken(inst, clientId, user, scope) {
  const tok = `pa_at_${randomBytes(32).toString('base64url')}`;
  const digest = createHash('sha256').update(tok).digest('hex');
  const now = Math.floor(Date.now() / 1000);
  const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', inst.db,
    'INSERT INTO tokens (digest, kind, client_id, user_id, scope, audience, family_id, expires_at,'
    + ` revoked_at, created_at) VALUES (X'${digest}', 1, '${clientId}',`
    + ` (SELECT id FROM users WHERE name = '${user}'), '${scope}', NULL, 0, ${now + 3600}, 0, ${now})`],
  { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return tok;
}

before(async () => {
  pa = createPlugauth();
  servers.push(pa);
  keyFile = join(pa.dir, 'identity.key');
  writeFileSync(keyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  key = readKey(keyFile);
  up = await startUpstream(key);
  client = pa.addClient({ name: 'identity-e2e' });
  const r = pa.cli(['user', 'add', 'alice', '--password-stdin'], { input: 'correct horse battery\n' });
  assert.equal(r.status, 0, r.stderr);
  base = await pa.start({
    env: {
      PLUGAUTH_GATEWAY_UPSTREAM: `${up.url}/base/`,
      PLUGAUTH_GATEWAY_IDENTITY_SECRET_FILE: keyFile,
    },
  });
});

after(async () => {
  const log = servers.map((s) => s.log).join('\n');
  for (const s of servers) await s.cleanup();
  await up?.close();
  assert.ok(!log.includes(key.toString()), 'the identity secret reached the server log');
});

async function ccToken() {
  const res = await postToken(base, {
    body: { grant_type: 'client_credentials', scope: 'todo.read todo.write' },
    authorization: basic(client.client_id, client.client_secret),
  });
  assert.equal(res.status, 200, describeResponse(res));
  return res.json.access_token;
}

test('gateway_identity_signature_verifies_at_the_upstream_under_its_path_prefix', async () => {
  const tok = await ccToken();
  const res = await request(base, { method: 'DELETE', path: '/api/todos/1?x=%2F&y=1', headers: { authorization: `Bearer ${tok}` } });
  assert.equal(res.status, 200, show(res));
  assert.deepEqual(res.json, { verified: true });
  const got = up.seen.at(-1);
  // The upstream path prefix is joined before the path as received (docs/gateway.md).
  assert.equal(got.url, '/base/api/todos/1?x=%2F&y=1');
  assert.equal(got.headers['x-plugauth-grant'], 'client_credentials');
  const t = Number(/^t=([0-9]+), /.exec(got.headers['x-plugauth-signature'])[1]);
  assert.ok(Math.abs(Date.now() / 1000 - t) < 60, `timestamp ${t} is now`);
});

test('gateway_identity_signature_covers_a_user_token', async () => {
  const tok = userToken(pa, client.client_id, 'alice', 'todo.read');
  const res = await request(base, { path: '/api/me', headers: { authorization: `Bearer ${tok}` } });
  assert.equal(res.status, 200, show(res));
  assert.equal(up.seen.at(-1).headers['x-plugauth-user'], 'alice');
  assert.equal(up.seen.at(-1).verified, true);
});

test('gateway_identity_tampered_or_stale_headers_fail_the_check', async () => {
  const tok = await ccToken();
  const res = await request(base, { path: '/api/todos', headers: { authorization: `Bearer ${tok}` } });
  assert.equal(res.status, 200, show(res));
  const got = up.seen.at(-1);
  const req = (h, over = {}) => ({ method: 'GET', url: got.url, headers: { ...got.headers, ...h }, ...over });
  assert.equal(plugauthVerified(req({}), key), true);
  assert.equal(plugauthVerified(req({ 'x-plugauth-scope': 'todo.read todo.write admin' }), key), false);
  assert.equal(plugauthVerified(req({ 'x-plugauth-user': 'root' }), key), false);
  assert.equal(plugauthVerified(req({ 'x-plugauth-client': 'other' }), key), false);
  assert.equal(plugauthVerified(req({}, { method: 'DELETE' }), key), false);
  assert.equal(plugauthVerified(req({}, { url: '/base/api/admin' }), key), false);
  assert.equal(plugauthVerified(req({}), randomBytes(32)), false);
  const t = Number(/^t=([0-9]+), /.exec(got.headers['x-plugauth-signature'])[1]);
  assert.equal(plugauthVerified(req({}), key, t + 301), false, 'older than 5 minutes');
  const forged = got.headers['x-plugauth-signature'].replace(/^t=[0-9]+/, `t=${t + 1}`);
  assert.equal(plugauthVerified(req({ 'x-plugauth-signature': forged }), key), false);
});

test('gateway_identity_client_sent_signature_never_reaches_the_upstream', async () => {
  const tok = await ccToken();
  const fake = `t=${Math.floor(Date.now() / 1000)}, v1=${'0'.repeat(64)}`;
  const res = await request(base, {
    path: '/api/todos',
    headers: { authorization: `Bearer ${tok}`, 'X-Plugauth-Signature': fake, 'x-plugauth-user': 'root' },
  });
  assert.equal(res.status, 200, show(res));
  const got = up.seen.at(-1);
  const sigs = [];
  for (let i = 0; i < got.rawHeaders.length; i += 2) {
    if (got.rawHeaders[i].toLowerCase() === 'x-plugauth-signature') sigs.push(got.rawHeaders[i + 1]);
  }
  assert.equal(sigs.length, 1, `one signature upstream: ${JSON.stringify(sigs)}`);
  assert.notEqual(sigs[0], fake);
  assert.equal(got.headers['x-plugauth-user'], undefined);
  assert.equal(got.verified, true);
});

test('gateway_identity_secret_file_must_be_long_and_private', async () => {
  const cases = [
    ['short', 'x'.repeat(31) + '\n', 0o600, /identity_secret_file: .*short.*: must hold 32 to 4096 bytes/],
    ['group', randomBytes(32).toString('hex'), 0o640, /identity_secret_file: .*group.*: mode 640 lets group or others/],
    ['world', randomBytes(32).toString('hex'), 0o604, /identity_secret_file: .*world.*: mode 604/],
    ['missing', null, 0, /identity_secret_file: .*missing.*: No such file/],
  ];
  for (const [name, content, mode, want] of cases) {
    const inst = createPlugauth();
    servers.push(inst);
    const f = join(inst.dir, name);
    if (content !== null) {
      writeFileSync(f, content);
      chmodSync(f, mode);
    }
    await assert.rejects(inst.start({ env: { PLUGAUTH_GATEWAY_UPSTREAM: up.url, PLUGAUTH_GATEWAY_IDENTITY_SECRET_FILE: f } }),
      (err) => { assert.match(err.message, want, name); return true; });
    assert.notEqual(inst.exitCode, 0, name);
  }
});
