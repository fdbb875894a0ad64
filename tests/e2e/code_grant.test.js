// POST /oauth/token, grant_type=authorization_code, when the code must not be honoured
// (RFC 6749 §4.1.2, §4.1.3, §10.5; RFC 7636 §4.6; RFC 9700 §2.1.1, §4.2.4): replay
// (which also revokes what the code gave), another client's code, another redirect_uri,
// PKCE mismatches either way, and an expired code. The server runs with
// PLUGAUTH_OAUTH_CODE_TTL=10 so that the expiry test waits only 11 s.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { assertOAuthError } from './lib/http.js';
import {
  Browser, MCP_CALLBACK, actionCallback, addChatgptClient, addExactClient, addMcpClient, addUser,
  assertTokenPair, exchangeCode, fakeToken, newState, pkce, pluginCallback, refresh, sleep,
} from './lib/flow.js';
import { createPlugauth } from './lib/server.js';

const CODE_TTL = 10;

let pa;
let base;
let pluginA;
let pluginB;
let mcp;
let exact;   // a confidential client with one registered redirect_uri
let alice;   // a browser, signed in on first use
const seen = new Set();

function remember(...values) {
  for (const v of values) if (typeof v === 'string' && v.length > 0) seen.add(v);
}

function params(client, redirectUri, extra = []) {
  return [
    ['response_type', 'code'], ['client_id', client.client_id],
    ['redirect_uri', redirectUri], ['scope', ''], ['state', newState()], ...extra,
  ];
}

// A code for the MCP client with a fresh S256 challenge.
async function mcpCode() {
  const p = pkce();
  remember(p.verifier);
  const code = await alice.code(params(mcp, MCP_CALLBACK, [
    ['code_challenge', p.challenge], ['code_challenge_method', 'S256'],
  ]));
  return { code, ...p };
}

before(async () => {
  pa = createPlugauth();
  addUser(pa, 'alice');
  pluginA = addChatgptClient(pa, 'Plugin A');
  pluginB = addChatgptClient(pa, 'Plugin B');
  mcp = addMcpClient(pa);
  exact = addExactClient(pa);
  remember(pluginA.client_secret, pluginB.client_secret, exact.client_secret);
  base = await pa.start({ env: { PLUGAUTH_OAUTH_CODE_TTL: String(CODE_TTL) } });
  alice = new Browser(base, seen);
});

after(async () => {
  await pa?.cleanup();
});

test('code_replay_revokes_tokens', async () => {
  const redirect = pluginCallback();
  const code = await alice.code(params(pluginA, redirect));
  const first = assertTokenPair(await exchangeCode(base, 'json', pluginA, { code, redirectUri: redirect }), { seen });

  const replay = await exchangeCode(base, 'json', pluginA, { code, redirectUri: redirect });
  assertOAuthError(replay, 400, 'invalid_grant');

  // What the code gave is revoked with it.
  const r = await refresh(base, 'json', pluginA, first.refresh_token);
  assertOAuthError(r, 400, 'invalid_grant');
});

test('code_replay_in_other_dialect_also_denied', async () => {
  // The replay arrives as a GPT Action would send it (form body, Basic).
  const redirect = actionCallback();
  const code = await alice.code(params(pluginA, redirect));
  const first = assertTokenPair(await exchangeCode(base, 'form', pluginA, { code, redirectUri: redirect }), { seen });
  assertOAuthError(await exchangeCode(base, 'basic+id', pluginA, { code, redirectUri: redirect }), 400, 'invalid_grant');
  assertOAuthError(await refresh(base, 'basic', pluginA, first.refresh_token), 400, 'invalid_grant');
});

test('code_for_another_client_denied', async () => {
  const redirect = pluginCallback();
  const code = await alice.code(params(pluginA, redirect));
  const res = await exchangeCode(base, 'form', pluginB, { code, redirectUri: redirect });
  assertOAuthError(res, 400, 'invalid_grant');

  // …nor may a public client spend a confidential client's code.
  const code2 = await alice.code(params(pluginA, redirect));
  const res2 = await exchangeCode(base, 'public', { client_id: pluginA.client_id }, { code: code2, redirectUri: redirect });
  assert.ok(res2.status === 400 || res2.status === 401, `no secret, no token: ${res2.status} ${res2.text}`);
  assert.ok(['invalid_grant', 'invalid_client'].includes(res2.json?.error), res2.text);
});

test('redirect_uri_differing_denied', async () => {
  const id = `plugin-${newState()}`;
  const redirect = `https://chat.openai.com/aip/${id}/oauth/callback`;
  const others = [
    `https://chatgpt.com/aip/${id}/oauth/callback`,        // the other host
    pluginCallback(),                                       // another plugin id
    `https://chat.openai.com/aip/${id}/oauth/callback/`,    // one more character
  ];
  for (const other of others) {
    const code = await alice.code(params(pluginA, redirect));
    const res = await exchangeCode(base, 'json', pluginA, { code, redirectUri: other });
    assert.doesNotThrow(() => assertOAuthError(res, 400, 'invalid_grant'), `${other}: ${res.status} ${res.text}`);
  }
});

test('redirect_uri_required_at_token_when_authorize_had_one', async () => {
  // RFC 6749 §4.1.3: "REQUIRED, if the redirect_uri parameter was included in the
  // authorization request"; the code is spent by the refused attempt.
  const redirect = pluginCallback();
  const code = await alice.code(params(pluginA, redirect));
  const res = await exchangeCode(base, 'json', pluginA, { code });
  assertOAuthError(res, 400, 'invalid_request');
  assert.match(res.json.error_description, /redirect_uri/);
  const again = await exchangeCode(base, 'json', pluginA, { code, redirectUri: redirect });
  assertOAuthError(again, 400, 'invalid_grant');
});

test('redirect_uri_optional_at_token_when_authorize_had_none', async () => {
  // A client with exactly one registered URI may leave it out of the authorization
  // request; then the token request may leave it out too, or name that same URI.
  const authz = () => alice.code([
    ['response_type', 'code'], ['client_id', exact.client_id], ['scope', ''], ['state', newState()],
  ]);
  assertTokenPair(await exchangeCode(base, 'form', exact, { code: await authz() }), { seen });
  assertTokenPair(await exchangeCode(base, 'form', exact,
    { code: await authz(), redirectUri: 'http://127.0.0.1:9/cb' }), { seen });
  const other = await exchangeCode(base, 'form', exact,
    { code: await authz(), redirectUri: 'http://127.0.0.1:9/other' });
  assertOAuthError(other, 400, 'invalid_grant');
});

test('pkce_wrong_verifier_denied', async () => {
  const { code } = await mcpCode();
  const wrong = fakeToken();
  remember(wrong);
  const res = await exchangeCode(base, 'public', mcp, { code, redirectUri: MCP_CALLBACK, verifier: wrong });
  assertOAuthError(res, 400, 'invalid_grant');
});

test('pkce_missing_verifier_denied', async () => {
  const { code } = await mcpCode();
  const res = await exchangeCode(base, 'public', mcp, { code, redirectUri: MCP_CALLBACK });
  assertOAuthError(res, 400, 'invalid_grant');

  // A confidential client that sent a challenge must send the verifier too.
  const p = pkce();
  remember(p.verifier);
  const redirect = pluginCallback();
  const code2 = await alice.code(params(pluginA, redirect, [
    ['code_challenge', p.challenge], ['code_challenge_method', 'S256'],
  ]));
  const res2 = await exchangeCode(base, 'form', pluginA, { code: code2, redirectUri: redirect });
  assertOAuthError(res2, 400, 'invalid_grant');
});

test('verifier_without_challenge_denied', async () => {
  const redirect = pluginCallback();
  const code = await alice.code(params(pluginA, redirect));
  const verifier = fakeToken();
  remember(verifier);
  const res = await exchangeCode(base, 'json', pluginA, { code, redirectUri: redirect, verifier });
  assertOAuthError(res, 400, 'invalid_grant');
});

test('confidential_client_with_pkce_exchange', async () => {
  // S256 is supported for every client, not only public ones.
  const p = pkce();
  remember(p.verifier);
  const redirect = actionCallback();
  const code = await alice.code(params(pluginA, redirect, [
    ['code_challenge', p.challenge], ['code_challenge_method', 'S256'],
  ]));
  assertTokenPair(await exchangeCode(base, 'basic+id', pluginA, { code, redirectUri: redirect, verifier: p.verifier }), { seen });
});

test('mcp_code_right_verifier_exchange', async () => {
  // The control for the PKCE failures above.
  const { code, verifier } = await mcpCode();
  assertTokenPair(await exchangeCode(base, 'public', mcp, { code, redirectUri: MCP_CALLBACK, verifier }), { seen });
});

test('unknown_code_denied', async () => {
  const redirect = pluginCallback();
  const code = `pa_ac_${fakeToken()}`;
  remember(code);
  assertOAuthError(await exchangeCode(base, 'json', pluginA, { code, redirectUri: redirect }), 400, 'invalid_grant');
});

test('expired_code_denied', async () => {
  const redirect = pluginCallback();
  const code = await alice.code(params(pluginA, redirect));
  await sleep((CODE_TTL + 1) * 1000);
  const res = await exchangeCode(base, 'json', pluginA, { code, redirectUri: redirect });
  assertOAuthError(res, 400, 'invalid_grant');
});

// --- last: nothing secret in the log -------------------------------------------------------

test('server_log_never_contains_secrets', async () => {
  const code = await pa.stop();
  assert.equal(code, 0, `SIGTERM should exit 0; log:\n${pa.log}`);
  assert.ok(seen.size > 10, `the test should have seen secrets (${seen.size})`);
  const leaked = [...seen].filter((s) => pa.log.includes(s));
  assert.deepEqual(leaked, [], 'the server log contains secrets');
});
