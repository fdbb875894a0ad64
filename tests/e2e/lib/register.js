// Dynamic client registration (RFC 7591, RFC 7592) for the register*.test.js files:
// the requests, the client count the CLI sees, and the error shape.

import assert from 'node:assert/strict';

import { JSON_TYPE, describeResponse, readResponse } from './http.js';
import { jsonLines } from './server.js';

// POST /oauth/register with `body` (an object: sent as JSON; a string: sent as is).
// Resolves with {status, headers, text, json}.
export async function register(base, body, { token, contentType = JSON_TYPE, headers = {} } = {}) {
  const h = { ...headers };
  if (contentType) h['content-type'] = contentType;
  if (token) h.authorization = `Bearer ${token}`;
  const res = await fetch(`${base}/oauth/register`, {
    method: 'POST',
    headers: h,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return readResponse(res);
}

// The registration_client_uri of `info` on the address the server listens on (the
// configured issuer is another one).
export function manageUrl(base, info) {
  return `${base}${new URL(info.registration_client_uri).pathname}`;
}

// An RFC 7592 request to the client configuration endpoint.
export async function manage(base, info, { method = 'GET', token = info.registration_access_token, body } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = JSON_TYPE;
  const res = await fetch(manageUrl(base, info), {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  return readResponse(res);
}

// `client list --json`: every client, as the CLI sees the database.
export function clientList(pa) {
  const r = pa.cli(['client', 'list', '--json']);
  assert.equal(r.status, 0, `client list: ${r.stderr}`);
  return jsonLines(r.stdout);
}

// An RFC 7591 §3.2.2 error: status, JSON {error, error_description}, no-store.
export function assertRegError(res, status, error) {
  assert.equal(res.status, status, describeResponse(res));
  assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/i, describeResponse(res));
  assert.equal(res.json?.error, error, describeResponse(res));
  assert.equal(typeof res.json.error_description, 'string', describeResponse(res));
  return res.json;
}

// A successful registration (201, RFC 7591 §3.2.1). Returns the client information.
export function assertRegistered(res) {
  assert.equal(res.status, 201, describeResponse(res));
  assert.match(res.headers.get('cache-control') ?? '', /\bno-store\b/, describeResponse(res));
  const info = res.json;
  assert.match(info.client_id ?? '', /^[0-9a-f]{32}$/, describeResponse(res));
  assert.match(info.registration_access_token ?? '', /^pa_rg_[A-Za-z0-9_-]{43}$/, describeResponse(res));
  assert.equal(typeof info.client_id_issued_at, 'number', describeResponse(res));
  assert.ok(info.registration_client_uri.endsWith(`/oauth/register/${info.client_id}`), describeResponse(res));
  return info;
}
