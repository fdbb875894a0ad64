// The bad-input battery (docs/design.md, Reliability: "Malformed input of any kind gets a 4xx
// with a clear message; the server never crashes, hangs or leaks"): invalid JSON,
// non-object JSON, deep nesting, duplicate keys, invalid percent-encoding, NUL bytes,
// invalid UTF-8, repeated parameters, too many parameters, oversized headers, lying
// Content-Length, unknown methods, path traversal and very long URLs, against every
// endpoint. Each gets a 4xx with an RFC 6749 §5.2-shaped JSON body (the authorization
// endpoint: an HTML error page, or a redirect carrying error=), within 5 s, never a 5xx;
// nothing malformed reaches the gateway's upstream; and a burst of valid requests right
// after all succeed.
//
// Then the request limits of [server] (url_max_bytes, header_max_count, header_max_bytes,
// params_max, json_max_depth, body_max_bytes) and [gateway] body_max_bytes, at their
// defaults and at small configured values.
//
// Requests go out over raw sockets, byte for byte as written here: fetch and node:http
// would normalise the very inputs under test (NUL bytes, raw non-ASCII, dot segments).
// /oauth/token's own JSON and form errors are in token_endpoint.test.js; this file runs
// the same kinds of input against the other endpoints, and what is new against all.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import {
  assertTokenResponse, basic, describeResponse, formUrlEncode, get, postToken, rawRequest,
  textAndJson,
} from './lib/http.js';
import { Browser, authorizePath, hiddenValue, theForm } from './lib/flow.js';
import { ISSUER, createPlugauth } from './lib/server.js';

const ANSWER_MS = 5_000;           // every bad request is answered (or closed) within this
const REDIRECT = 'https://client.example/cb';

// [server] / [gateway] defaults (README.md, Configuration).
const URL_MAX = 8192;
const HEADER_MAX_COUNT = 100;
const HEADER_MAX_BYTES = 16384;
const PARAMS_MAX = 32;
const JSON_MAX_DEPTH = 32;
const BODY_MAX = 65536;
const GATEWAY_BODY_MAX = 1048576;

// The small values of the `tiny` server.
const TINY = {
  URL_MAX: 1024,
  HEADER_MAX_COUNT: 20,
  HEADER_MAX_BYTES: 2048,
  PARAMS_MAX: 8,
  JSON_MAX_DEPTH: 4,
  BODY_MAX: 1024,
  GATEWAY_BODY_MAX: 4096,
};

// --- raw HTTP/1.1 ------------------------------------------------------------------------

// Every complete response in buf, in order; an incomplete last one is marked partial.
function parseResponses(buf) {
  const out = [];
  let off = 0;
  while (off < buf.length) {
    const end = buf.indexOf('\r\n\r\n', off);
    if (end < 0) {
      out.push({ status: NaN, headers: new Headers(), text: buf.subarray(off).toString('latin1'), partial: true });
      break;
    }
    const lines = buf.subarray(off, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] ([0-9]{3})\b/.exec(lines[0]);
    const headers = new Headers();
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i > 0) {
        try { headers.append(l.slice(0, i).trim(), l.slice(i + 1).trim()); } catch { /* odd header */ }
      }
    }
    const status = m ? Number(m[1]) : NaN;
    let p = end + 4;
    let body;
    const cl = headers.get('content-length');
    if (!m) {
      out.push({ status, statusLine: lines[0], headers, text: '', partial: true });
      break;
    } else if (status === 204 || status === 304 || status < 200) {
      body = Buffer.alloc(0);
    } else if (cl !== null) {
      const n = Number(cl);
      if (buf.length < p + n) {
        out.push({ status, statusLine: lines[0], headers, text: buf.subarray(p).toString('utf8'), partial: true });
        break;
      }
      body = buf.subarray(p, p + n);
      p += n;
    } else if (/\bchunked\b/i.test(headers.get('transfer-encoding') ?? '')) {
      const parts = [];
      let q = p;
      let done = false;
      for (;;) {
        const e = buf.indexOf('\r\n', q);
        if (e < 0) break;
        const n = parseInt(buf.subarray(q, e).toString('latin1'), 16);
        if (Number.isNaN(n)) break;
        if (n === 0) {
          const t = buf.indexOf('\r\n', e + 2);
          if (t >= 0) { q = t + 2; done = true; }
          break;
        }
        if (buf.length < e + 2 + n + 2) break;
        parts.push(buf.subarray(e + 2, e + 2 + n));
        q = e + 2 + n + 2;
      }
      if (!done) {
        out.push({ status, statusLine: lines[0], headers, text: Buffer.concat(parts).toString('utf8'), partial: true });
        break;
      }
      body = Buffer.concat(parts);
      p = q;
    } else {
      body = buf.subarray(p);    // until the connection closes
      p = buf.length;
    }
    out.push({ status, statusLine: lines[0], headers, ...textAndJson(body.toString('utf8')) });
    off = p;
  }
  return out;
}

// Writes `data` (a Buffer, or an array of them written in turn) to a fresh connection and
// collects what comes back until the server closes, or `quietMs` after the last complete
// response, or `timeoutMs`. Resolves with {responses, closed, timedOut, ms, error}.
function exchange(base, data, { timeoutMs = ANSWER_MS, quietMs = 300 } = {}) {
  const url = new URL(base);
  return new Promise((resolve) => {
    const t0 = Date.now();
    const chunks = [];
    let finished = false;
    let closed = false;
    let error;
    let quiet;
    const sock = net.connect({ host: url.hostname, port: Number(url.port) });
    const finish = (timedOut) => {
      if (finished) return;
      finished = true;
      clearTimeout(hard);
      clearTimeout(quiet);
      sock.destroy();
      const raw = Buffer.concat(chunks);
      resolve({ responses: parseResponses(raw), raw, closed, timedOut, ms: Date.now() - t0, error });
    };
    const hard = setTimeout(() => finish(true), timeoutMs);
    sock.on('data', (c) => {
      chunks.push(c);
      clearTimeout(quiet);
      const rs = parseResponses(Buffer.concat(chunks));
      if (rs.length > 0 && !rs[rs.length - 1].partial) quiet = setTimeout(() => finish(false), quietMs);
    });
    sock.on('error', (err) => { error = err.code ?? String(err); });
    sock.on('close', () => { closed = true; finish(false); });
    sock.on('connect', () => {
      for (const d of [].concat(data)) sock.write(d);
    });
  });
}

const bytes = (s) => (Buffer.isBuffer(s) ? s : Buffer.from(s, 'latin1'));

// One request, byte for byte: `headers` is a list of [name, value] (strings are latin1, so
// '\xff' is the byte 0xff). Host comes first; Content-Length is added for a body unless
// `contentLength` says otherwise (a number, or null for none).
function rawBytes({ method, target, headers = [], body, contentLength, host }) {
  const h = [['Host', host], ...headers];
  const b = body === undefined ? undefined : bytes(body);
  if (contentLength !== null && (contentLength !== undefined || b !== undefined)) {
    h.push(['Content-Length', String(contentLength ?? b.length)]);
  }
  const head = `${method} ${target} HTTP/1.1\r\n` + h.map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n';
  return b === undefined ? bytes(head) : Buffer.concat([bytes(head), b]);
}

// What an exchange got, for assertion messages.
function describeExchange(ex) {
  const rs = ex.responses.map((r) => {
    if (r.partial) return `partial ${JSON.stringify(r.text.slice(0, 200))}`;
    const h = ['content-type', 'location', 'connection'].filter((k) => r.headers.has(k))
      .map((k) => `${k}: ${r.headers.get(k)}`).join('; ');
    return `HTTP ${r.status} (${h}) ${JSON.stringify(r.text.slice(0, 200))}`;
  });
  return `[${rs.join(' | ') || 'no response'}] after ${ex.ms} ms`
    + `${ex.closed ? ', closed' : ''}${ex.timedOut ? ', TIMED OUT' : ''}${ex.error ? `, ${ex.error}` : ''}`;
}

// --- the upstream behind the gateway --------------------------------------------------------

// Records every request (url, body size) and answers 200 JSON.
function startUpstream() {
  const seen = [];
  const server = http.createServer((req, res) => {
    let n = 0;
    req.on('data', (c) => { n += c.length; });
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, bytes: n });
      const out = JSON.stringify({ ok: true, url: req.url, bytes: n });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
      res.end(out);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        seen,
        close: () => new Promise((res) => { server.closeAllConnections?.(); server.close(() => res()); }),
      });
    });
  });
}

// --- the servers -----------------------------------------------------------------------------

let up;
let main;         // defaults (plus the gateway)
let tiny;         // small configured limits
let slow;         // connection_timeout = 2 s, for Content-Length that promises more than comes
const instances = [];
const seen = new Set();   // every secret and token the test saw: none may reach a log

function remember(v) {
  if (typeof v === 'string' && v.length > 0) seen.add(v);
  return v;
}

// A plugauth with the gateway in front of `up`, a confidential client registered for
// REDIRECT, a client_credentials access token of it, and a browser session (cookie and
// CSRF token of its sign-in page) for posting to the authorization endpoint.
async function startInstance(name, env = {}) {
  const pa = createPlugauth();
  const inst = { name, pa };
  instances.push(inst);
  inst.client = pa.addClient({ name: `bad-input-${name}`, redirectUris: [REDIRECT] });
  remember(inst.client.client_secret);
  // Outside the demo /openapi.yaml is served only from [plugin] openapi_file.
  const spec = join(pa.dir, 'openapi.yaml');
  writeFileSync(spec, `openapi: 3.0.3\nservers:\n  - url: ${ISSUER}\npaths: {}\n`);
  inst.base = await pa.start({
    env: { PLUGAUTH_GATEWAY_UPSTREAM: up.url, PLUGAUTH_PLUGIN_OPENAPI_FILE: spec, ...env },
  });
  inst.host = new URL(inst.base).host;
  inst.basic = basic(inst.client.client_id, inst.client.client_secret);
  const res = await postToken(inst.base, {
    body: { grant_type: 'client_credentials' }, authorization: inst.basic,
  });
  assert.equal(res.status, 200, `${name}: ${describeResponse(res)}`);
  inst.token = remember(res.json.access_token);
  const browser = new Browser(inst.base, seen);
  const page = await browser.get(authorizePath(authorizeParams(inst)));
  assert.equal(page.status, 200, `${name}: ${describeResponse(page)}`);
  inst.csrf = hiddenValue(theForm(page), 'csrf');
  inst.cookie = browser.jar.header();
  assert.ok(inst.csrf && inst.cookie, `${name}: a session and a CSRF token`);
  return inst;
}

before(async () => {
  up = await startUpstream();
  main = await startInstance('main');
  tiny = await startInstance('tiny', {
    PLUGAUTH_SERVER_URL_MAX_BYTES: String(TINY.URL_MAX),
    PLUGAUTH_SERVER_HEADER_MAX_COUNT: String(TINY.HEADER_MAX_COUNT),
    PLUGAUTH_SERVER_HEADER_MAX_BYTES: String(TINY.HEADER_MAX_BYTES),
    PLUGAUTH_SERVER_PARAMS_MAX: String(TINY.PARAMS_MAX),
    PLUGAUTH_SERVER_JSON_MAX_DEPTH: String(TINY.JSON_MAX_DEPTH),
    PLUGAUTH_SERVER_BODY_MAX_BYTES: String(TINY.BODY_MAX),
    PLUGAUTH_GATEWAY_BODY_MAX_BYTES: String(TINY.GATEWAY_BODY_MAX),
  });
  slow = await startInstance('slow', { PLUGAUTH_SERVER_CONNECTION_TIMEOUT: '2' });
});

after(async () => {
  const logs = instances.map((i) => i.pa.log).join('\n');
  for (const i of instances) await i.pa.cleanup();
  await up?.close();
  for (const v of seen) {
    assert.ok(!logs.includes(v), `a secret reached the server log: ${v.slice(0, 10)}…`);
  }
});

// --- the endpoints -----------------------------------------------------------------------------

// kind: 'json' answers errors as RFC 6749 §5.2 JSON; 'page' (the authorization endpoint) as
// an HTML error page or a redirect to the client with error=.
// params: where the endpoint reads its parameters ('query', 'form' body, or 'body': form or
// JSON); badKey: the parameter bad values go into; valid(inst): its valid parameters.
// auth: 'basic' (client) or 'bearer' (access token); cookie: the browser session.
// gateway: proxied to the upstream.
const ENDPOINTS = [
  { name: 'healthz', method: 'GET', path: '/healthz', kind: 'json' },
  {
    name: 'authorize_get', method: 'GET', path: '/oauth/authorize', kind: 'page', params: 'query',
    badKey: 'state', valid: authorizeParams,
  },
  {
    // The sign-in form posted back without a username: the sign-in page again.
    name: 'authorize_post', method: 'POST', path: '/oauth/authorize', kind: 'page', params: 'form',
    badKey: 'state', valid: (inst) => [...authorizeParams(inst), ['csrf', inst.csrf]], cookie: true,
  },
  {
    name: 'token', method: 'POST', path: '/oauth/token', kind: 'json', params: 'body', auth: 'basic',
    badKey: 'scope', valid: () => [['grant_type', 'client_credentials']],
  },
  {
    name: 'introspect', method: 'POST', path: '/oauth/introspect', kind: 'json', params: 'body', auth: 'basic',
    badKey: 'token', valid: (inst) => [['token', inst.token]],
  },
  {
    // An unknown token: revocation answers 200 (RFC 7009 §2.2) and the token stays valid.
    name: 'revoke', method: 'POST', path: '/oauth/revoke', kind: 'json', params: 'body', auth: 'basic',
    badKey: 'token', valid: () => [['token', 'pa_at_' + randomBytes(32).toString('base64url')]],
  },
  { name: 'verify', method: 'GET', path: '/oauth/verify', kind: 'json', auth: 'bearer' },
  { name: 'as_metadata', method: 'GET', path: '/.well-known/oauth-authorization-server', kind: 'json' },
  { name: 'resource_metadata', method: 'GET', path: '/.well-known/oauth-protected-resource', kind: 'json' },
  { name: 'ai_plugin', method: 'GET', path: '/.well-known/ai-plugin.json', kind: 'json' },
  { name: 'openapi', method: 'GET', path: '/openapi.yaml', kind: 'json' },
  { name: 'gateway_get', method: 'GET', path: '/api/things', kind: 'json', auth: 'bearer', gateway: true },
  {
    name: 'gateway_post', method: 'POST', path: '/api/things', kind: 'json', auth: 'bearer', gateway: true,
    body: '{"title":"buy milk"}', contentType: 'application/json',
  },
];

const ep = Object.fromEntries(ENDPOINTS.map((e) => [e.name, e]));
const withParams = ENDPOINTS.filter((e) => e.params);
const bodyParams = ENDPOINTS.filter((e) => e.params === 'body');          // form or JSON
const formBodies = ENDPOINTS.filter((e) => e.params === 'body' || e.params === 'form');
const withAuth = ENDPOINTS.filter((e) => e.auth);

function authorizeParams(inst) {
  return [
    ['response_type', 'code'], ['client_id', inst.client.client_id],
    ['redirect_uri', REDIRECT], ['state', 'st-123'],
  ];
}

// `n` parameters p0=v&p1=v…
function padPairs(n) {
  return Array.from({ length: n }, (_, i) => `p${i}=v`).join('&');
}

// request() options putting a raw parameter string where endpoint e reads parameters.
const paramOpts = (e, v) => (e.params === 'query' ? { query: v } : { form: v });

const encodePairs = (pairs) => pairs.map(([k, v]) => `${formUrlEncode(k)}=${formUrlEncode(v)}`).join('&');

// The endpoint's valid parameters with `bad` (raw, as sent) in place of its badKey, or
// appended verbatim when `append`.
function paramString(e, inst, bad, { append = false } = {}) {
  let pairs = e.valid(inst);
  if (bad === undefined) return encodePairs(pairs);
  if (!append) pairs = pairs.filter(([k]) => k !== e.badKey);
  const head = encodePairs(pairs);
  const tail = append ? bad : `${e.badKey}=${bad}`;
  return head ? `${head}&${tail}` : tail;
}

// The endpoint's request on `inst`, valid unless options change it:
//   method, target    request line (default: the endpoint's)
//   query / form      raw parameter string for the query / the body (see paramString)
//   body, contentType raw body and its type
//   headers           extra [name, value]s; contentLength as for rawBytes
//   keepAlive         leave out Connection: close
function request(e, inst, opts = {}) {
  const headers = [];
  if (e.auth === 'basic') headers.push(['Authorization', inst.basic]);
  if (e.auth === 'bearer') headers.push(['Authorization', `Bearer ${inst.token}`]);
  if (e.cookie) headers.push(['Cookie', inst.cookie]);
  let target = e.path;
  let body = e.body;
  let contentType = e.contentType;
  if (e.params === 'query') target = `${e.path}?${opts.query ?? paramString(e, inst)}`;
  if (e.params === 'form' || e.params === 'body') {
    body = opts.form ?? paramString(e, inst);
    contentType = 'application/x-www-form-urlencoded';
  }
  if (opts.body !== undefined) body = opts.body;
  if (opts.contentType !== undefined) contentType = opts.contentType;
  if (body !== undefined && contentType) headers.push(['Content-Type', contentType]);
  if (!opts.keepAlive) headers.push(['Connection', 'close']);
  headers.push(...(opts.headers ?? []));
  return rawBytes({
    method: opts.method ?? e.method,
    target: opts.target ?? target,
    headers,
    body,
    contentLength: opts.contentLength,
    host: inst.host,
  });
}

// A JSON body for a body-parameter endpoint: its valid parameters as JSON strings plus
// `"badKey": <rawJsonValue>` (raw text, so it can be anything).
function jsonBody(e, inst, rawJsonValue) {
  const members = e.valid(inst).filter(([k]) => k !== e.badKey)
    .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
  members.push(`${JSON.stringify(e.badKey)}:${rawJsonValue}`);
  return `{${members.join(',')}}`;
}

// `levels` nested arrays around a string. Inside jsonBody's object (itself level 1) the
// body nests levels + 1 deep: {"k":[["x"]]} is 3 deep.
const nested = (levels) => '['.repeat(levels) + '"x"' + ']'.repeat(levels);

// --- assertions -------------------------------------------------------------------------------

// A refusal of endpoint e: answered within ANSWER_MS, 4xx (or `status`), no 5xx anywhere on
// the connection; the body is a JSON object with a string `error` (and `error`, and a
// description matching `description`, when given). The authorization endpoint may instead
// answer an HTML error page, or (unless `noRedirect`) redirect to the client with error=
// (`error` checked there too). With `mhdPage`, libmicrohttpd's own page (any body) is
// accepted for `mhdPage`'s statuses.
function assertRefused(e, ex, { status, error, description, mhdPage, noRedirect = false } = {}) {
  const what = `${e.name}: ${describeExchange(ex)}`;
  for (const r of ex.responses) {
    assert.ok(!(r.status >= 500), `5xx: ${what}`);
  }
  const res = ex.responses[0];
  assert.ok(res && !res.partial, `no complete answer within ${ANSWER_MS} ms: ${what}`);
  assert.ok(ex.ms < ANSWER_MS, `answered after ${ex.ms} ms: ${what}`);
  if (e.kind === 'page' && !noRedirect && (res.status === 302 || res.status === 303)) {
    const loc = res.headers.get('location') ?? '';
    assert.ok(loc.startsWith(`${REDIRECT}?`), `redirect to the client expected: ${what}`);
    const got = new URL(loc).searchParams;
    assert.equal(got.get('code'), null, `no code for a bad request: ${what}`);
    if (error) assert.equal(got.get('error'), error, what);
    else assert.ok(got.get('error'), `error= in the redirect: ${what}`);
    return res;
  }
  if (status !== undefined) assert.equal(res.status, status, what);
  else assert.ok(res.status >= 400 && res.status < 500, `4xx expected: ${what}`);
  const ct = res.headers.get('content-type') ?? '';
  if (mhdPage && mhdPage.includes(res.status) && !/^application\/json\b/i.test(ct)) return res;
  if (e.kind === 'page' && /^text\/html\b/i.test(ct)) return res;
  assert.match(ct, /^application\/json\b/i, `JSON error expected: ${what}`);
  assert.ok(res.json && typeof res.json === 'object' && !Array.isArray(res.json), `JSON object expected: ${what}`);
  assert.equal(typeof res.json.error, 'string', `string "error" expected: ${what}`);
  if (error) assert.equal(res.json.error, error, what);
  if (description) assert.match(res.json.error_description ?? '', description, what);
  return res;
}

// Sends one request of endpoint e to inst, checks it is refused (opts as assertRefused)
// and, for the gateway, that nothing reached the upstream.
async function refused(e, inst, data, opts = {}) {
  const n = up.seen.length;
  const ex = await exchange(inst.base, data, { timeoutMs: ANSWER_MS });
  const res = assertRefused(e, ex, opts);
  assert.equal(up.seen.length, n,
    `${e.name}: a refused request reached the upstream: ${JSON.stringify(up.seen.slice(n))}`);
  return res;
}

// A success of endpoint e (the authorization endpoint: its sign-in page).
function assertAccepted(e, ex) {
  const what = `${e.name}: ${describeExchange(ex)}`;
  const res = ex.responses[0];
  assert.ok(res && !res.partial, `no answer: ${what}`);
  assert.ok(res.status >= 200 && res.status < 300, `2xx expected: ${what}`);
  return res;
}

async function accepted(e, inst, data) {
  return assertAccepted(e, await exchange(inst.base, data));
}

// A variant for a message: strings with control and non-ASCII bytes as \xNN.
function label(v) {
  if (Array.isArray(v) && typeof v[0] === 'string' && v.length === 2 && typeof v[1] === 'object') return v[0];
  if (typeof v !== 'string') return JSON.stringify(v);
  const s = v.replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

// Runs check(v) for every variant and then fails once, naming every variant that failed.
async function variants(list, check) {
  const failed = [];
  for (const v of list) {
    try {
      await check(v);
    } catch (err) {
      failed.push(`${label(v)} → ${String(err.message).split('\n')[0]}`);
    }
  }
  if (failed.length > 0) assert.fail(`${failed.length} of ${list.length} variants failed:\n${failed.join('\n')}`);
}

// Runs fn(e) as one subtest per endpoint.
async function each(t, endpoints, fn) {
  for (const e of endpoints) await t.test(e.name, () => fn(e));
}

// For inputs that may hang: sends send(e) for every endpoint at once, then checks each
// exchange with check(e, ex, subtest) in one subtest per endpoint.
async function eachAtOnce(t, endpoints, send, check) {
  const results = await Promise.all(endpoints.map(async (e) => ({ e, ex: await send(e) })));
  for (const { e, ex } of results) await t.test(e.name, (st) => check(e, ex, st));
}

// --- the valid requests the battery starts from --------------------------------------------------

test('valid_request_accepted_on_every_endpoint', async (t) => {
  await each(t, ENDPOINTS, async (e) => {
    const res = await accepted(e, main, request(e, main));
    if (e.gateway) assert.equal(res.json?.ok, true, `${e.name}: the upstream answered`);
  });
});

// --- the request line ------------------------------------------------------------------------------

// Request-targets of endpoint e with `bad` (raw) at the end of the path, and in the query.
function badTargets(e, bad) {
  return [
    `${e.path}${bad}`,
    e.params === 'query' ? `${e.path}?${paramString(e, main, bad)}` : `${e.path}?x=${bad}`,
  ];
}

test('nul_byte_in_request_target_ends_it', async (t) => {
  // RFC 9112 §2.2 has no NUL in a request line. libmicrohttpd 0.9.75 (Debian 12) hands the
  // request-target over as a C string, so plugauth cannot see a NUL or what follows it
  // (docs/deploy.md, Limits). What it can promise: an answer within 5 s, never a 5xx, and
  // everything after the NUL ignored by every layer — the upstream never gets any of it.
  await each(t, ENDPOINTS, async (e) => {
    await variants([`${e.path}\0/../x`, ...badTargets(e, 'a\0b')], async (target) => {
      const n = up.seen.length;
      const ex = await exchange(main.base, request(e, main, { target }), { timeoutMs: ANSWER_MS });
      const what = `${e.name}: ${describeExchange(ex)}`;
      const res = ex.responses[0];
      assert.ok(res && !res.partial && ex.ms < ANSWER_MS, `no answer within ${ANSWER_MS} ms: ${what}`);
      for (const r of ex.responses) assert.ok(!(r.status >= 500), `5xx: ${what}`);
      for (const r of up.seen.slice(n)) {
        assert.ok(!r.url.includes('..') && !r.url.includes('b'),
          `the upstream got what follows the NUL: ${JSON.stringify(r.url)}`);
        assert.ok(target.split('\0')[0].startsWith(r.url.split('?')[0]), `${JSON.stringify(r.url)}`);
      }
    });
  });
});

test('invalid_utf8_in_request_target', async (t) => {
  // Raw bytes >= 0x80 are not allowed in a request-target (RFC 3986 §2, RFC 9112 §3.2):
  // a lone continuation byte, a truncated sequence, an overlong '/', a UTF-16 surrogate.
  await each(t, ENDPOINTS, async (e) => {
    const bad = ['\x80', '\xc3\x28', '\xc0\xaf', '\xed\xa0\x80', '\xff\xfe'];
    await variants(bad.flatMap((b) => badTargets(e, b)),
      (target) => refused(e, main, request(e, main, { target })));
  });
});

test('invalid_percent_encoding_in_request_target', async (t) => {
  await each(t, ENDPOINTS, async (e) => {
    const bad = ['%zz', '%', '%4', '%G0'];
    await variants(bad.flatMap((b) => badTargets(e, b)),
      (target) => refused(e, main, request(e, main, { target })));
  });
});

test('path_traversal', async (t) => {
  await each(t, ENDPOINTS, async (e) => {
    const slash = e.path.lastIndexOf('/');
    const dir = e.path.slice(0, slash);
    const leaf = e.path.slice(slash + 1);
    const targets = [
      `${dir}/x/../${leaf}`, `/x/..${e.path}`, `${dir}/./${leaf}`,
      `${dir}/x/%2e%2e/${leaf}`, `${dir}/x/%2E%2e/${leaf}`, `/%2e%2e${e.path}`,
      `${dir}/x/..%2f${leaf}`, `${dir}/x%2f..%2f${leaf}`,
    ];
    if (e.gateway) targets.push('/api/../admin', '/api/%2e%2e/admin', '/api/x/../../admin', '/api/..');
    await variants(targets, (target) => refused(e, main, request(e, main, {
      target: e.params === 'query' ? `${target}?${paramString(e, main)}` : target,
    })));
  });
});

test('unknown_method_brew', async (t) => {
  await each(t, ENDPOINTS, async (e) => {
    await refused(e, main, request(e, main, { method: 'BREW' }), { status: 405, noRedirect: true });
  });
});

test('very_long_url_414', async (t) => {
  // [server] url_max_bytes (8192): a longer request-target gets 414 invalid_request.
  await each(t, ENDPOINTS, async (e) => {
    const prefix = e.params === 'query' ? `${e.path}?${paramString(e, main)}&pad=` : `${e.path}?pad=`;
    await refused(e, main, request(e, main, { target: prefix + 'a'.repeat(9000) }),
      { status: 414, error: 'invalid_request', noRedirect: true });
  });
});

test('huge_url_over_64k_414', async (t) => {
  // Past libmicrohttpd's memory pool it answers 414 (or 431) itself, with its own page.
  await each(t, ENDPOINTS, async (e) => {
    const res = await refused(e, main, request(e, main, { target: `${e.path}?pad=${'a'.repeat(70 * 1024)}` }),
      { mhdPage: [414, 431], noRedirect: true });
    assert.ok([414, 431].includes(res.status), `${e.name}: 414 or 431, got ${res.status}`);
  });
});

// --- headers ---------------------------------------------------------------------------------------

test('oversized_header_431', async (t) => {
  // [server] header_max_bytes (16384, all header lines together).
  await each(t, ENDPOINTS, async (e) => {
    await refused(e, main, request(e, main, { headers: [['X-Pad', 'a'.repeat(17 * 1024)]] }),
      { status: 431, noRedirect: true });
  });
});

test('too_many_headers_431', async (t) => {
  // [server] header_max_count (100).
  await each(t, ENDPOINTS, async (e) => {
    const many = Array.from({ length: 150 }, (_, i) => [`X-H${i}`, 'v']);
    await refused(e, main, request(e, main, { headers: many }), { status: 431, noRedirect: true });
  });
});

test('huge_headers_over_64k_431', async (t) => {
  await each(t, ENDPOINTS, async (e) => {
    await refused(e, main, request(e, main, { headers: [['X-Pad', 'a'.repeat(70 * 1024)]] }),
      { status: 431, mhdPage: [431], noRedirect: true });
    const lots = Array.from({ length: 3000 }, (_, i) => [`X-H${i}`, 'v'.repeat(20)]);
    await refused(e, main, request(e, main, { headers: lots }),
      { status: 431, mhdPage: [431], noRedirect: true });
  });
});

test('nul_byte_in_credentials_header_read_up_to_it', async (t) => {
  // libmicrohttpd 0.9.75 ends a header value at a NUL byte, so plugauth reads a credential
  // up to it (docs/deploy.md, Limits). What must hold: what follows the NUL is never used.
  // "<wrong>\0<valid>" is refused; "<valid>\0junk" is answered without a 5xx.
  await each(t, withAuth, async (e) => {
    const value = e.auth === 'basic' ? main.basic : `Bearer ${main.token}`;
    const wrong = e.auth === 'basic' ? basic(main.client.client_id, 'wrong-secret') : 'Bearer pa_at_wrong';
    const swap = (to) => bytes(request(e, main).toString('latin1')
      .replace(`Authorization: ${value}\r\n`, `Authorization: ${to}\r\n`));
    await refused(e, main, swap(`${wrong}\0${value.split(' ')[1]}`));
    const ex = await exchange(main.base, swap(`${value}\0junk`), { timeoutMs: ANSWER_MS });
    assert.ok(ex.responses[0] && ex.ms < ANSWER_MS, `no answer: ${describeExchange(ex)}`);
    for (const r of ex.responses) assert.ok(!(r.status >= 500), `5xx: ${describeExchange(ex)}`);
  });
});

test('many_query_parameters_answered', async (t) => {
  // Hundreds of tiny query parameters (a few KB, within url_max_bytes): answered within
  // 5 s on every endpoint with a JSON (or, on the authorization endpoint, HTML) answer,
  // never a 5xx and never libmicrohttpd's own page (the input is far below 64 KiB). Those
  // that read the query refuse them (params_max); the others may ignore them.
  const queries = [
    ['600 distinct', padPairs(600)],
    ['1000 distinct', padPairs(1000)],
    ['1900 the same', Array(1900).fill('p=v').join('&')],
  ];
  await eachAtOnce(t, ENDPOINTS, (e) => Promise.all(queries.map(async ([what, q]) => {
    const target = e.params === 'query'
      ? `${e.path}?${paramString(e, main, q, { append: true })}`
      : `${e.path}?${q}`;
    assert.ok(target.length <= URL_MAX);
    return [what, await exchange(main.base, request(e, main, { target }))];
  })), (e, results) => variants(results, ([, ex]) => {
    if (e.params === 'query') {
      assertRefused(e, ex, { status: 400, error: 'invalid_request' });
      return;
    }
    const res = ex.responses[0];
    assert.ok(res && !res.partial && ex.ms < ANSWER_MS, `no answer within ${ANSWER_MS} ms: ${e.name}: ${describeExchange(ex)}`);
    if (res.status >= 300) assertRefused(e, ex);
  }));
});

// --- parameters --------------------------------------------------------------------------------------

test('invalid_percent_encoding_in_parameters', async (t) => {
  // /oauth/token's scope=%zz is in token_endpoint.test.js.
  await each(t, withParams, async (e) => {
    // In a value, and in a name.
    const list = ['%zz', 'a%', 'a%4', '%G0', 'a%2'].map((b) => paramString(e, main, b));
    list.push(paramString(e, main, '%zz=1', { append: true }));
    await variants(list, (v) => refused(e, main, request(e, main, paramOpts(e, v)), { error: 'invalid_request' }));
  });
});

test('nul_byte_in_parameters', async (t) => {
  await each(t, withParams, async (e) => {
    // %00, and (in a body) the raw byte.
    const list = [paramString(e, main, 'a%00b'), paramString(e, main, 'x%00=1', { append: true })];
    if (e.params !== 'query') list.push(paramString(e, main, 'a\0b'));
    await variants(list, (v) => refused(e, main, request(e, main, paramOpts(e, v)), { error: 'invalid_request' }));
  });
});

test('invalid_utf8_in_parameters', async (t) => {
  await each(t, withParams, async (e) => {
    // Percent-encoded: a lone continuation byte, a truncated sequence, an overlong '/',
    // a UTF-16 surrogate, bytes that never occur in UTF-8; and (in a body) raw.
    // (Any 4xx error: invalid_scope for a scope is as right as invalid_request.)
    const list = ['%80', '%C3%28', '%C0%AF', '%ED%A0%80', '%FF%FE'].map((b) => paramString(e, main, `a${b}`));
    if (e.params !== 'query') {
      for (const b of ['\x80', '\xc3\x28', '\xc0\xaf', '\xff\xfe']) list.push(paramString(e, main, `a${b}`));
    }
    await variants(list, (v) => refused(e, main, request(e, main, paramOpts(e, v))));
  });
});

test('repeated_parameter', async (t) => {
  // /oauth/token's repeated grant_type is in token_endpoint.test.js.
  await each(t, withParams.filter((e) => e.name !== 'token'), async (e) => {
    const [k, v] = e.valid(main)[0];
    const twice = `${encodePairs(e.valid(main))}&${encodePairs([[k, v]])}`;
    await refused(e, main, request(e, main, paramOpts(e, twice)), { error: 'invalid_request' });
  });
  await t.test('token_repeated_with_different_values', async () => {
    await refused(ep.token, main, request(ep.token, main, {
      form: 'grant_type=client_credentials&scope=todo.read&scope=todo.write',
    }), { error: 'invalid_request' });
  });
});

test('form_body_under_another_media_type', async (t) => {
  // A valid form body is read only under its own media type, matched exactly (parameters
  // such as charset may follow): a longer type that merely starts with it is another type.
  await each(t, formBodies, async (e) => {
    await variants(['application/x-www-form-urlencodedx', 'application/x-www-form-urlencoded-evil',
      'text/plain', 'multipart/form-data; boundary=x'], (contentType) =>
      refused(e, main, request(e, main, { contentType })));
    await accepted(e, main, request(e, main, { contentType: 'application/x-www-form-urlencoded; charset=UTF-8' }));
  });
});


test('too_many_parameters_400', async (t) => {
  // [server] params_max (32): 33 parameters get 400 invalid_request.
  await each(t, withParams, async (e) => {
    const n = PARAMS_MAX + 1 - e.valid(main).length;
    const v = paramString(e, main, padPairs(n), { append: true });
    await refused(e, main, request(e, main, paramOpts(e, v)), { status: 400, error: 'invalid_request' });
    // …far more too (in the query: many_query_parameters_answered).
    if (e.params !== 'query') {
      const lots = paramString(e, main, padPairs(1000), { append: true });
      await refused(e, main, request(e, main, paramOpts(e, lots)), { status: 400, error: 'invalid_request' });
    }
  });
});

// --- JSON bodies ---------------------------------------------------------------------------------------

const JSON_TYPE = 'application/json';

test('invalid_json', async (t) => {
  // /oauth/token: token_endpoint.test.js. The authorization form is not JSON at all.
  await each(t, [...bodyParams.filter((e) => e.name !== 'token'), ep.authorize_post], async (e) => {
    const bodies = ['{"token":', '{token:"x"}', "{'token':'x'}", '{"token":"x"}}', '{"token":"x",}', '', '\xef\xbb\xbf{}'];
    await variants(bodies, (body) => refused(e, main, request(e, main, { body, contentType: JSON_TYPE }),
      e.kind === 'json' ? { status: 400, error: 'invalid_request' } : {}));
  });
});

test('non_object_json', async (t) => {
  await each(t, bodyParams.filter((e) => e.name !== 'token'), async (e) => {
    await variants(['[]', '["token","x"]', '"token"', 'null', '42', 'true'],
      (body) => refused(e, main, request(e, main, { body, contentType: JSON_TYPE }),
        { status: 400, error: 'invalid_request' }));
  });
});

test('json_duplicate_keys', async (t) => {
  // jansson's JSON_REJECT_DUPLICATES: the same key twice is refused, same value or not.
  await each(t, bodyParams.filter((e) => e.name !== 'token'), async (e) => {
    const [k, v] = e.valid(main)[0];
    for (const dup of [v, 'other']) {
      const body = `{${JSON.stringify(k)}:${JSON.stringify(v)},${JSON.stringify(k)}:${JSON.stringify(dup)}}`;
      await refused(e, main, request(e, main, { body, contentType: JSON_TYPE }),
        { status: 400, error: 'invalid_request' });
    }
  });
});

test('json_deep_nesting_400', async (t) => {
  // [server] json_max_depth (32): deeper JSON gets 400 invalid_request naming the nesting
  // (before jansson, which would recurse up to 2048 levels); far deeper too.
  await each(t, bodyParams, async (e) => {
    await variants([JSON_MAX_DEPTH, 1000, 30_000], (levels) => refused(e, main,
      request(e, main, { body: jsonBody(e, main, nested(levels)), contentType: JSON_TYPE }),
      { status: 400, error: 'invalid_request', description: /nest/i }));
    // Unbalanced: only openers.
    await refused(e, main, request(e, main, { body: jsonBody(e, main, '['.repeat(5000)), contentType: JSON_TYPE }),
      { status: 400, error: 'invalid_request' });
  });
});

test('json_nul_and_invalid_utf8', async (t) => {
  await each(t, bodyParams, async (e) => {
    const values = [
      '"a\\u0000b"',            // NUL escaped
      '"a\0b"',                 // NUL raw
      '"a\\ud800b"',            // lone surrogate escaped
      '"a\x80"', '"a\xc3\x28"', '"a\xc0\xaf"', '"a\xed\xa0\x80"', '"a\xff\xfe"',
    ];
    await variants(values, (v) => refused(e, main,
      request(e, main, { body: jsonBody(e, main, v), contentType: JSON_TYPE }),
      { status: 400, error: 'invalid_request' }));
  });
});

// --- Content-Length ----------------------------------------------------------------------------------

test('content_length_shorter_than_body', async (t) => {
  // The server reads Content-Length bytes (a truncated body: a bad request) and takes the
  // rest as the next request on the connection: garbage, refused or the connection closed.
  await each(t, formBodies, async (e) => {
    const form = paramString(e, main);
    const data = request(e, main, { form: `${form}\r\n\r\n`, contentLength: 5, keepAlive: true });
    const n = up.seen.length;
    const ex = await exchange(main.base, data, { timeoutMs: ANSWER_MS, quietMs: 500 });
    assertRefused(e, ex, {});
    assert.equal(up.seen.length, n);
    for (const r of ex.responses.slice(1)) {
      assert.ok(r.partial || (r.status >= 400 && r.status < 500), `${e.name}: ${describeExchange(ex)}`);
    }
  });
});

test('content_length_longer_than_body_times_out', async (t) => {
  // The body never comes: with connection_timeout = 2 the server gives up on the
  // connection (answering 4xx, or closing it) within 5 s, never a 5xx. All at once.
  await eachAtOnce(t, ENDPOINTS, (e) => {
    const body = e.params === 'form' || e.params === 'body' ? paramString(e, slow) : (e.body ?? 'abc');
    const data = request(e, slow, { body, contentType: e.contentType ?? 'application/x-www-form-urlencoded',
      contentLength: bytes(body).length + 1000 });
    return exchange(slow.base, data, { timeoutMs: ANSWER_MS + 1000 });
  }, (e, ex, st) => {
    const what = `${e.name}: ${describeExchange(ex)}`;
    assert.ok(!ex.timedOut && ex.ms < ANSWER_MS, `neither answered nor closed within ${ANSWER_MS} ms: ${what}`);
    for (const r of ex.responses) assert.ok(r.partial || (r.status >= 400 && r.status < 500), `4xx or nothing: ${what}`);
    st.diagnostic(`${ex.responses.length ? `HTTP ${ex.responses[0].status}` : 'closed'} after ${ex.ms} ms`);
  });
});

const FRAMED = [ep.token, ep.introspect, ep.gateway_post];

test('conflicting_or_malformed_content_length', async (t) => {
  // RFC 9112 §6.3: differing Content-Length values, or an unparsable one, make the framing
  // invalid: 400, never a guess at where the body ends. libmicrohttpd refuses the
  // unparsable ones itself (with its own page).
  await each(t, FRAMED, async (e) => {
    const body = e.body ?? paramString(e, main);
    const ct = e.contentType ?? 'application/x-www-form-urlencoded';
    const len = bytes(body).length;
    await variants([[len, len - 3], [len - 3, len]], (cls) => refused(e, main, request(e, main, {
      body, contentType: ct, contentLength: null, headers: cls.map((n) => ['Content-Length', String(n)]),
    }), { status: 400 }));
    await variants(['abc', '-1', `${len} ${len}`, `0x${len.toString(16)}`, '99999999999999999999999'],
      (cl) => refused(e, main, request(e, main, { body, contentType: ct, contentLength: cl }),
        { mhdPage: [400, 413] }));
  });
});

test('unknown_transfer_coding_answered', async (t) => {
  // RFC 9112 §6.1: a transfer coding the server does not know gets 501 (the one 5xx
  // allowed here) or a 4xx, at once: the server cannot know where such a body ends.
  const n = up.seen.length;
  await eachAtOnce(t, FRAMED, (e) => exchange(main.base, request(e, main, {
    body: e.body ?? paramString(e, main), contentType: e.contentType ?? 'application/x-www-form-urlencoded',
    contentLength: null, headers: [['Transfer-Encoding', 'gzip']],
  })), (e, ex) => {
    const what = `${e.name}: ${describeExchange(ex)}`;
    const res = ex.responses[0];
    assert.ok(res && !res.partial && ex.ms < ANSWER_MS, `no answer within ${ANSWER_MS} ms: ${what}`);
    assert.ok(res.status === 501 || (res.status >= 400 && res.status < 500), what);
  });
  assert.equal(up.seen.length, n, `reached the upstream: ${JSON.stringify(up.seen.slice(n))}`);
});

// --- the limits at their defaults --------------------------------------------------------------------

// A GET /healthz of exactly `targetLen` request-target bytes.
function healthzTarget(len) {
  return `/healthz?pad=${'a'.repeat(len - '/healthz?pad='.length)}`;
}

// Pads the endpoint's valid request with X-Pad headers to exactly `count` header fields,
// or with one X-Pad header to exactly `total` bytes of header lines ("name: value\r\n").
function headerPad(e, inst, { count, total }) {
  const base = request(e, inst).toString('latin1');
  const lines = base.slice(base.indexOf('\r\n') + 2, base.indexOf('\r\n\r\n') + 2).split('\r\n').filter(Boolean);
  if (count !== undefined) {
    return request(e, inst, { headers: Array.from({ length: count - lines.length }, (_, i) => [`X-Pad-${i}`, 'v']) });
  }
  const used = lines.reduce((s, l) => s + l.length + 2, 0);
  const room = total - used - 'X-Pad: \r\n'.length;
  assert.ok(room > 0);
  return request(e, inst, { headers: [['X-Pad', 'a'.repeat(room)]] });
}

test('url_max_bytes_default_boundary', async () => {
  await accepted(ep.healthz, main, request(ep.healthz, main, { target: healthzTarget(URL_MAX) }));
  await refused(ep.healthz, main, request(ep.healthz, main, { target: healthzTarget(URL_MAX + 1) }),
    { status: 414, error: 'invalid_request' });
});

test('header_max_count_default_boundary', async () => {
  for (const e of [ep.healthz, ep.token]) {
    await accepted(e, main, headerPad(e, main, { count: HEADER_MAX_COUNT }));
    await refused(e, main, headerPad(e, main, { count: HEADER_MAX_COUNT + 1 }), { status: 431 });
  }
});

test('header_max_bytes_default_boundary', async () => {
  for (const e of [ep.healthz, ep.token]) {
    await accepted(e, main, headerPad(e, main, { total: HEADER_MAX_BYTES }));
    await refused(e, main, headerPad(e, main, { total: HEADER_MAX_BYTES + 1 }), { status: 431 });
  }
});

test('params_max_default_boundary', async (t) => {
  // Unknown parameters are ignored (RFC 6749 §3.2), so params_max of them still succeed.
  await each(t, bodyParams, async (e) => {
    const n = PARAMS_MAX - e.valid(main).length;
    await accepted(e, main, request(e, main, { form: paramString(e, main, padPairs(n), { append: true }) }));
    await refused(e, main, request(e, main, { form: paramString(e, main, padPairs(n + 1), { append: true }) }),
      { status: 400, error: 'invalid_request' });
    // The same in JSON.
    const json = (k) => {
      const o = Object.fromEntries(e.valid(main));
      for (let i = 0; i < k; i++) o[`p${i}`] = 'v';
      return JSON.stringify(o);
    };
    await accepted(e, main, request(e, main, { body: json(n), contentType: JSON_TYPE }));
    await refused(e, main, request(e, main, { body: json(n + 1), contentType: JSON_TYPE }),
      { status: 400, error: 'invalid_request' });
  });
});

test('json_max_depth_default_boundary', async (t) => {
  // Depth counts every '[' and '{' open at once: {"k":[["x"]]} is 3 deep.
  await each(t, bodyParams, async (e) => {
    const atMax = await refused(e, main,
      request(e, main, { body: jsonBody(e, main, nested(JSON_MAX_DEPTH - 1)), contentType: JSON_TYPE }),
      { status: 400, error: 'invalid_request' });   // a non-string value, but not too deep
    assert.doesNotMatch(atMax.json.error_description ?? '', /nest/i, `${e.name}: ${atMax.text}`);
    await refused(e, main,
      request(e, main, { body: jsonBody(e, main, nested(JSON_MAX_DEPTH)), contentType: JSON_TYPE }),
      { status: 400, error: 'invalid_request', description: /nest/i });
  });
});

test('body_max_bytes_server_vs_gateway', async (t) => {
  // [server] body_max_bytes (64 KiB) caps the OAuth endpoints; [gateway] body_max_bytes
  // (1 MiB) the proxied routes: a 100 KB body is 413 on the first, forwarded on the second.
  const body = 'a'.repeat(100 * 1024);
  await each(t, formBodies, async (e) => {
    const res = await rawRequest(main.base, {
      path: e.path, body,
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(e.auth ? { authorization: main.basic } : {}) },
    });
    assert.equal(res.status, 413, `${e.name}: ${describeResponse(res)}`);
    assert.equal(typeof res.json?.error, 'string', `${e.name}: ${describeResponse(res)}`);
  });
  await t.test('gateway_forwards_100k', async () => {
    const res = await rawRequest(main.base, {
      path: '/api/upload', body, headers: { authorization: `Bearer ${main.token}` },
    });
    assert.equal(res.status, 200, describeResponse(res));
    assert.equal(res.json?.bytes, body.length, describeResponse(res));
  });
  await t.test('gateway_boundary_1mib', async () => {
    const n = up.seen.length;
    const okRes = await rawRequest(main.base, {
      path: '/api/upload', body: Buffer.alloc(GATEWAY_BODY_MAX, 0x61), headers: { authorization: `Bearer ${main.token}` },
    });
    assert.equal(okRes.status, 200, describeResponse(okRes));
    assert.equal(okRes.json?.bytes, GATEWAY_BODY_MAX, describeResponse(okRes));
    // One byte more: the 413 comes from the head alone, before any body byte. (Sending
    // the body too races the server's close: a client still writing may see a reset
    // instead of the answer, so only the head is sent.)
    const url = new URL(main.base);
    const ex = await exchange(main.base, rawBytes({
      method: 'POST', target: '/api/upload', host: url.host,
      headers: [['Authorization', `Bearer ${main.token}`]], contentLength: GATEWAY_BODY_MAX + 1,
    }));
    const big = ex.responses[0];
    assert.ok(big && !big.partial, `no answer to the head: ${describeExchange(ex)}`);
    assert.equal(big.status, 413, describeExchange(ex));
    assert.equal(typeof big.json?.error, 'string', describeExchange(ex));
    assert.equal(up.seen.length, n + 1, 'only the first reached the upstream');
  });
});

// --- the limits at small configured values -------------------------------------------------------------

test('limits_are_configurable', async (t) => {
  await t.test('url_max_bytes', async () => {
    await accepted(ep.healthz, tiny, request(ep.healthz, tiny, { target: healthzTarget(TINY.URL_MAX) }));
    await refused(ep.healthz, tiny, request(ep.healthz, tiny, { target: healthzTarget(TINY.URL_MAX + 1) }),
      { status: 414, error: 'invalid_request' });
    // …while the default server takes it.
    await accepted(ep.healthz, main, request(ep.healthz, main, { target: healthzTarget(TINY.URL_MAX + 1) }));
  });
  await t.test('header_max_count', async () => {
    for (const e of [ep.healthz, ep.token]) {
      await accepted(e, tiny, headerPad(e, tiny, { count: TINY.HEADER_MAX_COUNT }));
      await refused(e, tiny, headerPad(e, tiny, { count: TINY.HEADER_MAX_COUNT + 1 }), { status: 431 });
      await accepted(e, main, headerPad(e, main, { count: TINY.HEADER_MAX_COUNT + 1 }));
    }
  });
  await t.test('header_max_bytes', async () => {
    for (const e of [ep.healthz, ep.token]) {
      await accepted(e, tiny, headerPad(e, tiny, { total: TINY.HEADER_MAX_BYTES }));
      await refused(e, tiny, headerPad(e, tiny, { total: TINY.HEADER_MAX_BYTES + 1 }), { status: 431 });
      await accepted(e, main, headerPad(e, main, { total: TINY.HEADER_MAX_BYTES + 1 }));
    }
  });
  await t.test('params_max', async () => {
    for (const e of bodyParams) {
      const n = TINY.PARAMS_MAX - e.valid(tiny).length;
      await accepted(e, tiny, request(e, tiny, { form: paramString(e, tiny, padPairs(n), { append: true }) }));
      await refused(e, tiny, request(e, tiny, { form: paramString(e, tiny, padPairs(n + 1), { append: true }) }),
        { status: 400, error: 'invalid_request' });
      await accepted(e, main, request(e, main, { form: paramString(e, main, padPairs(n + 1), { append: true }) }));
    }
  });
  await t.test('authorize_keeps_its_own_ceiling', async () => {
    // params_max is for token, introspection and revocation requests. The authorization
    // endpoint's own sign-in and consent forms carry up to a dozen fields, so a small
    // params_max must not break them: it keeps a fixed ceiling of 32 instead.
    for (const e of [ep.authorize_get, ep.authorize_post]) {
      const fits = paramString(e, tiny, padPairs(TINY.PARAMS_MAX + 1 - e.valid(tiny).length), { append: true });
      await accepted(e, tiny, request(e, tiny, paramOpts(e, fits)));
      const over = paramString(e, tiny, padPairs(33 - e.valid(tiny).length), { append: true });
      await refused(e, tiny, request(e, tiny, paramOpts(e, over)));
    }
  });
  await t.test('json_max_depth', async () => {
    for (const e of bodyParams) {
      const atMax = await refused(e, tiny,
        request(e, tiny, { body: jsonBody(e, tiny, nested(TINY.JSON_MAX_DEPTH - 1)), contentType: JSON_TYPE }),
        { status: 400, error: 'invalid_request' });
      assert.doesNotMatch(atMax.json.error_description ?? '', /nest/i, `${e.name}: ${atMax.text}`);
      await refused(e, tiny,
        request(e, tiny, { body: jsonBody(e, tiny, nested(TINY.JSON_MAX_DEPTH)), contentType: JSON_TYPE }),
        { status: 400, error: 'invalid_request', description: /nest/i });
      const onMain = await refused(e, main,
        request(e, main, { body: jsonBody(e, main, nested(TINY.JSON_MAX_DEPTH)), contentType: JSON_TYPE }),
        { status: 400, error: 'invalid_request' });
      assert.doesNotMatch(onMain.json.error_description ?? '', /nest/i, `${e.name}: ${onMain.text}`);
    }
  });
  await t.test('body_max_bytes_server_and_gateway', async () => {
    const body = 'a'.repeat(2048);
    const tok = await rawRequest(tiny.base, {
      path: '/oauth/token', body, headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: tiny.basic },
    });
    assert.equal(tok.status, 413, describeResponse(tok));
    const fwd = await rawRequest(tiny.base, { path: '/api/upload', body, headers: { authorization: `Bearer ${tiny.token}` } });
    assert.equal(fwd.status, 200, describeResponse(fwd));
    assert.equal(fwd.json?.bytes, body.length, describeResponse(fwd));
    const atMax = await rawRequest(tiny.base, {
      path: '/api/upload', body: 'a'.repeat(TINY.GATEWAY_BODY_MAX), headers: { authorization: `Bearer ${tiny.token}` },
    });
    assert.equal(atMax.status, 200, describeResponse(atMax));
    const over = await rawRequest(tiny.base, {
      path: '/api/upload', body: 'a'.repeat(TINY.GATEWAY_BODY_MAX + 1), headers: { authorization: `Bearer ${tiny.token}` },
    });
    assert.equal(over.status, 413, describeResponse(over));
    assert.equal(typeof over.json?.error, 'string', describeResponse(over));
  });
});

// --- afterwards -------------------------------------------------------------------------------------

test('burst_of_valid_requests_after_bad_input', async () => {
  // 200 client_credentials requests, 20 at a time: all succeed.
  const N = 200;
  const CONCURRENCY = 20;
  let next = 0;
  const tokens = new Set();
  const failures = [];
  const worker = async () => {
    while (next < N) {
      next++;
      const res = await postToken(main.base, { body: { grant_type: 'client_credentials' }, authorization: main.basic });
      if (res.status !== 200) failures.push(describeResponse(res));
      else tokens.add(remember(assertTokenResponse(res).access_token));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${N} failed`);
  assert.equal(tokens.size, N);
  const health = await get(main.base, '/healthz');
  assert.equal(health.status, 200, describeResponse(health));
  // The gateway too.
  const n = up.seen.length;
  const api = await get(main.base, '/api/after', { headers: { authorization: `Bearer ${main.token}` } });
  assert.equal(api.status, 200, describeResponse(api));
  assert.equal(up.seen.length, n + 1);
});

test('upstream_never_saw_malformed_paths', () => {
  for (const r of up.seen) {
    // A path of unreserved characters, and a query of them (the NUL tests' "?x=a").
    assert.match(r.url, /^\/api\/[A-Za-z0-9/_\-.~]*(\?[A-Za-z0-9_\-.~=&]*)?$/,
      `the upstream received ${JSON.stringify(r.url)}`);
    assert.doesNotMatch(r.url, /(^|\/)\.\.?(\/|$)/, `the upstream received ${JSON.stringify(r.url)}`);
  }
});

test('servers_alive_and_no_errors_logged', async () => {
  for (const i of instances) {
    assert.equal(i.pa.proc?.exitCode, null, `${i.name} still running`);
    const res = await get(i.base, '/healthz');
    assert.equal(res.status, 200, `${i.name}: ${describeResponse(res)}`);
    const errors = i.pa.log.split('\n').filter((l) => /\blevel=error\b/.test(l));
    assert.deepEqual(errors, [], `${i.name} logged errors`);
  }
});
