// The gateway against requests crafted to get past it (issue 9): header names that
// CGI/WSGI/Rack servers fold onto the identity headers, client-address headers, paths
// that a WHATWG URL parser resolves out of [gateway] path, bodies sent without a token,
// and an upstream that tries to set or clear plugauth's sign-in cookie.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { after, before, test } from 'node:test';

import { basic, describeResponse, postToken, readBody, textAndJson } from './lib/http.js';
import { createPlugauth } from './lib/server.js';

const PREFIX = '/api/';
const BODY_MAX = 2 * 1024 * 1024;  // [gateway] body_max_bytes: a 1 MiB body is allowed
const MIB = 1024 * 1024;
const DEADLINE_MS = 10_000;

// --- the upstream --------------------------------------------------------------------------

// Records each request with the pathname a WHATWG URL parser (Node's `new URL()`, what
// Express and most Node routers use) resolves it to. /api/set-cookie answers with
// cookies for plugauth's own name among others.
function startUpstream() {
  const seen = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let pathname = null;
      try { pathname = new URL(req.url, 'http://x').pathname; } catch { /* unparsable */ }
      seen.push({ url: req.url, pathname, headers: req.headers, rawHeaders: req.rawHeaders, body });
      const out = JSON.stringify({
        bytes: body.length, sha256: createHash('sha256').update(body).digest('hex'),
      });
      const head = ['Content-Type', 'application/json', 'Content-Length', String(Buffer.byteLength(out))];
      if (pathname === '/api/set-cookie') {
        head.push(
          'Set-Cookie', 'plugauth_session=pa_ss_fixated; Path=/; HttpOnly',
          'Set-Cookie', '__Host-plugauth_session=pa_ss_fixated2; Path=/; Secure',
          'Set-Cookie', 'PLUGAUTH_SESSION=pa_ss_upper; Path=/',
          'Set-Cookie', 'plugauth_session=; Max-Age=0; Path=/',
          'Set-Cookie', 'plugauth_session',
          'Set-Cookie', 'api_pref=1; Path=/api/',
          'Set-Cookie', 'plugauth_sessionx=2',
          'Clear-Site-Data', '"cookies"',
        );
      }
      res.writeHead(200, head);
      res.end(out);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        seen,
        close: () => new Promise((res) => {
          server.closeAllConnections?.();
          server.close(() => res());
        }),
      });
    });
  });
}

// --- requests ------------------------------------------------------------------------------

// A request with node:http (header names as given, exact path).
function request(base, { method = 'GET', path, headers = {}, body } = {}) {
  const url = new URL(base);
  const buf = body === undefined ? undefined : Buffer.from(body);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname, port: url.port, method, path, agent: false,
      headers: buf === undefined ? headers : { ...headers, 'content-length': String(buf.length) },
    }, (res) => {
      readBody(res).then((b) => resolve({
        status: res.statusCode, raw: res.headers, rawHeaders: res.rawHeaders,
        headers: new Headers(), ...b,
      }), reject);
    });
    req.on('error', reject);
    req.setTimeout(DEADLINE_MS, () => req.destroy(new Error('request timed out')));
    req.end(buf);
  });
}

// Sends `head` (the request line and headers, CRLF-terminated, without the blank line)
// byte for byte over a socket, then `body`, and resolves with the answer once the server
// closes the connection: {status, text, json}. Nothing here rewrites the target.
function rawExchange(base, head, body = '') {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(url.port), url.hostname);
    const chunks = [];
    const timer = setTimeout(() => sock.destroy(new Error(`no answer to ${head.split('\r\n')[0]}`)),
      DEADLINE_MS);
    // write, not end: a half-closed connection is one libmicrohttpd stops serving.
    sock.on('connect', () => sock.write(Buffer.concat([Buffer.from(`${head}\r\n`), Buffer.from(body)])));
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', (err) => { clearTimeout(timer); reject(err); });
    sock.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] ([0-9]{3})/.exec(text);
      if (!m) {
        reject(new Error(`no HTTP answer to ${head.split('\r\n')[0]}: ${JSON.stringify(text.slice(0, 200))}`));
        return;
      }
      const sep = text.indexOf('\r\n\r\n');
      resolve({ status: Number(m[1]), head: text.slice(0, sep), ...textAndJson(text.slice(sep + 4)) });
    });
  });
}

// The request's headers as a CGI/WSGI/Rack server sees them: HTTP_<NAME> with '-' as
// '_', upper case; a later header of the same key overwrites (or joins) an earlier one.
function cgiKeys(rawHeaders) {
  const env = {};
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const key = 'HTTP_' + rawHeaders[i].toUpperCase().replace(/-/g, '_');
    (env[key] ??= []).push(rawHeaders[i + 1]);
  }
  return env;
}

function headerNames(rawHeaders) {
  const names = [];
  for (let i = 0; i < rawHeaders.length; i += 2) names.push(rawHeaders[i]);
  return names;
}

function vmKiB(pid, field) {
  const m = new RegExp(`^${field}:\\s+([0-9]+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, `${field} in /proc/${pid}/status`);
  return Number(m[1]);
}

// --- set-up --------------------------------------------------------------------------------

let up;
let pa;
let base;
let client;
let token;   // client_credentials: a token without a user

before(async () => {
  up = await startUpstream();
  pa = createPlugauth();
  client = pa.addClient({ name: 'gateway-tricks' });
  base = await pa.start({
    env: {
      PLUGAUTH_GATEWAY_UPSTREAM: up.url,
      PLUGAUTH_GATEWAY_BODY_MAX_BYTES: String(BODY_MAX),
    },
  });
  const res = await postToken(base, {
    body: { grant_type: 'client_credentials' },
    authorization: basic(client.client_id, client.client_secret),
  });
  assert.equal(res.status, 200, describeResponse(res));
  token = res.json.access_token;
});

after(async () => {
  const log = pa?.log ?? '';
  await pa?.cleanup();
  await up?.close();
  if (token) assert.ok(!log.includes(token), 'the access token reached the server log');
});

const bearer = () => ({ authorization: `Bearer ${token}` });

// --- headers -------------------------------------------------------------------------------

test('gateway_drops_every_header_name_with_an_underscore', async () => {
  // Underscore spellings of every header the gateway drops or sets: a CGI/WSGI/Rack
  // upstream would read X_Plugauth_User as X-Plugauth-User (GHSA-9hf4-67fc-4vf4), and
  // with a token that has no user there is no real one to win.
  const tricks = {
    X_Plugauth_User: 'root',
    'X-Plugauth_User': 'root2',
    'X-Plugauth_Scope': 'admin',
    x_plugauth_client: 'evil-client',
    X_Plugauth_Grant: 'authorization_code',
    X_Plugauth_Subject: '1',
    Proxy_Authorization: 'Basic cm9vdDpyb290',
    Authorization_: 'Bearer stolen',
    X_Forwarded_For: '203.0.113.1',
    'X-Forwarded_Proto': 'https',
    X_Forwarded_Host: 'admin.example',
    X_Forwarded_Port: '443',
    X_Real_IP: '203.0.113.2',
    X_Client_IP: '203.0.113.3',
    Forwarded_: 'for=203.0.113.4',
    X_Host: 'admin.example',
    Content_Length: '5',
    Transfer_Encoding: 'chunked',
    Keep_Alive: 'timeout=99',
  };
  const before = up.seen.length;
  const res = await request(base, {
    path: '/api/underscores', headers: { ...bearer(), ...tricks, 'X-Kept-Header': 'yes' },
  });
  assert.equal(res.status, 200, describeResponse(res));
  assert.equal(up.seen.length, before + 1);
  const got = up.seen.at(-1);
  const names = headerNames(got.rawHeaders);
  assert.deepEqual(names.filter((n) => n.includes('_')), [], `underscored names reached the upstream: ${names}`);
  assert.equal(got.headers['x-kept-header'], 'yes');
  const env = cgiKeys(got.rawHeaders);
  assert.equal(env.HTTP_X_PLUGAUTH_USER, undefined, JSON.stringify(env));
  assert.equal(env.HTTP_X_PLUGAUTH_SUBJECT, undefined, JSON.stringify(env));
  assert.deepEqual(env.HTTP_X_PLUGAUTH_CLIENT, [client.client_id]);
  assert.deepEqual(env.HTTP_X_PLUGAUTH_SCOPE, ['todo.read']);
  assert.deepEqual(env.HTTP_X_PLUGAUTH_GRANT, ['client_credentials']);
  assert.deepEqual(env.HTTP_X_FORWARDED_FOR, ['127.0.0.1']);
  assert.deepEqual(env.HTTP_X_FORWARDED_PROTO, ['http']);
  assert.deepEqual(env.HTTP_X_FORWARDED_HOST, [new URL(base).host]);
  assert.deepEqual(env.HTTP_X_REAL_IP, ['127.0.0.1']);
  for (const k of ['HTTP_X_FORWARDED_PORT', 'HTTP_X_CLIENT_IP', 'HTTP_FORWARDED_', 'HTTP_X_HOST',
    'HTTP_PROXY_AUTHORIZATION', 'HTTP_AUTHORIZATION_', 'HTTP_AUTHORIZATION', 'HTTP_CONTENT_LENGTH',
    'HTTP_TRANSFER_ENCODING']) {
    assert.equal(env[k], undefined, `${k}: ${JSON.stringify(env)}`);
  }
});

test('gateway_drops_client_address_headers_and_sets_x_real_ip', async () => {
  // Forwarded (RFC 7239) and the X-Real-IP family would let a client name its own
  // address; X-Forwarded-For is appended to (the last entry is the peer plugauth saw).
  const res = await request(base, {
    path: '/api/address',
    headers: {
      ...bearer(),
      Forwarded: 'for=203.0.113.9;proto=https;host=admin.example',
      'X-Real-IP': '203.0.113.10',
      'X-Client-IP': '203.0.113.11',
      'True-Client-IP': '203.0.113.12',
      'X-Cluster-Client-IP': '203.0.113.13',
      'X-Forwarded-Port': '8443',
      'X-Forwarded-Prefix': '/admin',
      'X-Forwarded-Server': 'admin.example',
      'X-Forwarded-For': '198.51.100.7',
    },
  });
  assert.equal(res.status, 200, describeResponse(res));
  const got = up.seen.at(-1);
  for (const h of ['forwarded', 'x-client-ip', 'true-client-ip', 'x-cluster-client-ip',
    'x-forwarded-port', 'x-forwarded-prefix', 'x-forwarded-server']) {
    assert.equal(got.headers[h], undefined, `${h} reached the upstream: ${headerNames(got.rawHeaders)}`);
  }
  assert.equal(got.headers['x-real-ip'], '127.0.0.1');
  assert.equal(got.headers['x-forwarded-for'], '198.51.100.7, 127.0.0.1');
  assert.equal(got.headers['x-forwarded-proto'], 'http');
});

test('gateway_drops_path_override_headers', async () => {
  // X-Original-URL and X-Rewrite-URL make Symfony and IIS upstreams route by them
  // instead of the request line: a way out of [gateway] path.
  const res = await request(base, {
    path: '/api/override',
    headers: { ...bearer(), 'X-Original-URL': '/admin/users', 'X-Rewrite-URL': '/admin/users' },
  });
  assert.equal(res.status, 200, describeResponse(res));
  const got = up.seen.at(-1);
  for (const h of ['x-original-url', 'x-rewrite-url']) {
    assert.equal(got.headers[h], undefined, `${h} reached the upstream: ${headerNames(got.rawHeaders)}`);
  }
});

test('gateway_never_sends_an_empty_identity_header', async () => {
  // A token without a user: no X-Plugauth-User at all (not an empty one), and
  // X-Plugauth-Grant says why; the same at /oauth/verify.
  const res = await request(base, { path: '/api/who', headers: bearer() });
  assert.equal(res.status, 200, describeResponse(res));
  const got = up.seen.at(-1);
  const ids = [];
  for (let i = 0; i < got.rawHeaders.length; i += 2) {
    if (/^x-plugauth-/i.test(got.rawHeaders[i])) ids.push([got.rawHeaders[i].toLowerCase(), got.rawHeaders[i + 1]]);
  }
  assert.deepEqual(ids.sort(), [
    ['x-plugauth-client', client.client_id],
    ['x-plugauth-grant', 'client_credentials'],
    ['x-plugauth-scope', 'todo.read'],
  ]);
  const v = await request(base, { path: '/oauth/verify', headers: bearer() });
  assert.equal(v.status, 204, describeResponse(v));
  const vids = [];
  for (let i = 0; i < v.rawHeaders.length; i += 2) {
    if (/^x-plugauth-/i.test(v.rawHeaders[i])) vids.push([v.rawHeaders[i].toLowerCase(), v.rawHeaders[i + 1]]);
  }
  assert.deepEqual(vids.sort(), ids.sort());
});

test('gateway_upstream_cannot_set_or_clear_the_session_cookie', async () => {
  const res = await request(base, { path: '/api/set-cookie', headers: bearer() });
  assert.equal(res.status, 200, describeResponse(res));
  assert.equal(up.seen.at(-1).pathname, '/api/set-cookie');
  const cookies = res.raw['set-cookie'] ?? [];
  assert.deepEqual(cookies, ['api_pref=1; Path=/api/', 'plugauth_sessionx=2'],
    `the client got: ${JSON.stringify(cookies)}`);
  assert.equal(res.raw['clear-site-data'], undefined, 'Clear-Site-Data would sign the user out');
});

// --- paths ---------------------------------------------------------------------------------

// Each request-target: 400 (refused by plugauth), or 'pass' (reaches the upstream under
// the prefix), or 'either'. Whatever the answer, no request may reach the upstream with
// a pathname outside the prefix.
const PATH_TRICKS = [
  ['/api/x/..\\..\\admin/users', 400],
  ['/api/x\\..\\..\\admin', 400],
  ['/api/..\\admin', 400],
  ['/api/x/%5c..%5c..%5cadmin', 400],
  ['/api/x/..%5c..%5cadmin', 400],
  ['/api/x/..%5C..%5Cadmin', 400],
  ['/api/x%00/../../admin/users', 400],
  ['/api/x/%00/../../admin', 400],
  ['/api/x%00', 400],
  ['/api/%2e%2e/admin', 400],
  ['/api/%2E%2E/admin', 400],
  ['/api/%2e%2E/admin', 400],
  ['/api/.%2e/admin', 400],
  ['/api/%2e./admin', 400],
  ['/api/x/.%2E/.%2E/admin/users', 400],
  ['/api/x/%2e%2e/%2e%2e/admin', 400],
  ['/api/%2e/../admin', 400],
  ['/api/..;/admin', 400],
  ['/api/x/..;/..;/admin', 400],
  ['/api/..;x=1/admin', 400],
  ['/api/..%3b/admin', 400],
  ['/api/.;/admin', 400],
  ['/api/..%2fadmin', 400],
  ['/api/x/..%2f..%2fadmin', 400],
  ['/api/x/..%2F..%2Fadmin', 400],
  ['/api%2f..%2fadmin', 400],
  ['/api%2F..%2Fadmin', 400],
  ['/%61pi/../admin', 400],
  ['/%61pi/x', 400],
  ['/api/../admin', 400],
  ['/api/./x', 400],
  ['/api/x/..', 400],
  ['/api/x/..?q=1', 400],
  ['/api/x#/../../admin', 'either'],
  ['/api/%252e%252e/admin', 'pass'],      // a literal "%2e%2e": not a dot-segment
  ['/api/%252e%252e%252fadmin', 'pass'],
  ['/api/x/.../admin', 'pass'],
  ['/api/a;b/c', 'pass'],
  ['/api/items/a%2Fb', 'pass'],
  ['/api/x?next=../../admin', 'pass'],
];

test('gateway_path_tricks_never_reach_the_upstream_outside_the_prefix', async () => {
  const problems = [];
  for (const [i, [target, want]] of PATH_TRICKS.entries()) {
    const before = up.seen.length;
    const res = await rawExchange(base, `GET ${target} HTTP/1.1\r\nHost: gw.test\r\n`
      + `Authorization: Bearer ${token}\r\nX-Trick: ${i}\r\nConnection: close\r\n`);
    const reached = up.seen.slice(before).filter((r) => r.headers['x-trick'] === String(i));
    for (const r of reached) {
      if (r.pathname === null || !r.pathname.startsWith(PREFIX)) {
        problems.push(`${target}: the upstream resolved it to ${r.pathname} (${r.url})`);
      }
    }
    if (want === 400) {
      if (res.status !== 400 || res.json?.error !== 'invalid_request') {
        problems.push(`${target}: want 400 invalid_request, got ${res.status} ${res.text}`);
      }
      if (reached.length > 0) problems.push(`${target}: refused, yet the upstream saw it`);
    } else if (want === 'pass') {
      if (res.status !== 200 || reached.length !== 1) {
        problems.push(`${target}: want it forwarded, got ${res.status} ${res.text}`);
      } else if (reached[0].url !== target) {
        problems.push(`${target}: forwarded as ${reached[0].url}, not unchanged`);
      }
    } else if (res.status === 200 ? reached.length !== 1 : res.status !== 400) {
      problems.push(`${target}: got ${res.status} ${res.text}`);
    }
  }
  assert.deepEqual(problems, []);
});

// --- bodies without a token ------------------------------------------------------------------

// Opens a connection, sends a POST head announcing `length` bytes and then `send` bytes
// of body, and resolves with the status line the server answers with. With send <
// length the rest never comes: no answer by the deadline rejects. With the whole body,
// a server that answers early and closes may reset the connection before the client has
// read the answer: that resolves with status 'reset' when `resetOk`.
function upload(port, { length, send, headers = '', resetOk = false }) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let text = '';
    let reset = false;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer within ${DEADLINE_MS} ms while ${length - send} bytes of the body were still to come`));
    }, DEADLINE_MS);
    sock.on('connect', () => {
      sock.write(`POST /api/upload HTTP/1.1\r\nHost: gw.test\r\nContent-Type: application/octet-stream\r\n`
        + `Content-Length: ${length}\r\n${headers}\r\n`);
      sock.write(Buffer.alloc(send, 0x61));
    });
    sock.on('data', (c) => {
      text += c.toString('latin1');
      const m = /^HTTP\/1\.1 ([0-9]{3})[^\r]*\r\n/.exec(text);
      if (m) {
        clearTimeout(timer);
        sock.destroy();
        resolve({ status: Number(m[1]), text });
      }
    });
    sock.on('error', (err) => { reset = err.code === 'ECONNRESET' || err.code === 'EPIPE'; });
    sock.on('close', () => {
      clearTimeout(timer);
      if (reset && resetOk) resolve({ status: 'reset', text });
      else reject(new Error(`closed without an answer: ${JSON.stringify(text)}`));
    });
  });
}

test('gateway_answers_401_before_reading_an_unauthenticated_body', async () => {
  // 50 connections announce 1 MiB each and send 64 KiB of it: the 401 must come while
  // the rest of each body is still to come (a server that reads bodies first would wait
  // for bytes that never arrive). The server's memory must not grow by the bodies.
  const port = Number(new URL(base).port);
  const pid = pa.proc.pid;
  const rssBefore = vmKiB(pid, 'VmRSS');
  const before = up.seen.length;
  const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => upload(port, {
    length: MIB, send: 64 * 1024,
    headers: i % 2 ? 'Authorization: Bearer pa_at_unknownunknownunknownunknownunknown01\r\n' : '',
  })));
  for (const a of answers) {
    assert.equal(a.status, 401, a.text.slice(0, 300));
    assert.match(a.text, /\r\nWWW-Authenticate: Bearer /i);
  }
  const rssAfter = vmKiB(pid, 'VmRSS');
  assert.ok(rssAfter - rssBefore < 16 * 1024, `VmRSS grew by ${rssAfter - rssBefore} KiB`);
  assert.equal(up.seen.length, before, 'nothing reached the upstream');
});

test('gateway_whole_unauthenticated_bodies_do_not_grow_memory', async () => {
  // The reviewer's measurement: many token-less connections each sending 1 MiB whole.
  // Each is answered 401 and its body dropped unread, so the peak resident size stays
  // where it was (before the fix: +50 MiB and more). The server closes a connection it
  // answered early, so a client still sending may see a reset instead of the 401.
  const port = Number(new URL(base).port);
  const pid = pa.proc.pid;
  const hwmBefore = vmKiB(pid, 'VmHWM');
  const rssBefore = vmKiB(pid, 'VmRSS');
  const answers = await Promise.all(Array.from({ length: 50 }, () => upload(port, {
    length: MIB, send: MIB, resetOk: true,
  })));
  for (const a of answers) assert.ok(a.status === 401 || a.status === 'reset', a.text.slice(0, 300));
  const grew = vmKiB(pid, 'VmHWM') - hwmBefore;
  const rssGrew = vmKiB(pid, 'VmRSS') - rssBefore;
  assert.ok(grew < 16 * 1024 && rssGrew < 16 * 1024,
    `peak resident size grew by ${grew} KiB, resident size by ${rssGrew} KiB`);
  const res = await request(base, { path: '/api/still-there', headers: bearer() });
  assert.equal(res.status, 200, describeResponse(res));
});

test('gateway_expect_100_continue_without_a_token_gets_401_not_100', async () => {
  const url = new URL(base);
  const result = await new Promise((resolve, reject) => {
    let continued = false;
    const req = http.request({
      host: url.hostname, port: url.port, method: 'POST', path: '/api/upload', agent: false,
      headers: { 'content-length': String(MIB), expect: '100-continue' },
    }, (res) => { readBody(res).then((b) => resolve({ status: res.statusCode, continued, ...b }), reject); });
    req.on('continue', () => { continued = true; req.end(Buffer.alloc(MIB)); });
    req.on('error', reject);
    req.setTimeout(DEADLINE_MS, () => req.destroy(new Error('request timed out')));
    req.flushHeaders();
  });
  assert.equal(result.status, 401, result.text);
  assert.equal(result.continued, false, 'the server asked for the body of a request it refuses');
});

test('gateway_valid_token_posts_bodies_through', async () => {
  // The bearer check before the body does not get in the way of a good request: a
  // 1 MiB POST, plainly and with Expect: 100-continue, arrives whole.
  const body = Buffer.alloc(MIB);
  for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff;
  const sha = createHash('sha256').update(body).digest('hex');
  const res = await request(base, {
    method: 'POST', path: '/api/upload', headers: { ...bearer(), 'content-type': 'application/octet-stream' }, body,
  });
  assert.equal(res.status, 200, describeResponse(res));
  assert.equal(res.json.sha256, sha);
  assert.equal(up.seen.at(-1).body.length, MIB);

  const url = new URL(base);
  const r2 = await new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname, port: url.port, method: 'PUT', path: '/api/upload', agent: false,
      headers: { ...bearer(), 'content-length': String(MIB), expect: '100-continue' },
    }, (r) => { readBody(r).then((b) => resolve({ status: r.statusCode, ...b }), reject); });
    req.on('continue', () => req.end(body));
    req.on('error', reject);
    req.setTimeout(DEADLINE_MS, () => req.destroy(new Error('request timed out')));
    req.flushHeaders();
  });
  assert.equal(r2.status, 200, r2.text);
  assert.equal(r2.json.sha256, sha);
});
