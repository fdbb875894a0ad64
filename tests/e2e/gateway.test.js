// The gateway (RFC 6750 bearer tokens, RFC 9728 challenges): requests under
// [gateway] path are checked and forwarded to a real upstream started here (a
// node:http server that records everything it receives), and GET /oauth/verify
// answers nginx's auth_request.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { after, before, test } from 'node:test';

import { basic, describeResponse, postToken, readBody } from './lib/http.js';
import { ISSUER, createPlugauth } from './lib/server.js';

const CLI_REVOKE_BOUND_MS = 1000;  // a revocation by another process is seen within this (docs/gateway.md)
const BODY_MAX = 1024 * 1024;    // [gateway] body_max_bytes for these servers
const RESOURCE_METADATA = `${ISSUER}/.well-known/oauth-protected-resource`;

// --- the upstream ------------------------------------------------------------------------

// Records every request; answers JSON describing it. The path decides the answer:
//   /api/status/<n>  status n with extra headers;   /api/slow/<ms>  answers after ms;
//   /api/hang        never answers;                  anything else   200.
function startUpstream() {
  const seen = [];
  const hanging = new Set();
  const held = [];               // /api/held: answered when release() is called
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const rec = {
        method: req.method,
        url: req.url,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body,
      };
      seen.push(rec);
      const answer = () => {
        const out = JSON.stringify({
          method: req.method, url: req.url, bytes: body.length,
          sha256: createHash('sha256').update(body).digest('hex'),
        });
        const m = /^\/api\/status\/([0-9]{3})/.exec(req.url);
        const status = m ? Number(m[1]) : 200;
        res.writeHead(status, [
          'Content-Type', 'application/json',
          'X-Upstream', 'yes',
          'Set-Cookie', 'a=1; Path=/',
          'Set-Cookie', 'b=2; Path=/',
          'Cache-Control', 'max-age=7',
          'Keep-Alive', 'timeout=5',
          'Content-Length', String(Buffer.byteLength(out)),
        ]);
        res.end(req.method === 'HEAD' || status === 204 || status === 304 ? undefined : out);
      };
      const slow = /^\/api\/slow\/([0-9]+)/.exec(req.url);
      if (req.url.startsWith('/api/held')) {
        held.push(answer);
      } else if (req.url.startsWith('/api/hang')) {
        hanging.add(res);
      } else if (slow) {
        setTimeout(answer, Number(slow[1]));
      } else {
        answer();
      }
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}`,
        seen,
        last: () => seen[seen.length - 1],
        heldCount: () => held.length,
        release: () => { for (const a of held.splice(0)) a(); },
        close: () => new Promise((res) => {
          for (const r of hanging) r.destroy();
          server.closeAllConnections?.();
          server.close(() => res());
        }),
      });
    });
  });
}

// A loopback port with nothing listening on it.
function deadPort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// --- requests ----------------------------------------------------------------------------

// A request with node:http: any method, any headers (Connection too), exact path.
function request(base, { method = 'GET', path, headers = {}, body } = {}) {
  const url = new URL(base);
  const buf = body === undefined ? undefined : Buffer.from(body);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname, port: url.port, method, path,
      headers: buf === undefined ? headers : { ...headers, 'content-length': String(buf.length) },
      agent: false,
    }, (res) => {
      readBody(res).then((b) => resolve({
        status: res.statusCode, headers: new Headers(), raw: res.headers,
        rawHeaders: res.rawHeaders, ...b,
      }), reject);
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error('request timed out')));
    req.end(buf);
  });
}

function describe(res) {
  return `HTTP ${res.status} ${JSON.stringify(res.raw)} ${res.text}`;
}

const bearer = (tok) => ({ authorization: `Bearer ${tok}` });

// --- set-up ------------------------------------------------------------------------------

let up;           // the upstream
let pa;           // plugauth with [gateway] upstream = up
let base;
let client;       // confidential client (client_credentials)
let token;        // a todo.read access token of client (no user)
const seen = new Set();   // every secret the test saw: none may reach a server log
const servers = [];

function remember(v) {
  if (typeof v === 'string' && v.length > 0) seen.add(v);
  return v;
}

async function clientToken(b, c, scope) {
  const res = await postToken(b, {
    body: scope ? { grant_type: 'client_credentials', scope } : { grant_type: 'client_credentials' },
    authorization: basic(c.client_id, c.client_secret),
  });
  assert.equal(res.status, 200, describeResponse(res));
  return remember(res.json.access_token);
}

function sqlite(db, sql) {
  const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', db, sql], { encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`sqlite3 exited ${r.status}: ${r.stderr}`);
  return r.stdout.trim();
}

// Stores an access token straight into the database, as the server would store it (its
// SHA-256 digest only): for identities and states no grant hands out on demand.
function insertToken(instance, { clientId, user = null, scope = 'todo.read', audience = null,
  expiresIn = 3600, kind = 1 }) {
  const tok = remember('pa_at_' + randomBytes(32).toString('base64url'));
  const digest = createHash('sha256').update(tok).digest('hex');
  const now = Math.floor(Date.now() / 1000);
  const q = (s) => (s === null ? 'NULL' : `'${s.replace(/'/g, "''")}'`);
  const uid = user === null ? 'NULL' : `(SELECT id FROM users WHERE name = ${q(user)})`;
  sqlite(instance.db, 'INSERT INTO tokens (digest, kind, client_id, user_id, scope, audience,'
    + ' family_id, expires_at, revoked_at, created_at) VALUES'
    + ` (X'${digest}', ${kind}, ${q(clientId)}, ${uid}, ${q(scope)}, ${q(audience)}, 0,`
    + ` ${now + expiresIn}, 0, ${now})`);
  return tok;
}

// Another plugauth instance with its own database and environment.
async function startInstance(env) {
  const inst = createPlugauth();
  servers.push(inst);
  const c = inst.addClient({ name: 'gw-extra' });
  remember(c.client_secret);
  const b = await inst.start({ env: { PLUGAUTH_GATEWAY_BODY_MAX_BYTES: String(BODY_MAX), ...env } });
  return { inst, base: b, client: c };
}

before(async () => {
  up = await startUpstream();
  pa = createPlugauth();
  servers.push(pa);
  client = pa.addClient({ name: 'gateway-e2e' });
  remember(client.client_secret);
  const r = pa.cli(['user', 'add', 'alice', '--password-stdin'], { input: 'correct horse battery\n' });
  assert.equal(r.status, 0, r.stderr);
  base = await pa.start({
    env: {
      PLUGAUTH_GATEWAY_UPSTREAM: up.url,
      PLUGAUTH_GATEWAY_BODY_MAX_BYTES: String(BODY_MAX),
    },
  });
  token = await clientToken(base, client);
});

after(async () => {
  const logs = servers.map((s) => s.log).join('\n');
  for (const s of servers) await s.cleanup();
  await up?.close();
  for (const v of seen) {
    assert.ok(!logs.includes(v), `a secret reached the server log: ${v.slice(0, 10)}…`);
  }
});

// --- forwarding ----------------------------------------------------------------------------

test('gateway_forwards_user_identity_headers', async () => {
  const tok = insertToken(pa, { clientId: client.client_id, user: 'alice', scope: 'todo.read todo.write' });
  const res = await request(base, { path: '/api/me', headers: bearer(tok) });
  assert.equal(res.status, 200, describe(res));
  const got = up.last();
  assert.equal(got.url, '/api/me');
  assert.equal(got.headers['x-plugauth-user'], 'alice');
  assert.equal(got.headers['x-plugauth-client'], client.client_id);
  assert.equal(got.headers['x-plugauth-scope'], 'todo.read todo.write');
  assert.equal(got.headers.authorization, undefined, 'no Authorization upstream');
  assert.equal(got.headers['x-forwarded-for'], '127.0.0.1');
  assert.equal(got.headers['x-forwarded-proto'], 'http');
  assert.equal(got.headers['x-forwarded-host'], new URL(base).host);
});

test('gateway_client_credentials_token_sends_no_user_and_grant_header', async () => {
  // An identity header is never sent empty: a token without a user carries no
  // X-Plugauth-User at all, and says why in X-Plugauth-Grant.
  const res = await request(base, { path: '/api/cc', headers: bearer(token) });
  assert.equal(res.status, 200, describe(res));
  const got = up.last();
  const names = [];
  for (let i = 0; i < got.rawHeaders.length; i += 2) names.push(got.rawHeaders[i].toLowerCase());
  assert.ok(!names.includes('x-plugauth-user'), `no X-Plugauth-User: ${names}`);
  assert.equal(got.headers['x-plugauth-grant'], 'client_credentials');
  assert.equal(got.headers['x-plugauth-client'], client.client_id);
  assert.equal(got.headers['x-plugauth-scope'], 'todo.read');
  for (let i = 0; i < got.rawHeaders.length; i += 2) {
    if (/^x-plugauth-/i.test(got.rawHeaders[i])) {
      assert.notEqual(got.rawHeaders[i + 1], '', `${got.rawHeaders[i]} is empty`);
    }
  }
});

test('gateway_strips_spoofed_identity_and_hop_by_hop_headers', async () => {
  const res = await request(base, {
    path: '/api/spoof',
    headers: {
      ...bearer(token),
      'X-Plugauth-User': 'root',
      'x-plugauth-client': 'evil-client',
      'X-PLUGAUTH-SCOPE': 'admin',
      'X-Plugauth-Admin': 'yes',
      'Proxy-Authorization': 'Basic cm9vdDpyb290',
      'Connection': 'keep-alive, X-Hop-Secret',
      'X-Hop-Secret': 'drop me',
      'Keep-Alive': 'timeout=5',
      'TE': 'trailers',
      'X-Forwarded-For': '203.0.113.9',
      'X-Custom': 'kept',
      'User-Agent': 'gateway-e2e/1',
    },
  });
  assert.equal(res.status, 200, describe(res));
  const got = up.last();
  const names = [];
  for (let i = 0; i < got.rawHeaders.length; i += 2) names.push(got.rawHeaders[i].toLowerCase());
  assert.deepEqual(names.filter((n) => n.startsWith('x-plugauth-')).sort(),
    ['x-plugauth-client', 'x-plugauth-grant', 'x-plugauth-scope'], `headers: ${names}`);
  assert.equal(got.headers['x-plugauth-grant'], 'client_credentials');
  assert.equal(got.headers['x-plugauth-client'], client.client_id);
  assert.equal(got.headers['x-plugauth-scope'], 'todo.read');
  for (const h of ['authorization', 'proxy-authorization', 'x-hop-secret', 'te']) {
    assert.ok(!names.includes(h), `${h} must not reach the upstream: ${names}`);
  }
  assert.notEqual(got.headers['keep-alive'], 'timeout=5');
  assert.equal(got.headers['x-custom'], 'kept');
  assert.equal(got.headers['user-agent'], 'gateway-e2e/1');
  // An existing X-Forwarded-For is kept, the peer appended (RFC 7239 §5.2 style).
  assert.equal(got.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
});

test('gateway_drops_the_session_cookie_keeps_others', async () => {
  // With plugauth's session cookie the upstream could act as the signed-in user at
  // /oauth/authorize: it never gets it; the API's own cookies pass unchanged.
  const cases = [
    ['theme=dark; plugauth_session=pa_ss_secret1; lang=en', 'theme=dark; lang=en'],
    ['__Host-plugauth_session=pa_ss_secret2', undefined],
    ['plugauth_session=pa_ss_secret3', undefined],
    ['a=1', 'a=1'],
  ];
  for (const [cookie, want] of cases) {
    const res = await request(base, { path: '/api/cookies', headers: { ...bearer(token), cookie } });
    assert.equal(res.status, 200, describe(res));
    const got = up.last();
    assert.equal(got.headers.cookie, want, `Cookie: ${cookie}`);
    assert.ok(!JSON.stringify(got.rawHeaders).includes('pa_ss_secret'), `${got.rawHeaders}`);
  }
});

test('gateway_preserves_path_and_query_unchanged', async () => {
  const path = '/api/items/a%2Fb/%C3%A9t%C3%A9?x=1&y=%20z&x=2&empty=&flag&plus=a+b';
  const res = await request(base, { path, headers: bearer(token) });
  assert.equal(res.status, 200, describe(res));
  assert.equal(up.last().url, path);
});

test('gateway_preserves_methods_and_bodies', async () => {
  const cases = [
    { method: 'POST', body: JSON.stringify({ title: 'milk', n: 1 }), type: 'application/json' },
    { method: 'PUT', body: 'name=a&value=b', type: 'application/x-www-form-urlencoded' },
    { method: 'PATCH', body: '{"done":true}', type: 'application/merge-patch+json' },
    { method: 'DELETE' },
    { method: 'OPTIONS' },
    { method: 'GET' },
  ];
  for (const c of cases) {
    const headers = { ...bearer(token) };
    if (c.type) headers['content-type'] = c.type;
    const res = await request(base, {
      method: c.method, path: `/api/things/1?m=${c.method}`, headers, body: c.body,
    });
    assert.equal(res.status, 200, `${c.method}: ${describe(res)}`);
    const got = up.last();
    assert.equal(got.method, c.method);
    assert.equal(got.url, `/api/things/1?m=${c.method}`);
    assert.equal(got.body.toString('utf8'), c.body ?? '', c.method);
    if (c.type) {
      assert.equal(got.headers['content-type'], c.type, c.method);
    } else {
      assert.equal(got.headers['content-type'], undefined, `${c.method}: no Content-Type invented`);
    }
    assert.equal(got.headers.expect, undefined, c.method);
    assert.equal(res.json.method, c.method);
  }
});

test('gateway_forwards_200kb_body_intact', async () => {
  const body = randomBytes(200 * 1024);
  const res = await request(base, {
    method: 'POST', path: '/api/upload',
    headers: { ...bearer(token), 'content-type': 'application/octet-stream' },
    body,
  });
  assert.equal(res.status, 200, describe(res));
  assert.equal(res.json.bytes, body.length);
  assert.equal(res.json.sha256, createHash('sha256').update(body).digest('hex'));
  assert.equal(Buffer.compare(up.last().body, body), 0);
});

test('gateway_body_over_body_max_is_413_and_not_forwarded', async () => {
  const before = up.seen.length;
  const res = await request(base, {
    method: 'POST', path: '/api/upload',
    headers: { ...bearer(token), 'content-type': 'application/octet-stream' },
    body: Buffer.alloc(BODY_MAX + 1),
  }).catch((err) => ({ status: 'reset', text: String(err) }));
  if (res.status !== 'reset') assert.equal(res.status, 413, describe(res));
  assert.equal(up.seen.length, before);
});

test('gateway_passes_upstream_status_headers_and_body_back', async () => {
  for (const status of [201, 404, 418, 500]) {
    const res = await request(base, { path: `/api/status/${status}`, headers: bearer(token) });
    assert.equal(res.status, status, describe(res));
    assert.equal(res.raw['x-upstream'], 'yes');
    assert.equal(res.raw['content-type'], 'application/json');
    assert.equal(res.raw['cache-control'], 'max-age=7');
    assert.deepEqual(res.raw['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
    assert.equal(res.raw['keep-alive'], undefined, 'hop-by-hop header from the upstream');
    assert.equal(res.json.url, `/api/status/${status}`);
  }
  const res = await request(base, { path: '/api/status/204', headers: bearer(token) });
  assert.equal(res.status, 204, describe(res));
  assert.equal(res.text, '');
});

test('gateway_head_is_forwarded_as_head', async () => {
  const res = await request(base, { method: 'HEAD', path: '/api/head', headers: bearer(token) });
  assert.equal(res.status, 200, describe(res));
  assert.equal(res.raw['x-upstream'], 'yes');
  assert.equal(up.last().method, 'HEAD');
});

test('gateway_refuses_dot_segments', async () => {
  const before = up.seen.length;
  for (const path of ['/api/../oauth/token', '/api/%2e%2e/admin', '/api/./x']) {
    const res = await request(base, { path, headers: bearer(token) });
    assert.equal(res.status, 400, `${path}: ${describe(res)}`);
  }
  assert.equal(up.seen.length, before);
});

// --- refusals ------------------------------------------------------------------------------

function assertChallenge(res, status, error) {
  assert.equal(res.status, status, describe(res));
  const ch = res.raw['www-authenticate'] ?? '';
  assert.match(ch, /^Bearer /, describe(res));
  assert.ok(ch.includes(`resource_metadata="${RESOURCE_METADATA}"`), describe(res));
  if (error === null) {
    assert.ok(!/error=/.test(ch), `no error= without a token (RFC 6750 §3.1): ${ch}`);
  } else {
    assert.ok(ch.includes(`error="${error}"`), describe(res));
    assert.equal(res.json?.error, error, describe(res));
    assert.equal(typeof res.json.error_description, 'string', describe(res));
  }
  assert.match(res.raw['content-type'] ?? '', /^application\/json/, describe(res));
  assert.match(res.raw['cache-control'] ?? '', /no-store/, describe(res));
  return ch;
}

test('gateway_missing_token_401_resource_metadata_challenge', async () => {
  const before = up.seen.length;
  for (const headers of [{}, { authorization: basic('x', 'y') }]) {
    const res = await request(base, { path: '/api/private', headers });
    assertChallenge(res, 401, null);
    assert.equal(typeof res.json?.error, 'string', describe(res));
  }
  assert.equal(up.seen.length, before, 'the upstream is not called');
});

test('gateway_invalid_token_401_invalid_token', async () => {
  const before = up.seen.length;
  const bad = [
    'pa_at_' + randomBytes(32).toString('base64url'),     // unknown
    'not a token',                                        // malformed
  ];
  for (const tok of bad) {
    const res = await request(base, { path: '/api/private', headers: { authorization: `Bearer ${tok}` } });
    assertChallenge(res, 401, 'invalid_token');
  }
  const res = await request(base, { path: '/api/private', headers: { authorization: 'Bearer' } });
  assertChallenge(res, 401, 'invalid_token');
  assert.equal(up.seen.length, before, 'the upstream is not called');
});

test('gateway_expired_token_401', async () => {
  const tok = insertToken(pa, { clientId: client.client_id, expiresIn: -5 });
  const res = await request(base, { path: '/api/private', headers: bearer(tok) });
  assertChallenge(res, 401, 'invalid_token');
  assert.match(res.json.error_description, /expired/);
});

test('gateway_refresh_token_is_not_an_access_token', async () => {
  const tok = insertToken(pa, { clientId: client.client_id, kind: 2 });
  const res = await request(base, { path: '/api/private', headers: bearer(tok) });
  assertChallenge(res, 401, 'invalid_token');
});

test('gateway_audience_must_be_this_server', async () => {
  const other = insertToken(pa, { clientId: client.client_id, audience: 'https://other.example.com' });
  let res = await request(base, { path: '/api/aud', headers: bearer(other) });
  assertChallenge(res, 401, 'invalid_token');
  const lookalike = insertToken(pa, { clientId: client.client_id, audience: `${ISSUER}.evil.example` });
  res = await request(base, { path: '/api/aud', headers: bearer(lookalike) });
  assertChallenge(res, 401, 'invalid_token');
  for (const aud of [ISSUER, `${ISSUER}/`, `${ISSUER}/api/`]) {
    const tok = insertToken(pa, { clientId: client.client_id, audience: aud });
    res = await request(base, { path: '/api/aud', headers: bearer(tok) });
    assert.equal(res.status, 200, `${aud}: ${describe(res)}`);
  }
});

test('gateway_cli_revocation_takes_effect_within_1s', async () => {
  const c = pa.addClient({ name: 'to-revoke' });
  remember(c.client_secret);
  const tok = await clientToken(base, c);
  let res = await request(base, { path: '/api/r', headers: bearer(tok) });
  assert.equal(res.status, 200, describe(res));   // now cached
  const r = pa.cli(['token', 'revoke', '--client', c.client_id]);
  assert.equal(r.status, 0, r.stderr);
  const t0 = Date.now();
  for (;;) {
    res = await request(base, { path: '/api/r', headers: bearer(tok) });
    if (res.status === 401) break;
    assert.equal(res.status, 200, describe(res));
    assert.ok(Date.now() - t0 < CLI_REVOKE_BOUND_MS + 500,
      `still accepted ${Date.now() - t0} ms after revocation`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
  const elapsed = Date.now() - t0;
  assert.ok(elapsed <= CLI_REVOKE_BOUND_MS + 500, `revocation took ${elapsed} ms`);
  assertChallenge(res, 401, 'invalid_token');
  assert.match(res.json.error_description, /revoked/);
  // The failure is in the event log, for `plugauth events`.
  await new Promise((ok) => setTimeout(ok, 500));
  const ev = pa.cli(['events', '--client', c.client_id]);
  assert.equal(ev.status, 0, ev.stderr);
  assert.match(ev.stdout, /\bapi\b.*invalid_token.*revoked/, ev.stdout);
});

// --- /oauth/verify --------------------------------------------------------------------------

test('verify_204_with_identity_headers', async () => {
  const before = up.seen.length;
  const tok = insertToken(pa, { clientId: client.client_id, user: 'alice', scope: 'todo.read todo.write' });
  const res = await request(base, { path: '/oauth/verify', headers: bearer(tok) });
  assert.equal(res.status, 204, describe(res));
  assert.equal(res.text, '');
  assert.equal(res.raw['x-plugauth-user'], 'alice');
  assert.equal(res.raw['x-plugauth-client'], client.client_id);
  assert.equal(res.raw['x-plugauth-scope'], 'todo.read todo.write');
  const cc = await request(base, { path: '/oauth/verify', headers: bearer(token) });
  assert.equal(cc.status, 204, describe(cc));
  assert.equal(cc.raw['x-plugauth-client'], client.client_id);
  assert.equal(cc.raw['x-plugauth-user'], undefined, 'no X-Plugauth-User without a user');
  assert.equal(cc.raw['x-plugauth-grant'], 'client_credentials');
  assert.equal(up.seen.length, before, 'verify never calls the upstream');
});

test('verify_401_missing_and_invalid', async () => {
  assertChallenge(await request(base, { path: '/oauth/verify' }), 401, null);
  const res = await request(base, {
    path: '/oauth/verify', headers: bearer('pa_at_' + randomBytes(32).toString('base64url')),
  });
  assertChallenge(res, 401, 'invalid_token');
  assert.equal(res.raw['x-plugauth-user'], undefined);
});

// --- scope, upstream failures ------------------------------------------------------------------

test('gateway_insufficient_scope_403', async () => {
  const { base: b, client: c } = await startInstance({
    PLUGAUTH_GATEWAY_UPSTREAM: up.url, PLUGAUTH_GATEWAY_SCOPE: 'todo.write',
  });
  const readTok = await clientToken(b, c, 'todo.read');
  const before = up.seen.length;
  for (const path of ['/api/needs-write', '/oauth/verify']) {
    const res = await request(b, { path, headers: bearer(readTok) });
    const ch = assertChallenge(res, 403, 'insufficient_scope');
    assert.ok(ch.includes('scope="todo.write"'), ch);
  }
  assert.equal(up.seen.length, before, 'the upstream is not called');
  // Without a token the challenge says which scope to ask for (MCP clients read it).
  const none = await request(b, { path: '/api/needs-write' });
  const ch = assertChallenge(none, 401, null);
  assert.ok(ch.includes('scope="todo.write"'), ch);
  const writeTok = await clientToken(b, c, 'todo.read todo.write');
  const ok = await request(b, { path: '/api/needs-write', headers: bearer(writeTok) });
  assert.equal(ok.status, 200, describe(ok));
  assert.equal(up.last().headers['x-plugauth-scope'], 'todo.read todo.write');
});

test('gateway_upstream_down_502', async () => {
  const port = await deadPort();
  const { inst, base: b, client: c } = await startInstance({
    PLUGAUTH_GATEWAY_UPSTREAM: `http://127.0.0.1:${port}`,
  });
  const tok = await clientToken(b, c);
  const res = await request(b, { method: 'POST', path: '/api/x', headers: bearer(tok), body: '{}' });
  assert.equal(res.status, 502, describe(res));
  assert.equal(res.json?.error, 'bad_gateway', describe(res));
  assert.match(res.raw['content-type'] ?? '', /^application\/json/);
  await new Promise((ok) => setTimeout(ok, 500));
  const ev = inst.cli(['events', '--client', c.client_id]);
  assert.match(ev.stdout, /\bapi\b.*bad_gateway/, ev.stdout);
});

test('gateway_upstream_timeout_504', async () => {
  const { base: b, client: c } = await startInstance({
    PLUGAUTH_GATEWAY_UPSTREAM: up.url, PLUGAUTH_GATEWAY_TIMEOUT: '1',
  });
  const tok = await clientToken(b, c);
  const t0 = Date.now();
  const res = await request(b, { path: '/api/hang', headers: bearer(tok) });
  const took = Date.now() - t0;
  assert.equal(res.status, 504, describe(res));
  assert.equal(res.json?.error, 'gateway_timeout', describe(res));
  assert.ok(took >= 900 && took < 5000, `answered after ${took} ms`);
});

test('gateway_upstream_answer_over_limit_502', async () => {
  const { base: b, client: c } = await startInstance({
    PLUGAUTH_GATEWAY_UPSTREAM: up.url, PLUGAUTH_GATEWAY_RESPONSE_MAX_BYTES: '1024',
  });
  const tok = await clientToken(b, c);
  const res = await request(b, {
    method: 'POST', path: '/api/echo', headers: bearer(tok), body: 'x'.repeat(10),
  });
  assert.equal(res.status, 200, describe(res));   // ~140 bytes: fine
  const big = await request(b, { path: `/api/${'y'.repeat(2000)}`, headers: bearer(tok) });
  assert.equal(big.status, 502, describe(big));
  assert.equal(big.json?.error, 'bad_gateway', describe(big));
});

test('gateway_slow_upstream_does_not_stall_token_requests', async () => {
  // Nine proxied requests the upstream holds until the test lets them go.
  const before = up.heldCount();
  let answered = 0;
  const held = Array.from({ length: 9 }, () =>
    request(base, { path: '/api/held', headers: bearer(token) }).then((r) => { answered++; return r; }));
  const deadline = Date.now() + 10_000;
  while (up.heldCount() < before + 9) {
    assert.ok(Date.now() < deadline, `the upstream saw ${up.heldCount() - before} of 9 requests`);
    await new Promise((ok) => setTimeout(ok, 20));
  }
  // While they wait, token requests and bearer checks are answered: they
  // need nothing the waiting requests hold.
  await Promise.all(Array.from({ length: 50 }, async () => {
    const res = await postToken(base, {
      body: { grant_type: 'client_credentials' },
      authorization: basic(client.client_id, client.client_secret),
    });
    assert.equal(res.status, 200, describeResponse(res));
    remember(res.json.access_token);
  }));
  const verify = await request(base, { path: '/oauth/verify', headers: bearer(token) });
  assert.equal(verify.status, 204);
  assert.equal(answered, 0, 'the held requests were still waiting for the upstream');
  up.release();
  for (const r of await Promise.all(held)) assert.equal(r.status, 200, describe(r));
});

test('gateway_sigterm_answers_waiting_requests', async () => {
  const { inst, base: b, client: c } = await startInstance({ PLUGAUTH_GATEWAY_UPSTREAM: up.url });
  const tok = await clientToken(b, c);
  const quick = request(b, { path: '/api/slow/500', headers: bearer(tok) });
  await new Promise((ok) => setTimeout(ok, 100));
  const code = inst.stop();
  const res = await quick;
  assert.equal(res.status, 200, `a request in flight finishes during the drain: ${describe(res)}`);
  assert.equal(await code, 0);
});
