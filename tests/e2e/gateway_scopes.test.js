// [gateway.scopes]: the scopes a proxied request needs by method and path prefix
// (docs/gateway.md). A read-only and a read-write client_credentials token go through
// every method against a real upstream that records what reaches it; the 403 and 401
// challenges name the scopes of the route; method-override headers never reach the
// upstream; a bad rule stops start-up with a message naming it.

import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { after, before, test } from 'node:test';

import { basic, describeResponse, postToken, readBody } from './lib/http.js';
import { ISSUER, createPlugauth } from './lib/server.js';

const RESOURCE_METADATA = `${ISSUER}/.well-known/oauth-protected-resource`;
const SCOPES = 'todo.read todo.write admin.read';
const RULES = [
  '[gateway.scopes]',
  'GET = todo.read',
  'POST PUT PATCH DELETE = todo.write',
  'GET /api/admin/ = admin.read',
  '',
].join('\n');

// An upstream that answers 200 to everything and keeps what it received.
function startUpstream() {
  const seen = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(req.method === 'HEAD' ? undefined : '{"ok":true}');
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

function request(base, { method = 'GET', path, headers = {}, body } = {}) {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname, port: url.port, method, path, agent: false,
      headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
    }, (res) => {
      readBody(res).then((b) => resolve({ status: res.statusCode, headers: res.headers, ...b }), reject);
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error('request timed out')));
    req.end(body);
  });
}

const show = (res) => `HTTP ${res.status} ${JSON.stringify(res.headers)} ${res.text}`;
const bearer = (tok) => ({ authorization: `Bearer ${tok}` });

// An instance whose [oauth] scopes include admin.read, with `extra` appended to its file.
function instance(extra) {
  const pa = createPlugauth();
  const conf = readFileSync(pa.conf, 'utf8');
  assert.match(conf, /^scopes = todo\.read todo\.write$/m);
  writeFileSync(pa.conf, conf.replace(/^scopes = .*$/m, `scopes = ${SCOPES}`));
  appendFileSync(pa.conf, `\n${extra}`);
  return pa;
}

async function clientToken(base, c, scope) {
  const res = await postToken(base, {
    body: { grant_type: 'client_credentials', scope },
    authorization: basic(c.client_id, c.client_secret),
  });
  assert.equal(res.status, 200, describeResponse(res));
  assert.equal(res.json.scope, scope);
  return res.json.access_token;
}

let up;
let pa;
let base;
const tok = {};   // read, write (only), rw, admin: tokens with those scopes
const servers = [];

before(async () => {
  up = await startUpstream();
  pa = instance(RULES);
  servers.push(pa);
  const c = pa.addClient({ name: 'scopes-e2e' });
  base = await pa.start({ env: { PLUGAUTH_GATEWAY_UPSTREAM: up.url } });
  tok.read = await clientToken(base, c, 'todo.read');
  tok.write = await clientToken(base, c, 'todo.write');
  tok.rw = await clientToken(base, c, 'todo.read todo.write');
  tok.admin = await clientToken(base, c, 'todo.read admin.read');
});

after(async () => {
  for (const s of servers) await s.cleanup();
  await up?.close();
});

// Sends method path with token; checks 200 and that the upstream got it, or 403 with
// the challenge for `need` and that the upstream got nothing.
async function expect(method, path, token, need) {
  const before = up.seen.length;
  const body = ['POST', 'PUT', 'PATCH'].includes(method) ? '{"title":"x"}' : undefined;
  const res = await request(base, {
    method, path, body,
    headers: { ...bearer(token), ...(body ? { 'content-type': 'application/json' } : {}) },
  });
  const what = `${method} ${path}: ${show(res)}`;
  if (need === null) {
    assert.equal(res.status, 200, what);
    assert.equal(up.seen.length, before + 1, what);
    assert.equal(up.seen.at(-1).method, method, what);
    return res;
  }
  assert.equal(res.status, 403, what);
  assert.equal(res.headers['www-authenticate'],
    `Bearer error="insufficient_scope", scope="${need}", resource_metadata="${RESOURCE_METADATA}"`, what);
  if (method !== 'HEAD') {   // an answer to HEAD has no body
    assert.equal(res.json?.error, 'insufficient_scope', what);
    assert.equal(typeof res.json?.error_description, 'string', what);
  }
  assert.equal(up.seen.length, before, `${what}: the upstream got a refused request`);
  return res;
}

test('gateway_scopes_read_token_reads_but_cannot_write', async () => {
  await expect('GET', '/api/todos', tok.read, null);
  await expect('HEAD', '/api/todos', tok.read, null);
  for (const m of ['POST', 'PUT', 'PATCH', 'DELETE']) {
    await expect(m, '/api/todos/1', tok.read, 'todo.write');
  }
});

test('gateway_scopes_read_write_token_does_every_method', async () => {
  for (const m of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) {
    await expect(m, '/api/todos/1', tok.rw, null);
  }
});

test('gateway_scopes_write_only_token_cannot_read_and_head_follows_get', async () => {
  await expect('POST', '/api/todos', tok.write, null);
  await expect('GET', '/api/todos', tok.write, 'todo.read');
  // No rule names HEAD: GET's applies (frameworks answer HEAD with the GET handler).
  await expect('HEAD', '/api/todos', tok.write, 'todo.read');
  // No rule names OPTIONS: only [gateway] scope (unset here) applies.
  await expect('OPTIONS', '/api/todos', tok.write, null);
});

test('gateway_scopes_longest_prefix_wins_however_the_path_is_spelt', async () => {
  await expect('GET', '/api/admin/users', tok.admin, null);
  await expect('GET', '/api/admin/users', tok.rw, 'admin.read');
  // Spellings an upstream may route to /api/admin/ need admin.read too.
  for (const p of ['/api/%61dmin/users', '/api//admin/users', '/api/admin;x=1/users',
    '/api/ADMIN/users', '/api/admin%2Fusers']) {
    await expect('GET', p, tok.rw, 'admin.read');
  }
  // The admin rule names GET only: a write under it needs todo.write (the rule for /api/).
  await expect('DELETE', '/api/admin/users/1', tok.admin, 'todo.write');
  await expect('DELETE', '/api/admin/users/1', tok.rw, null);
  // Not under the prefix: /api/administrators is a sibling only by its letters.
  await expect('GET', '/api/adminx', tok.read, null);
});

test('gateway_scopes_401_challenge_names_the_route_scope', async () => {
  for (const [method, path, need] of [
    ['GET', '/api/todos', 'todo.read'],
    ['DELETE', '/api/todos/1', 'todo.write'],
    ['GET', '/api/admin/x', 'admin.read'],
  ]) {
    const res = await request(base, { method, path });
    assert.equal(res.status, 401, show(res));
    assert.equal(res.headers['www-authenticate'],
      `Bearer resource_metadata="${RESOURCE_METADATA}", scope="${need}"`, `${method} ${path}`);
    assert.equal(res.json?.error, 'unauthorized');
  }
  // No route for OPTIONS and no [gateway] scope: no scope to name.
  const res = await request(base, { method: 'OPTIONS', path: '/api/todos' });
  assert.equal(res.status, 401, show(res));
  assert.equal(res.headers['www-authenticate'], `Bearer resource_metadata="${RESOURCE_METADATA}"`);
});

test('gateway_scopes_method_override_headers_never_reach_the_upstream', async () => {
  const overrides = {
    'X-HTTP-Method-Override': 'DELETE',
    'X-HTTP-Method': 'DELETE',
    'X-Method-Override': 'DELETE',
    'x-http-method-override': 'PUT',
  };
  const res = await request(base, { path: '/api/todos/1', headers: { ...bearer(tok.read), ...overrides } });
  assert.equal(res.status, 200, show(res));
  const got = up.seen.at(-1);
  assert.equal(got.method, 'GET');
  for (const h of ['x-http-method-override', 'x-http-method', 'x-method-override']) {
    assert.equal(got.headers[h], undefined, `${h} reached the upstream`);
  }
  assert.equal(got.headers['x-plugauth-signature'], undefined, 'no signature without identity_secret_file');
});

test('gateway_scopes_verify_endpoint_knows_no_method_and_keeps_gateway_scope_only', async () => {
  // nginx's auth_request sends no original method (docs/nginx.md): /oauth/verify checks
  // the token and [gateway] scope only.
  const res = await request(base, { path: '/oauth/verify', headers: bearer(tok.write) });
  assert.equal(res.status, 204, show(res));
});

test('gateway_scopes_add_to_gateway_scope', async () => {
  const inst = instance(RULES);
  servers.push(inst);
  const c = inst.addClient({ name: 'scopes-both' });
  const b = await inst.start({
    env: { PLUGAUTH_GATEWAY_UPSTREAM: up.url, PLUGAUTH_GATEWAY_SCOPE: 'todo.read' },
  });
  const w = await clientToken(b, c, 'todo.write');
  const res = await request(b, { method: 'POST', path: '/api/todos', headers: bearer(w), body: '{}' });
  assert.equal(res.status, 403, show(res));
  assert.equal(res.headers['www-authenticate'],
    `Bearer error="insufficient_scope", scope="todo.read todo.write", resource_metadata="${RESOURCE_METADATA}"`);
  const noTok = await request(b, { method: 'POST', path: '/api/admin/x', body: '{}' });
  assert.equal(noTok.status, 401, show(noTok));
  assert.match(noTok.headers['www-authenticate'], /, scope="todo\.read todo\.write"$/);
  await inst.stop();
});

test('gateway_scopes_bad_rules_stop_start_up_naming_the_line', async () => {
  const cases = [
    ['GET = todo.delete', /plugauth\.conf:\d+: \[gateway\.scopes\] GET: 'todo\.delete' is not in \[oauth\] scopes/],
    ['get = todo.read', /\[gateway\.scopes\] get: 'get' is not an HTTP method/],
    ['GE(T = todo.read', /\[gateway\.scopes\] GE\(T: 'GE\(T' is not an HTTP method/],
    ['GET /other/ = todo.read', /\[gateway\.scopes\] GET: path prefix must start with \[gateway\] path '\/api\/'/],
    ['/api/x/ = todo.read', /\[gateway\.scopes\] \/api\/x\/: must name HTTP methods/],
    ['GET /api/x/ POST = todo.read', /the path prefix must come last/],
    ['GET /api/%61/ = todo.read', /may not hold '%'/],
    ['GET = todo.read\nGET POST = todo.write', /\[gateway\.scopes\] GET POST: GET for \/api\/ given twice \(first on line \d+\)/],
  ];
  for (const [line, want] of cases) {
    const inst = instance(`[gateway.scopes]\n${line}\n`);
    servers.push(inst);
    await assert.rejects(inst.start({ env: { PLUGAUTH_GATEWAY_UPSTREAM: up.url } }), (err) => {
      assert.match(err.message, want, line);
      return true;
    });
    assert.notEqual(inst.exitCode, 0, line);
  }
});
