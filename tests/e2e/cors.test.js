// Browser-based public clients (MCP Inspector, web apps) call the token and revocation
// endpoints cross-origin: a CORS preflight (OPTIONS) must be answered, and the answers
// must be readable from any origin without credentials mode (no cookies, no
// Access-Control-Allow-Credentials). The sign-in pages get no CORS headers. The last test
// runs a real Chromium page on another origin that posts to the token endpoint with
// fetch(), preflight included, and reads the token.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';

import { ACCESS_TOKEN_RE, basic, describeResponse, form, postToken, rawRequest } from './lib/http.js';
import { launchChromium } from './lib/playground.js';
import { createPlugauth } from './lib/server.js';

const ORIGIN = 'https://inspector.example';

let pa;
let base;
let client;

before(async () => {
  pa = createPlugauth();
  client = pa.addClient({ name: 'Web client', grants: ['client_credentials'] });
  base = await pa.start();
});

after(async () => {
  await pa?.cleanup();
});

function preflight(path, requestHeaders = 'authorization,content-type') {
  return rawRequest(base, {
    method: 'OPTIONS',
    path,
    headers: {
      Origin: ORIGIN,
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': requestHeaders,
    },
  });
}

function assertPreflight(res, what) {
  const d = `${what}: ${describeResponse(res)}`;
  assert.equal(res.status, 204, d);
  assert.equal(res.headers.get('access-control-allow-origin'), '*', d);
  assert.match(res.headers.get('access-control-allow-methods') ?? '', /\bPOST\b/, d);
  const allowed = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase();
  assert.match(allowed, /\bauthorization\b/, d);
  assert.match(allowed, /\bcontent-type\b/, d);
  assert.equal(res.headers.get('access-control-allow-credentials'), null, d);
  assert.ok(Number(res.headers.get('access-control-max-age')) > 0, d);
}

test('token_and_revoke_answer_cors_preflight', async () => {
  assertPreflight(await preflight('/oauth/token'), 'OPTIONS /oauth/token');
  assertPreflight(await preflight('/oauth/revoke'), 'OPTIONS /oauth/revoke');
});

test('token_answers_readable_cross_origin_without_credentials', async () => {
  const ok = await postToken(base, {
    body: form({ grant_type: 'client_credentials' }),
    authorization: basic(client.client_id, client.client_secret),
    headers: { Origin: ORIGIN },
  });
  assert.equal(ok.status, 200, describeResponse(ok));
  assert.equal(ok.headers.get('access-control-allow-origin'), '*');
  assert.equal(ok.headers.get('access-control-allow-credentials'), null);
  // An error must be readable too, or the client cannot say what went wrong.
  const bad = await postToken(base, {
    body: form({ grant_type: 'client_credentials' }),
    authorization: basic(client.client_id, 'pa_cs_wrong'),
    headers: { Origin: ORIGIN },
  });
  assert.equal(bad.status, 401, describeResponse(bad));
  assert.equal(bad.headers.get('access-control-allow-origin'), '*');
  const rev = await fetch(`${base}/oauth/revoke`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basic(client.client_id, client.client_secret),
      origin: ORIGIN,
    },
    body: form({ token: 'pa_at_not-a-token' }),
  });
  await rev.arrayBuffer();
  assert.equal(rev.status, 200);
  assert.equal(rev.headers.get('access-control-allow-origin'), '*');
});

test('sign_in_pages_get_no_cors_headers', async () => {
  const res = await fetch(`${base}/oauth/authorize?response_type=code&client_id=${client.client_id}`, {
    headers: { origin: ORIGIN }, redirect: 'manual',
  });
  await res.arrayBuffer();
  assert.equal(res.headers.get('access-control-allow-origin'), null);
  const pre = await preflight('/oauth/authorize');
  assert.notEqual(pre.status, 204, describeResponse(pre));
  assert.equal(pre.headers.get('access-control-allow-origin'), null, describeResponse(pre));
});

test('browser_page_on_another_origin_gets_a_token_with_fetch', async () => {
  // The web client's own origin: another port on loopback is another origin.
  const site = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>web client</title>'
      + '<link rel="icon" href="data:,"></head><body>web client</body></html>');
  });
  await new Promise((resolve) => site.listen(0, '127.0.0.1', resolve));
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${site.address().port}/`);
    const got = await page.evaluate(async ({ url, auth }) => {
      const res = await fetch(`${url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: auth },
        body: JSON.stringify({ grant_type: 'client_credentials' }),
      });
      return { status: res.status, body: await res.json() };
    }, { url: base, auth: basic(client.client_id, client.client_secret) });
    assert.equal(got.status, 200, JSON.stringify(got));
    assert.match(got.body.access_token, ACCESS_TOKEN_RE);
  } finally {
    await browser.close();
    await new Promise((resolve) => site.close(resolve));
  }
});
