// No secret in the log (docs/design.md "Security rules": "No token, code, secret or password is
// ever logged"). One server, at log level debug, goes through every flow of the three
// dialects and every way of getting them wrong: the ChatGPT plugin flow (JSON body, secret
// in the body), the GPT Action flow (form body, secret in the body or in HTTP Basic), a
// public PKCE client, failed sign-ins (wrong password, unknown user), CSRF failures,
// consent denied, replayed / expired / made-up codes, refresh rotation, the retry grace and
// reuse after it (family revocation), client_credentials, wrong client secrets, token
// introspection and revocation, /oauth/verify and the gateway with good and bad bearer
// tokens, malformed requests that carry live secrets (invalid JSON, repeated parameters, an
// oversized body or header, garbage on the wire), and the CLI (`user add --password-stdin`,
// `client add`, `client rotate-secret`, `token revoke`, `events`).
//
// Every secret value the run sees goes into `secrets`: access, refresh and client
// secrets, codes, passwords (right and wrong), session cookies, CSRF tokens, PKCE
// verifiers, made-up tokens and wrong secrets. At the end, with the server stopped:
// none of them — whole, nor its first or last 16 characters, nor as a form or log_safe()
// encoding would spell it — may appear in the server's stdout + stderr, in
// `plugauth events` (text and --json), in any CLI command's stderr, or in clear in the
// database. The log must also show that the flows were logged (token_refused,
// login_failed, code_replayed, refresh_reused, …), so the test cannot pass by a server
// that logs nothing.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { after, before, test } from 'node:test';

import {
  FORM, JSON_TYPE, assertOAuthError, assertTokenResponse, basic, describeResponse, fakeSecret,
  form, formUrlEncode, postToken, rawRequest, readResponse,
} from './lib/http.js';
import {
  Browser, CODE_RE, MCP_CALLBACK, PASSWORD, actionCallback, addChatgptClient, addMcpClient,
  addUser, assertErrorPage, assertHtmlPage, assertRedirectBack, assertRedirectError,
  assertTokenPair, authorizePath, exchangeCode, fakeToken, hiddenValue, isConsentForm,
  newState, pkce, pluginCallback, refresh, sleep, theForm,
} from './lib/flow.js';
import { ISSUER, createPlugauth } from './lib/server.js';

const GRACE_S = 1;                         // refresh_reuse_grace for this server
const BOB_PASSWORD = 'bob keeps a long passphrase';
const CAROL_PASSWORD = 'carol-chose-this-one-on-the-cli';
const CAROL_NEW_PASSWORD = 'carol changed it later, also on the cli';

let pa;
let base;
let up;            // the upstream API behind the gateway
let plugin;        // --chatgpt: plugins and GPT Actions
let mcp;           // public, PKCE
let rs;            // confidential: resource server (introspection, client_credentials)
let live;          // a token pair that stays live until the malformed-request test ends

// --- the secrets ---------------------------------------------------------------------------

// value -> label. Labels name what the value was, for failure messages that do not
// print whole secrets.
const secrets = new Map();
// Whole values only (no prefix or suffix checks): encodings of several values at once,
// such as the base64 of an HTTP Basic "id:secret", whose first characters encode the
// client_id.
const wholeOnly = new Set();
// What each CLI command wrote to stderr (and stdout where no secret belongs there).
const cliTexts = [];

function remember(value, label = 'secret') {
  if (typeof value === 'string' && value.length > 0 && !secrets.has(value)) secrets.set(value, label);
  return value;
}

// The Browser of lib/flow.js adds what it sees (session cookies, CSRF tokens, codes,
// submitted passwords) to a Set: this one labels them as it goes.
const browserSeen = {
  add(v) { remember(v, labelOf(v)); return this; },
  has(v) { return secrets.has(v); },
};

function labelOf(v) {
  const m = /^pa_(at|rt|ac|cs|ss)_/.exec(v);
  if (m) return { at: 'access token', rt: 'refresh token', ac: 'code', cs: 'client secret', ss: 'session cookie' }[m[1]];
  return 'csrf token, password or verifier';
}

// The HTTP Basic credentials of a client, as the header carries them (base64).
function basicOf(id, secret) {
  const h = basic(id, secret);
  const b64 = h.slice('Basic '.length);
  remember(b64, 'Basic credentials');
  wholeOnly.add(b64);
  return h;
}

// What the log would hold if a value were written raw, form-encoded, or through
// log_safe() (which turns spaces, quotes, '=', '\\' and non-ASCII into '?').
function spellings(v) {
  const out = new Set([v]);
  out.add(formUrlEncode(v));
  out.add(encodeURIComponent(v));
  out.add(v.replace(/[^\x21-\x7e]|["=\\]/g, '?'));
  out.add(JSON.stringify(v).slice(1, -1));
  return [...out];
}

// The pieces of v whose presence means a leak: every spelling of the whole value, and for
// long values their first and last 16 characters (after a pa_xx_ prefix, the 16 that
// follow it, with and without the prefix), to catch truncated or masked logging.
function needles(v) {
  const n = new Set(spellings(v));
  if (!wholeOnly.has(v)) {
    const m = /^pa_[a-z]{2}_/.exec(v);
    if (m) {
      const body = v.slice(m[0].length);
      n.add(v.slice(0, m[0].length + 16));
      n.add(body.slice(0, 16));
      n.add(body.slice(-16));
    } else if (v.length >= 20) {
      n.add(v.slice(0, 16));
      n.add(v.slice(-16));
    }
  }
  return [...n];
}

// Every secret found in text: [{label, found}] with found cut to 12 characters.
function leaksIn(text) {
  const out = [];
  for (const [v, label] of secrets) {
    const hit = needles(v).find((s) => text.includes(s));
    if (hit !== undefined) out.push({ label, found: `${hit.slice(0, 12)}…` });
  }
  return out;
}

// --- helpers ---------------------------------------------------------------------------------

// plugauth <args> against this server's config; stderr (and stdout unless the command
// is meant to print a secret) kept for the final check.
function cli(args, { input, stdoutHasSecret = false } = {}) {
  const r = pa.cli(args, { input });
  cliTexts.push({ what: `plugauth ${args.join(' ')} (stderr)`, text: r.stderr });
  if (!stdoutHasSecret) cliTexts.push({ what: `plugauth ${args.join(' ')} (stdout)`, text: r.stdout });
  return r;
}

function sqlite(sql) {
  const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', pa.db, sql], { encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`sqlite3 exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

const sha256hex = (s) => createHash('sha256').update(s).digest('hex');
const browser = () => new Browser(base, browserSeen);
const pair = (res, scope = 'todo.read') => {
  const t = assertTokenPair(res, { scope });
  remember(t.access_token, 'access token');
  remember(t.refresh_token, 'refresh token');
  return t;
};

function pluginParams(client, redirectUri, state = newState(), scope = '') {
  return [
    ['response_type', 'code'], ['client_id', client.client_id],
    ['redirect_uri', redirectUri], ['scope', scope], ['state', state],
  ];
}

// A fresh code flow of the plugin client for `user`; resolves with the token pair.
async function pluginTokens({ placement = 'json', user = 'alice', password = PASSWORD, client = plugin } = {}) {
  const redirect = pluginCallback();
  const code = await browser().code(pluginParams(client, redirect), { user, password });
  return pair(await exchangeCode(base, placement, client, { code, redirectUri: redirect }));
}

async function post(path, { body, contentType = FORM, authorization } = {}) {
  const headers = { 'content-type': contentType };
  if (authorization) headers.authorization = authorization;
  return readResponse(await fetch(`${base}${path}`, { method: 'POST', headers, body }));
}

const introspect = (token, by = rs) =>
  post('/oauth/introspect', { body: form({ token }), authorization: basicOf(by.client_id, by.client_secret) });

async function get(path, headers = {}) {
  const res = await fetch(`${base}${path}`, { headers, redirect: 'manual' });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

const bearer = (tok) => ({ authorization: `Bearer ${tok}` });

// GET with the request-target exactly as given (fetch and new URL() would resolve "..").
function exactGet(path, headers = {}) {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.end();
  });
}

// Bytes straight onto a socket (for requests no HTTP client would send); resolves with
// whatever came back once the server closes or 3 s pass.
function rawSocket(bytes) {
  const url = new URL(base);
  return new Promise((resolve) => {
    const chunks = [];
    const s = net.connect(Number(url.port), url.hostname, () => s.end(bytes));
    const done = () => resolve(Buffer.concat(chunks).toString('latin1'));
    s.setTimeout(3000, () => s.destroy());
    s.on('data', (c) => chunks.push(c));
    s.on('error', done);
    s.on('close', done);
  });
}

// The upstream: answers 200 to everything and records what it got.
function startUpstream() {
  const got = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      got.push({ url: req.url, headers: req.headers });
      const out = JSON.stringify({ ok: true });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
      res.end(out);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        got,
        close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
      });
    });
  });
}

// --- set-up ----------------------------------------------------------------------------------

before(async () => {
  up = await startUpstream();
  pa = createPlugauth();
  addUser(pa, 'alice');
  addUser(pa, 'bob', BOB_PASSWORD);
  remember(PASSWORD, 'alice password');
  remember(BOB_PASSWORD, 'bob password');
  plugin = addChatgptClient(pa, 'ChatGPT plugin');
  remember(plugin.client_secret, 'client secret');
  mcp = addMcpClient(pa);
  rs = pa.addClient({ name: 'resource-server' });
  remember(rs.client_secret, 'client secret');
  base = await pa.start({
    env: {
      PLUGAUTH_SERVER_LOG_LEVEL: 'debug',
      PLUGAUTH_OAUTH_REFRESH_REUSE_GRACE: String(GRACE_S),
      PLUGAUTH_GATEWAY_UPSTREAM: up.url,
    },
  });
});

after(async () => {
  await pa?.cleanup();
  await up?.close();
});

// --- the three dialects ----------------------------------------------------------------------

test('plugin_flow_json_body_then_api_and_verify', async () => {
  const redirect = pluginCallback();
  const state = newState();
  const r = await browser().authorize(pluginParams(plugin, redirect, state));
  assert.deepEqual(r.steps, ['login', 'consent', 'redirect']);
  assertRedirectBack(r.res, redirect, { state });
  // The redirect that carries the code is neither cached nor sent on as a Referer
  // (RFC 9700 §4.2, §4.3).
  assert.equal(r.res.headers.get('referrer-policy'), 'no-referrer', describeResponse(r.res));
  assert.match(r.res.headers.get('cache-control') ?? '', /\bno-store\b/, describeResponse(r.res));
  const t = pair(await exchangeCode(base, 'json', plugin, { code: r.code, redirectUri: redirect }));

  const api = await get('/api/todos?x=1', bearer(t.access_token));
  assert.equal(api.status, 200, `gateway: ${api.status} ${api.text}`);
  const seenUp = up.got[up.got.length - 1];
  assert.equal(seenUp.headers['x-plugauth-user'], 'alice');
  assert.equal(seenUp.headers.authorization, undefined);
  const v = await get('/oauth/verify', bearer(t.access_token));
  assert.equal(v.status, 204, `verify: ${v.status} ${v.text}`);
});

test('gpt_action_flows_form_body_and_basic', async () => {
  const b = browser();
  for (const placement of ['form', 'basic+id', 'basic']) {
    const redirect = actionCallback(placement === 'basic' ? 'chat.openai.com' : 'chatgpt.com');
    const code = await b.code(pluginParams(plugin, redirect));
    if (placement.startsWith('basic')) basicOf(plugin.client_id, plugin.client_secret);
    pair(await exchangeCode(base, placement, plugin, { code, redirectUri: redirect }));
  }
});

test('public_pkce_client_flow_wrong_verifier_and_refresh', async () => {
  const b = browser();
  const params = (challenge) => [
    ['response_type', 'code'], ['client_id', mcp.client_id], ['redirect_uri', MCP_CALLBACK],
    ['state', newState()], ['code_challenge', challenge], ['code_challenge_method', 'S256'],
    ['resource', `${ISSUER}/api/`],
  ];
  const p = pkce();
  remember(p.verifier, 'pkce verifier');
  const code = await b.code(params(p.challenge));
  const t = pair(await exchangeCode(base, 'public', mcp, { code, redirectUri: MCP_CALLBACK, verifier: p.verifier }));
  pair(await refresh(base, 'public', mcp, t.refresh_token));

  const q = pkce();
  remember(q.verifier, 'pkce verifier');
  const wrong = remember(pkce().verifier, 'wrong pkce verifier');
  const code2 = await b.code(params(q.challenge));
  assertOAuthError(await exchangeCode(base, 'public', mcp, { code: code2, redirectUri: MCP_CALLBACK, verifier: wrong }),
    400, 'invalid_grant');
  // …and a public client that sends a secret is refused, the secret unlogged.
  const bogus = remember(fakeSecret(), 'wrong client secret');
  assertOAuthError(await postToken(base, {
    body: { grant_type: 'refresh_token', refresh_token: t.refresh_token, client_id: mcp.client_id, client_secret: bogus },
  }), 401, 'invalid_client');
});

// --- failures at the authorization endpoint ---------------------------------------------------

test('login_failures_wrong_password_unknown_user_missing_password', async () => {
  const b = browser();
  const redirect = pluginCallback();
  let page = await b.get(authorizePath(pluginParams(plugin, redirect)));
  assertHtmlPage(page, 200);
  const attempts = [
    ['alice', remember('correct horse battery staple', 'wrong password')],
    ['mallory-no-such-user', remember('mallory guesses s3cret-Passw0rd!', 'password of an unknown user')],
  ];
  for (const [username, password] of attempts) {
    page = await b.submit(page, { username, password });
    assertHtmlPage(page, 400);
    assert.match(page.text, /Wrong username or password/);
  }
  // No password at all.
  page = await b.submit(page, { username: 'alice' }, { edit: (pairs) => pairs.filter(([k]) => k !== 'password') });
  assert.equal(page.status, 400, describeResponse(page));
  // The right one still works (alice consented to this client before: straight back).
  const done = await b.submit(page, { username: 'alice', password: PASSWORD });
  assert.match(assertRedirectBack(done, redirect, { status: 303 }).get('code') ?? '', CODE_RE);
});

test('csrf_failures_on_login_and_consent', async () => {
  const client = addChatgptClient(pa, 'CSRF plugin');
  remember(client.client_secret, 'client secret');
  const redirect = pluginCallback();
  const b = browser();
  const login = await b.get(authorizePath(pluginParams(client, redirect)));
  const forged = remember(fakeToken(), 'forged csrf token');
  const withCsrf = (v) => (pairs) => pairs.map(([k, x]) => [k, k === 'csrf' ? v : x]);
  const without = (pairs) => pairs.filter(([k]) => k !== 'csrf');
  assertErrorPage(await b.submit(login, { username: 'alice', password: PASSWORD }, { edit: withCsrf(forged) }), 403);
  assertErrorPage(await b.submit(login, { username: 'bob', password: BOB_PASSWORD }, { cookies: false }), 403);

  const consent = await b.submit(login, { username: 'alice', password: PASSWORD });
  assert.ok(isConsentForm(theForm(consent)), describeResponse(consent));
  const allow = { name: 'decision', value: 'allow' };
  assertErrorPage(await b.submit(consent, {}, { button: allow, edit: without }), 403);
  assertErrorPage(await b.submit(consent, {}, { button: allow, edit: withCsrf(hiddenValue(theForm(login), 'csrf')) }), 403);
});

test('consent_denied', async () => {
  const client = addChatgptClient(pa, 'Denied plugin');
  remember(client.client_secret, 'client secret');
  const redirect = pluginCallback();
  const state = newState();
  const r = await browser().authorize(pluginParams(client, redirect, state), { user: 'bob', password: BOB_PASSWORD, decision: 'deny' });
  assertRedirectError(r.res, redirect, 'access_denied', state);
});

// --- codes ---------------------------------------------------------------------------------------

test('code_replay_expired_made_up_and_mismatched_codes', async () => {
  const b = browser();
  const redirect = pluginCallback();

  // Replay: refused, and what the code gave is revoked.
  const code = await b.code(pluginParams(plugin, redirect));
  const first = pair(await exchangeCode(base, 'json', plugin, { code, redirectUri: redirect }));
  assertOAuthError(await exchangeCode(base, 'form', plugin, { code, redirectUri: redirect }), 400, 'invalid_grant');
  assertOAuthError(await refresh(base, 'json', plugin, first.refresh_token), 400, 'invalid_grant');

  // Expired: aged in the database rather than waited for.
  const old = await b.code(pluginParams(plugin, redirect));
  sqlite(`UPDATE codes SET expires_at = ${Math.floor(Date.now() / 1000) - 5} WHERE digest = X'${sha256hex(old)}'`);
  assertOAuthError(await exchangeCode(base, 'json', plugin, { code: old, redirectUri: redirect }), 400, 'invalid_grant');

  // Made up, with and without the prefix.
  for (const made of [`pa_ac_${fakeToken()}`, `garbage-${fakeToken()}`]) {
    remember(made, 'made-up code');
    assertOAuthError(await exchangeCode(base, 'basic', plugin, { code: made, redirectUri: redirect }), 400, 'invalid_grant');
  }

  // Another redirect_uri than the authorization request's.
  const c3 = await b.code(pluginParams(plugin, redirect));
  assertOAuthError(await exchangeCode(base, 'json', plugin, { code: c3, redirectUri: pluginCallback() }), 400, 'invalid_grant');
  // A verifier for a code that had no challenge.
  const c4 = await b.code(pluginParams(plugin, redirect));
  const v4 = remember(pkce().verifier, 'pkce verifier');
  assertOAuthError(await exchangeCode(base, 'json', plugin, { code: c4, redirectUri: redirect, verifier: v4 }), 400, 'invalid_grant');
  // No code at all.
  assertOAuthError(await postToken(base, {
    contentType: JSON_TYPE,
    body: { grant_type: 'authorization_code', redirect_uri: redirect, client_id: plugin.client_id, client_secret: plugin.client_secret },
  }), 400, 'invalid_request');
});

// --- refresh -------------------------------------------------------------------------------------

test('refresh_rotation_retry_in_grace_and_reuse_after_grace', async () => {
  const t0 = await pluginTokens({ placement: 'json' });
  const t1 = pair(await refresh(base, 'json', plugin, t0.refresh_token));
  assert.notEqual(t1.refresh_token, t0.refresh_token);
  // ChatGPT's retry of the same refresh, within the grace window.
  const t1b = pair(await refresh(base, 'basic', plugin, t0.refresh_token));
  basicOf(plugin.client_id, plugin.client_secret);

  await sleep(GRACE_S * 1000 + 1100);
  assertOAuthError(await refresh(base, 'form', plugin, t0.refresh_token), 400, 'invalid_grant');
  for (const t of [t1, t1b]) {
    assertOAuthError(await refresh(base, 'json', plugin, t.refresh_token), 400, 'invalid_grant');
    const i = await introspect(t.access_token);
    assert.deepEqual(i.json, { active: false }, `the family is revoked: ${i.text}`);
  }
  // Another client's refresh token, an access token as refresh token.
  const other = await pluginTokens({ placement: 'form' });
  assertOAuthError(await refresh(base, 'public', mcp, other.refresh_token), 400, 'invalid_grant');
  assertOAuthError(await refresh(base, 'json', plugin, other.access_token), 400, 'invalid_grant');
  assertOAuthError(await refresh(base, 'json', plugin, other.refresh_token, { scope: 'todo.read todo.write' }), 400, 'invalid_scope');
});

// --- client authentication -------------------------------------------------------------------------

test('client_credentials_and_wrong_client_secrets', async () => {
  const ok = [
    await postToken(base, { body: { grant_type: 'client_credentials' }, authorization: basicOf(rs.client_id, rs.client_secret) }),
    await postToken(base, { body: { grant_type: 'client_credentials', client_id: rs.client_id, client_secret: rs.client_secret } }),
    await postToken(base, {
      contentType: JSON_TYPE,
      body: { grant_type: 'client_credentials', client_id: rs.client_id, client_secret: rs.client_secret, scope: 'todo.read' },
    }),
  ];
  for (const res of ok) remember(assertTokenResponse(res).access_token, 'access token');

  const wrong = remember(fakeSecret(), 'wrong client secret');
  // One character off the real one.
  const nearly = remember(rs.client_secret.slice(0, -1) + (rs.client_secret.endsWith('A') ? 'B' : 'A'), 'wrong client secret');
  assertOAuthError(await postToken(base, { body: { grant_type: 'client_credentials' }, authorization: basicOf(rs.client_id, wrong) }),
    401, 'invalid_client', { basicChallenge: true });
  assertOAuthError(await postToken(base, { body: { grant_type: 'client_credentials', client_id: rs.client_id, client_secret: nearly } }),
    401, 'invalid_client');
  assertOAuthError(await postToken(base, {
    contentType: JSON_TYPE, body: { grant_type: 'client_credentials', client_id: rs.client_id, client_secret: wrong },
  }), 401, 'invalid_client');
  // An unknown client, with a secret, by Basic; the plugin's secret under the rs's id.
  assertOAuthError(await postToken(base, { body: { grant_type: 'client_credentials' }, authorization: basicOf('no-such-client', wrong) }),
    401, 'invalid_client', { basicChallenge: true });
  assertOAuthError(await postToken(base, { body: { grant_type: 'client_credentials', client_id: rs.client_id, client_secret: plugin.client_secret } }),
    401, 'invalid_client');
  // A public client cannot use client_credentials; an unknown grant type.
  assertOAuthError(await postToken(base, { body: { grant_type: 'client_credentials', client_id: mcp.client_id } }), 400, 'unauthorized_client');
  assertOAuthError(await postToken(base, { body: { grant_type: 'password', username: 'alice', password: PASSWORD, client_id: rs.client_id, client_secret: rs.client_secret } }),
    400, 'unsupported_grant_type');
});

// --- introspection and revocation -------------------------------------------------------------------

test('introspection_active_inactive_and_revocation', async () => {
  const t = await pluginTokens({ placement: 'form', user: 'bob', password: BOB_PASSWORD });
  let i = await introspect(t.access_token);
  assert.equal(i.json?.active, true, i.text);
  i = await introspect(t.refresh_token);
  assert.equal(i.json?.active, true, i.text);
  for (const junk of [remember(`pa_at_${fakeToken()}`, 'made-up access token'), remember(fakeToken(), 'made-up token')]) {
    i = await introspect(junk);
    assert.deepEqual(i.json, { active: false }, i.text);
  }
  // Wrong secret; a public client may not introspect.
  const wrong = remember(fakeSecret(), 'wrong client secret');
  i = await post('/oauth/introspect', { body: form({ token: t.access_token }), authorization: basicOf(rs.client_id, wrong) });
  assert.equal(i.status, 401, i.text);
  i = await post('/oauth/introspect', { body: form({ token: t.access_token, client_id: mcp.client_id }) });
  assert.equal(i.status, 401, i.text);

  // Revocation: by another client (ignored), with a wrong secret (refused), then for real.
  const revoke = (token, c, secret = c.client_secret) =>
    post('/oauth/revoke', { body: form({ token, token_type_hint: 'access_token' }), authorization: basicOf(c.client_id, secret) });
  assert.equal((await revoke(t.access_token, rs)).status, 200);
  assert.equal((await introspect(t.access_token)).json?.active, true, 'another client cannot revoke it');
  assert.equal((await revoke(t.access_token, plugin, wrong)).status, 401);
  assert.equal((await revoke(t.access_token, plugin)).status, 200);
  assert.deepEqual((await introspect(t.access_token)).json, { active: false });
  const r = await post('/oauth/revoke', {
    body: JSON.stringify({ token: t.refresh_token, client_id: plugin.client_id, client_secret: plugin.client_secret }),
    contentType: JSON_TYPE,
  });
  assert.equal(r.status, 200, r.text);
  assertOAuthError(await refresh(base, 'json', plugin, t.refresh_token), 400, 'invalid_grant');
  // No token parameter.
  assert.equal((await post('/oauth/revoke', { body: form({}), authorization: basicOf(plugin.client_id, plugin.client_secret) })).status, 400);
});

// --- bearer tokens: /oauth/verify and the gateway ------------------------------------------------

test('verify_and_gateway_with_good_and_bad_bearer_tokens', async () => {
  const t = await pluginTokens({ placement: 'basic+id' });
  basicOf(plugin.client_id, plugin.client_secret);
  assert.equal((await get('/oauth/verify', bearer(t.access_token))).status, 204);
  const before = up.got.length;
  assert.equal((await get('/api/items/1?q=a', bearer(t.access_token))).status, 200);
  assert.equal(up.got.length, before + 1);

  // An expired access token, written straight into the store.
  const expired = remember(`pa_at_${randomBytes(32).toString('base64url')}`, 'expired access token');
  const now = Math.floor(Date.now() / 1000);
  sqlite(`INSERT INTO tokens (digest, kind, client_id, user_id, scope, audience, family_id, expires_at, revoked_at, created_at)
    VALUES (X'${sha256hex(expired)}', 1, '${plugin.client_id}', NULL, 'todo.read', NULL, 0, ${now - 10}, 0, ${now - 100})`);
  // A revoked one the gateway has not cached.
  const revoked = await pluginTokens({ placement: 'json' });
  assert.equal((await post('/oauth/revoke', {
    body: form({ token: revoked.access_token }), authorization: basicOf(plugin.client_id, plugin.client_secret),
  })).status, 200);

  const bad = [
    bearer(remember(`pa_at_${fakeToken()}`, 'made-up access token')),
    bearer(expired),
    bearer(revoked.access_token),
    bearer(t.refresh_token),                                    // not an access token
    { authorization: `Bearer ${t.access_token} trailing` },     // malformed
    { authorization: `Bearer ${t.access_token}\tx` },
    { authorization: `Basic ${basicOf(plugin.client_id, plugin.client_secret).slice(6)}` },
    { authorization: `Token ${t.access_token}` },
    { authorization: `Bearer ${remember(`${fakeToken()}==`, 'made-up token')}` },
  ];
  for (const h of bad) {
    const v = await get('/oauth/verify', h);
    assert.equal(v.status, 401, `verify ${JSON.stringify(h).slice(0, 40)}: ${v.status}`);
    const g = await get('/api/items', h);
    assert.equal(g.status, 401, `gateway ${JSON.stringify(h).slice(0, 40)}: ${g.status}`);
  }
  // The token in the query string (RFC 6750 §2.3, not accepted) or in a cookie.
  assert.equal((await get(`/api/items?access_token=${t.access_token}`)).status, 401);
  assert.equal((await get(`/oauth/verify?access_token=${t.access_token}`)).status, 401);
  assert.equal((await get('/api/items', { cookie: `access_token=${t.access_token}` })).status, 401);
  // The token in the path of a request the gateway refuses, or of an unknown route.
  const dots = await exactGet(`/api/${t.access_token}/../x`, bearer(t.access_token));
  assert.equal(dots.status, 400, `dot segments: ${dots.status} ${dots.text}`);
  assert.equal((await get(`/nowhere/${t.access_token}`)).status, 404);
  assert.equal(up.got.length, before + 1, 'no refused request reached the upstream');
});

// --- malformed requests carrying live secrets --------------------------------------------------------

test('malformed_requests_carrying_live_secrets', async () => {
  live = await pluginTokens({ placement: 'json' });
  const rt = live.refresh_token;
  const id = plugin.client_id;
  const secret = plugin.client_secret;
  const json = (o) => JSON.stringify(o);

  const bodies = [
    // A valid refresh token inside invalid JSON (cut short), a duplicate key, a non-string value.
    [JSON_TYPE, `{"grant_type":"refresh_token","refresh_token":"${rt}","client_id":"${id}","client_secret":"${secret}"`],
    [JSON_TYPE, `{"grant_type":"refresh_token","refresh_token":"${rt}","refresh_token":"${rt}","client_id":"${id}","client_secret":"${secret}"}`],
    [JSON_TYPE, json({ grant_type: 'refresh_token', refresh_token: [rt], client_id: id, client_secret: secret })],
    [JSON_TYPE, `["${rt}","${secret}"]`],
    [JSON_TYPE, `{"grant_type":"refresh_token","refresh_token":"${rt}\u0000","client_id":"${id}","client_secret":"${secret}"}`],
    // A repeated parameter, bad percent-encoding, a bare name.
    [FORM, `grant_type=refresh_token&refresh_token=${rt}&refresh_token=${rt}&client_id=${id}&client_secret=${secret}`],
    [FORM, `grant_type=refresh_token&refresh_token=${rt}%zz&client_id=${id}&client_secret=${secret}`],
    [FORM, `grant_type=refresh_token&${rt}&client_id=${id}&client_secret=${secret}%`],
    [FORM, `grant_type=refresh_token&client_secret=${secret}&client_secret=${secret}&client_id=${id}&refresh_token=${rt}`],
    // Not a media type the endpoint reads.
    ['text/plain', `grant_type=refresh_token&refresh_token=${rt}&client_id=${id}&client_secret=${secret}`],
    [null, json({ grant_type: 'refresh_token', refresh_token: rt, client_id: id, client_secret: secret })],
  ];
  for (const [ct, body] of bodies) {
    const res = await postToken(base, { body, contentType: ct });
    assert.ok(res.status === 400 || res.status === 401, `${ct} ${body.slice(0, 60)}: ${res.status} ${res.text}`);
    assert.ok(!res.text.includes(rt) && !res.text.includes(secret), `the error echoes a secret: ${res.text}`);
  }
  // The secret both in Basic and in the body; in a Basic header that is not base64.
  assertOAuthError(await postToken(base, {
    body: { grant_type: 'refresh_token', refresh_token: rt, client_secret: secret }, authorization: basicOf(id, secret),
  }), 400, 'invalid_request');
  assertOAuthError(await postToken(base, {
    body: { grant_type: 'refresh_token', refresh_token: rt }, authorization: `Basic ${id}:${secret}`,
  }), 401, 'invalid_client', { basicChallenge: true });
  // A body over body_max_bytes (413), holding the token and the secret.
  const big = `grant_type=refresh_token&refresh_token=${rt}&client_id=${id}&client_secret=${secret}&pad=${'x'.repeat(80 * 1024)}`;
  assert.equal((await rawRequest(base, { headers: { 'content-type': FORM }, body: big })).status, 413);
  assert.equal((await rawRequest(base, { headers: { 'content-type': FORM }, body: big, chunked: true })).status, 413);
  // The wrong method, the secrets in the query.
  const q = `?grant_type=refresh_token&refresh_token=${rt}&client_id=${id}&client_secret=${secret}`;
  assert.equal((await get(`/oauth/token${q}`)).status, 405);
  // The authorization endpoint: a password in the query, a password posted as text/plain,
  // a repeated password, an unknown client.
  let page = await get(`/oauth/authorize?client_id=nobody&username=alice&password=${formUrlEncode(PASSWORD)}&code=${rt}`);
  assertErrorPage(page, 400);
  page = await post('/oauth/authorize', { body: `username=alice&password=${formUrlEncode(PASSWORD)}`, contentType: 'text/plain' });
  assert.equal(page.status, 400);
  const b = browser();
  const login = await b.get(authorizePath(pluginParams(plugin, pluginCallback())));
  page = await b.submit(login, { username: 'alice', password: PASSWORD }, {
    edit: (pairs) => [...pairs, ['password', BOB_PASSWORD]],
  });
  assert.equal(page.status, 400, describeResponse(page));
  // A header far over any limit holding the token; a header line with no colon; a broken
  // request line; a request smuggling attempt.
  const huge = await rawSocket(`GET /oauth/verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${live.access_token}${'A'.repeat(200 * 1024)}\r\n\r\n`);
  assert.match(huge, /^HTTP\/1\.[01] (4\d\d)|^$/, `huge header: ${huge.slice(0, 80)}`);
  const nocolon = await rawSocket(`GET /oauth/verify HTTP/1.1\r\nHost: x\r\nBearer ${live.access_token} ${secret}\r\n\r\n`);
  assert.match(nocolon, /^HTTP\/1\.[01] 4\d\d|^$/, `no colon: ${nocolon.slice(0, 80)}`);
  await rawSocket(`POST /oauth/token?${rt} HTTP/9.9 ${secret}\r\n\r\n`);
  await rawSocket(`${secret} ${rt}\r\n\r\n`);
  await rawSocket(`POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n`
    + `0\r\n\r\nPOST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: ${FORM}\r\nContent-Length: 20\r\n\r\nrefresh_token=${rt}`);

  // None of these spent the token: it still refreshes.
  pair(await refresh(base, 'json', plugin, rt));
});

// --- the CLI -------------------------------------------------------------------------------------------

test('cli_user_add_client_add_rotate_secret_and_token_revoke', async () => {
  // user add --password-stdin while the server runs; carol signs in with it.
  remember(CAROL_PASSWORD, 'carol password');
  let r = cli(['user', 'add', 'carol', '--password-stdin'], { input: `${CAROL_PASSWORD}\n` });
  assert.equal(r.status, 0, r.stderr);
  const carol = await pluginTokens({ placement: 'form', user: 'carol', password: CAROL_PASSWORD });
  remember(CAROL_NEW_PASSWORD, 'carol password');
  r = cli(['user', 'passwd', 'carol', '--password-stdin'], { input: `${CAROL_NEW_PASSWORD}\n` });
  assert.equal(r.status, 0, r.stderr);
  await pluginTokens({ placement: 'json', user: 'carol', password: CAROL_NEW_PASSWORD });

  // client add, plain output: the secret is printed once (stdout only).
  r = cli(['client', 'add', '--name', 'Printed', '--grant', 'client_credentials'], { stdoutHasSecret: true });
  assert.equal(r.status, 0, r.stderr);
  const printed = {
    client_id: /client_id:\s+(\S+)/.exec(r.stdout)?.[1],
    client_secret: remember(/client_secret:\s+(pa_cs_\S+)/.exec(r.stdout)?.[1], 'printed client secret'),
  };
  assert.ok(printed.client_id && printed.client_secret, r.stdout);
  const cc = () => postToken(base, {
    body: { grant_type: 'client_credentials' }, authorization: basicOf(printed.client_id, printed.client_secret),
  });
  remember(assertTokenResponse(await cc()).access_token, 'access token');

  // client add --chatgpt prints the values to paste, secret included.
  r = cli(['client', 'add', '--name', 'Pasted', '--chatgpt'], { stdoutHasSecret: true });
  assert.equal(r.status, 0, r.stderr);
  for (const m of r.stdout.matchAll(/pa_cs_[A-Za-z0-9_-]+/g)) remember(m[0], 'printed client secret');

  // rotate-secret: the old one stops working.
  r = cli(['client', 'rotate-secret', printed.client_id], { stdoutHasSecret: true });
  assert.equal(r.status, 0, r.stderr);
  const oldSecret = printed.client_secret;
  printed.client_secret = remember(/client_secret:\s+(pa_cs_\S+)/.exec(r.stdout)?.[1], 'rotated client secret');
  assert.ok(printed.client_secret && printed.client_secret !== oldSecret, r.stdout);
  assertOAuthError(await postToken(base, {
    body: { grant_type: 'client_credentials', client_id: printed.client_id, client_secret: oldSecret },
  }), 401, 'invalid_client');
  remember(assertTokenResponse(await cc()).access_token, 'access token');

  // token revoke --user / --client.
  r = cli(['token', 'revoke', '--user', 'carol']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^revoked [1-9][0-9]* tokens? of user carol/);
  assertOAuthError(await refresh(base, 'form', plugin, carol.refresh_token), 400, 'invalid_grant');
  r = cli(['token', 'revoke', '--client', printed.client_id]);
  assert.equal(r.status, 0, r.stderr);
  // Listing commands never show a secret.
  for (const args of [['client', 'list'], ['client', 'list', '--json'], ['user', 'list']]) {
    r = cli(args);
    assert.equal(r.status, 0, r.stderr);
  }
});

// --- the checks ----------------------------------------------------------------------------------------

test('log_events_and_cli_output_hold_no_secret', async () => {
  const code = await pa.stop();
  const log = `${pa.stdout}\n${pa.stderr}`;
  assert.equal(code, 0, `SIGTERM should exit 0; log:\n${log}`);
  assert.ok(secrets.size >= 60, `the run should have seen many secrets (${secrets.size})`);
  for (const kind of ['access token', 'refresh token', 'code', 'client secret', 'session cookie', 'pkce verifier',
    'csrf token, password or verifier', 'wrong password', 'password of an unknown user']) {
    assert.ok([...secrets.values()].includes(kind), `no ${kind} collected`);
  }

  // The log recorded the run: it is no empty log that passes by saying nothing.
  assert.match(log, /event=listening /);
  for (const ev of ['token_refused', 'login_failed', 'code_replayed', 'refresh_reused', 'token_revoked',
    'revoke_refused', 'revoke_ignored', 'introspect_refused', 'stopped']) {
    assert.match(log, new RegExp(`event=${ev}\\b`), `the log has no ${ev} line:\n${log}`);
  }
  assert.ok(log.split('\n').filter((l) => /event=token_refused/.test(l)).length >= 15,
    `every refused token request is logged:\n${log}`);
  assert.deepEqual(leaksIn(log), [], 'the server log holds secrets');

  // The events, as the CLI shows them (text and JSON), hold no secret either.
  const text = cli(['events', '-n', '10000']);
  assert.equal(text.status, 0, text.stderr);
  const jsonOut = cli(['events', '-n', '10000', '--json']);
  assert.equal(jsonOut.status, 0, jsonOut.stderr);
  const events = jsonOut.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(events.length >= 50, `events recorded: ${events.length}`);
  const reasons = new Set(events.map((e) => e.reason));
  for (const r of ['code_issued', 'code_redeemed', 'code_replayed', 'code_expired', 'code_unknown',
    'redirect_uri_mismatch', 'pkce_mismatch', 'pkce_unexpected', 'refresh_rotated', 'refresh_retry_in_grace',
    'refresh_reused', 'bad_credentials', 'signed_in', 'csrf_mismatch', 'user_denied', 'user_allowed',
    'access_revoked', 'refresh_family_revoked', 'token_of_other_client', 'unknown_token', 'expired',
    'revoked', 'not_access_token', 'malformed', 'missing_token']) {
    assert.ok(reasons.has(r), `no event with reason ${r}: ${[...reasons].join(' ')}`);
  }
  assert.deepEqual(leaksIn(text.stdout), [], 'plugauth events holds secrets');
  assert.deepEqual(leaksIn(jsonOut.stdout), [], 'plugauth events --json holds secrets');

  // Every CLI command's stderr, and stdout where no secret belongs.
  for (const { what, text: t } of cliTexts) {
    assert.deepEqual(leaksIn(t), [], `${what} holds secrets`);
  }
});

test('database_holds_no_secret_in_clear', async () => {
  // Secrets at rest are SHA-256 digests (tokens, codes, client secrets, sessions) or
  // argon2id hashes (passwords): a dump of the whole database holds none of them.
  const dump = sqlite('.dump');
  assert.match(dump, /CREATE TABLE tokens/);
  assert.match(dump, /\$argon2id\$/, 'passwords are argon2id hashes');
  const leaked = [...secrets].filter(([v]) => !wholeOnly.has(v) && spellings(v).some((s) => dump.includes(s)))
    .map(([v, label]) => `${label} ${v.slice(0, 10)}…`);
  assert.deepEqual(leaked, [], 'the database holds secrets in clear');
});
