// Small HTTP helpers shared by the tests: the requests ChatGPT and GPT Actions send,
// written out by hand so every byte on the wire is the test's choice.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';

export const FORM = 'application/x-www-form-urlencoded';
export const JSON_TYPE = 'application/json';
export const ACCESS_TOKEN_RE = /^pa_at_[A-Za-z0-9_-]{43}$/;

// RFC 6749 §2.3.1 / Appendix B: application/x-www-form-urlencoded encoding of one value.
export function formUrlEncode(s) {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
    .replace(/%20/g, '+');
}

// `Basic base64(formurlencode(id) ":" formurlencode(secret))`.
export function basic(id, secret) {
  const raw = `${formUrlEncode(id)}:${formUrlEncode(secret)}`;
  return 'Basic ' + Buffer.from(raw, 'utf8').toString('base64');
}

// An object of strings as a form body (keys in insertion order).
export function form(params) {
  return Object.entries(params)
    .map(([k, v]) => `${formUrlEncode(k)}=${formUrlEncode(v)}`)
    .join('&');
}

// A secret-looking value that no client has: used as a wrong secret (and then checked
// for in the server log like any real secret).
export function fakeSecret() {
  return 'pa_cs_' + randomBytes(32).toString('base64url');
}

// POST to the token endpoint. `body` is a string (sent as is) or an object (encoded as
// the content type says). Resolves with {status, headers, text, json}.
export async function postToken(base, { body = '', contentType = FORM, authorization, headers = {} } = {}) {
  let payload = body;
  if (typeof body !== 'string') {
    payload = contentType.startsWith(JSON_TYPE) ? JSON.stringify(body) : form(body);
  }
  const h = { ...headers };
  if (contentType !== null) h['content-type'] = contentType;
  if (authorization) h.authorization = authorization;
  const res = await fetch(`${base}/oauth/token`, { method: 'POST', headers: h, body: payload });
  return readResponse(res);
}

export async function get(base, path, init = {}) {
  const res = await fetch(`${base}${path}`, init);
  return readResponse(res);
}

// A body as text and, when it parses, as JSON (json is undefined otherwise).
export function textAndJson(text) {
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { text, json };
}

// A fetch() Response as {status, headers, text, json}.
export async function readResponse(res) {
  return { status: res.status, headers: res.headers, ...textAndJson(await res.text()) };
}

// The whole body of a node:http response (an IncomingMessage): {text, json}.
export function readBody(res) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => resolve(textAndJson(Buffer.concat(chunks).toString('utf8'))));
    res.on('error', reject);
  });
}

// A raw request with node:http, for bodies large enough that the server may answer
// before reading all of them. Resolves with {status, headers, text, json}.
// With `chunked`, the body goes out with Transfer-Encoding: chunked in 16 KB pieces.
export function rawRequest(base, { method = 'POST', path = '/oauth/token', headers = {}, body = '', chunked = false } = {}) {
  const url = new URL(path, base);
  const buf = Buffer.from(body);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      method,
      headers: chunked
        ? { ...headers, 'transfer-encoding': 'chunked', connection: 'close' }
        : { ...headers, 'content-length': String(buf.length), connection: 'close' },
    }, (res) => {
      readBody(res).then((b) => resolve({ status: res.statusCode, headers: new Headers(res.headers), ...b }), reject);
    });
    let answered = false;
    req.on('response', () => { answered = true; });
    // The server may close its side while we are still writing the body; that is fine
    // once it has answered.
    req.on('error', (err) => { if (!answered) reject(err); });
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    if (chunked) {
      for (let i = 0; i < buf.length; i += 16 * 1024) req.write(buf.subarray(i, i + 16 * 1024));
      req.end();
    } else {
      req.end(buf);
    }
  });
}

function describe(res) {
  return `HTTP ${res.status} ${JSON.stringify(Object.fromEntries(res.headers))} ${res.text}`;
}

function assertJsonContentType(res) {
  const ct = res.headers.get('content-type') ?? '';
  assert.match(ct, /^application\/json\b/i, `Content-Type should be JSON: ${describe(res)}`);
}

// A successful token response (RFC 6749 §5.1). Returns the parsed body.
export function assertTokenResponse(res, { scope = 'todo.read', expiresIn = 3600 } = {}) {
  assert.equal(res.status, 200, describe(res));
  assertJsonContentType(res);
  assert.match(res.headers.get('cache-control') ?? '', /\bno-store\b/i, `Cache-Control: ${describe(res)}`);
  const b = res.json;
  assert.ok(b && typeof b === 'object' && !Array.isArray(b), describe(res));
  assert.match(b.access_token ?? '', ACCESS_TOKEN_RE, describe(res));
  assert.equal(typeof b.token_type, 'string', describe(res));
  assert.equal(b.token_type.toLowerCase(), 'bearer', describe(res));
  assert.equal(b.expires_in, expiresIn, describe(res));
  if (scope !== undefined) {
    assert.equal(typeof b.scope, 'string', describe(res));
    assert.deepEqual(b.scope.split(' ').sort(), scope.split(' ').sort(), describe(res));
  }
  assert.ok(!('refresh_token' in b), `client_credentials must not issue a refresh token: ${describe(res)}`);
  return b;
}

// An OAuth error response (RFC 6749 §5.2).
export function assertOAuthError(res, status, error, { basicChallenge = false } = {}) {
  assert.equal(res.status, status, describe(res));
  assertJsonContentType(res);
  assert.match(res.headers.get('cache-control') ?? '', /\bno-store\b/i, `Cache-Control: ${describe(res)}`);
  assert.ok(res.json && typeof res.json === 'object', `body should be a JSON object: ${describe(res)}`);
  assert.equal(res.json.error, error, describe(res));
  if (basicChallenge) {
    assert.match(res.headers.get('www-authenticate') ?? '', /^Basic\b/i,
      `WWW-Authenticate: Basic expected: ${describe(res)}`);
  }
  return res.json;
}

export { describe as describeResponse };

// A loopback port nobody listens on right now.
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
