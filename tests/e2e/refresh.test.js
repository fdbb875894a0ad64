// POST /oauth/token, grant_type=refresh_token (RFC 6749 §6, RFC 9700 §4.14), with the
// client credentials where each dialect puts them, rotation and its grace window for
// ChatGPT's retries (default refresh_reuse_grace, 10 s), scope narrowing, and
// `plugauth token revoke`. Reuse after the grace window is in refresh_reuse.test.js.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { assertOAuthError } from './lib/http.js';
import {
  Browser, MCP_CALLBACK, PASSWORD, actionCallback, addChatgptClient, addMcpClient, addUser,
  assertTokenPair, exchangeCode, newState, pkce, pluginCallback, refresh,
} from './lib/flow.js';
import { createPlugauth } from './lib/server.js';

let pa;
let base;
let plugin;
let otherPlugin;
let mcp;
const browsers = new Map();   // user → signed-in browser
const seen = new Set();

function remember(...values) {
  for (const v of values) if (typeof v === 'string' && v.length > 0) seen.add(v);
}

function browserOf(user) {
  if (!browsers.has(user)) browsers.set(user, new Browser(base, seen));
  return browsers.get(user);
}

const pair = (res, scope = 'todo.read') => assertTokenPair(res, { scope, seen });

// The whole flow for `user` with `client`, exchanged with credentials at `placement`.
// Resolves with the token response body.
async function tokensFor(client, placement, { user = 'alice', scope = '' } = {}) {
  const b = browserOf(user);
  const extra = [];
  let verifier;
  let redirect;
  if (client.public) {
    const p = pkce();
    remember(p.verifier);
    verifier = p.verifier;
    extra.push(['code_challenge', p.challenge], ['code_challenge_method', 'S256']);
    redirect = MCP_CALLBACK;
  } else {
    redirect = placement.startsWith('basic') ? actionCallback() : pluginCallback();
  }
  const code = await b.code([
    ['response_type', 'code'], ['client_id', client.client_id], ['redirect_uri', redirect],
    ['scope', scope], ['state', newState()], ...extra,
  ], { user, password: PASSWORD });
  const res = await exchangeCode(base, placement, client, { code, redirectUri: redirect, verifier });
  return pair(res, scope === '' ? 'todo.read' : scope);
}

function assertRotated(next, prev) {
  assert.notEqual(next.refresh_token, prev.refresh_token, 'the refresh token rotates');
  assert.notEqual(next.access_token, prev.access_token, 'a new access token');
}

before(async () => {
  pa = createPlugauth();
  addUser(pa, 'alice');
  addUser(pa, 'carol');
  plugin = addChatgptClient(pa, 'ChatGPT plugin');
  otherPlugin = addChatgptClient(pa, 'Other plugin');
  mcp = addMcpClient(pa);
  remember(PASSWORD, plugin.client_secret, otherPlugin.client_secret);
  base = await pa.start();
});

after(async () => {
  await pa?.cleanup();
});

// --- credential placement, per dialect ------------------------------------------------------

test('plugin_json_refresh_rotates', async () => {
  const t0 = await tokensFor(plugin, 'json');
  const t1 = pair(await refresh(base, 'json', plugin, t0.refresh_token));
  assertRotated(t1, t0);
  const t2 = pair(await refresh(base, 'json', plugin, t1.refresh_token));
  assertRotated(t2, t1);
});

test('plugin_form_refresh_rotates', async () => {
  const t0 = await tokensFor(plugin, 'form');
  const t1 = pair(await refresh(base, 'form', plugin, t0.refresh_token));
  assertRotated(t1, t0);
});

test('gpt_action_refresh_basic_auth', async () => {
  const t0 = await tokensFor(plugin, 'basic+id');
  const t1 = pair(await refresh(base, 'basic+id', plugin, t0.refresh_token));
  assertRotated(t1, t0);
  const t2 = pair(await refresh(base, 'basic', plugin, t1.refresh_token));
  assertRotated(t2, t1);
});

test('gpt_action_refresh_post_auth', async () => {
  const t0 = await tokensFor(plugin, 'form');
  const t1 = pair(await refresh(base, 'form', plugin, t0.refresh_token));
  assertRotated(t1, t0);
});

test('refresh_with_other_credential_placement_than_exchange', async () => {
  // The GPT editor's auth setting may change between the exchange and a refresh days later.
  const t0 = await tokensFor(plugin, 'basic');
  const t1 = pair(await refresh(base, 'form', plugin, t0.refresh_token));
  const t2 = pair(await refresh(base, 'json', plugin, t1.refresh_token));
  pair(await refresh(base, 'basic+id', plugin, t2.refresh_token));
});

test('refresh_with_scope_and_redirect_uri_accepted', async () => {
  const t0 = await tokensFor(plugin, 'json');
  const t1 = pair(await refresh(base, 'json', plugin, t0.refresh_token, {
    scope: 'todo.read', redirect_uri: pluginCallback(),
  }));
  const t2 = pair(await refresh(base, 'form', plugin, t1.refresh_token, { scope: 'todo.read' }));
  pair(await refresh(base, 'basic+id', plugin, t2.refresh_token, { redirect_uri: actionCallback() }));
});

test('mcp_public_refresh_client_id_only', async () => {
  const t0 = await tokensFor(mcp, 'public');
  const t1 = pair(await refresh(base, 'public', mcp, t0.refresh_token));
  assertRotated(t1, t0);
  const t2 = pair(await refresh(base, 'public', mcp, t1.refresh_token, { scope: 'todo.read' }));
  assertRotated(t2, t1);
});

// --- rotation and its grace window ----------------------------------------------------------

test('rotated_refresh_retry_within_grace_succeeds', async () => {
  const t0 = await tokensFor(plugin, 'json');
  const t1 = pair(await refresh(base, 'json', plugin, t0.refresh_token));
  // ChatGPT did not get t1 (timeout) and retries with the old token at once.
  const retry = pair(await refresh(base, 'json', plugin, t0.refresh_token));
  assert.notEqual(retry.refresh_token, t0.refresh_token);
  assert.notEqual(retry.access_token, t1.access_token);
  // The retry's pair is a working one: its refresh token refreshes.
  pair(await refresh(base, 'json', plugin, retry.refresh_token));
});

// --- scope --------------------------------------------------------------------------------

test('narrower_scope_on_refresh_allowed', async () => {
  const t0 = await tokensFor(plugin, 'form', { scope: 'todo.read todo.write' });
  const t1 = pair(await refresh(base, 'form', plugin, t0.refresh_token, { scope: 'todo.read' }), 'todo.read');
  assertRotated(t1, t0);
});

test('wider_scope_on_refresh_refused', async () => {
  const t0 = await tokensFor(plugin, 'form');
  const res = await refresh(base, 'form', plugin, t0.refresh_token, { scope: 'todo.read todo.write' });
  assertOAuthError(res, 400, 'invalid_scope');
  const res2 = await refresh(base, 'json', plugin, t0.refresh_token, { scope: 'todo.write' });
  assertOAuthError(res2, 400, 'invalid_scope');
});

// --- whose token ----------------------------------------------------------------------------

test('refresh_token_of_another_client_denied', async () => {
  const t0 = await tokensFor(plugin, 'json');
  assertOAuthError(await refresh(base, 'json', otherPlugin, t0.refresh_token), 400, 'invalid_grant');
  assertOAuthError(await refresh(base, 'public', mcp, t0.refresh_token), 400, 'invalid_grant');
  const m0 = await tokensFor(mcp, 'public');
  assertOAuthError(await refresh(base, 'basic+id', plugin, m0.refresh_token), 400, 'invalid_grant');
});

test('access_token_is_not_a_refresh_token', async () => {
  const t0 = await tokensFor(plugin, 'json');
  assertOAuthError(await refresh(base, 'json', plugin, t0.access_token), 400, 'invalid_grant');
});

// --- plugauth token revoke ------------------------------------------------------------------

test('token_revoke_user_revokes_refresh_tokens', async () => {
  const c1 = await tokensFor(plugin, 'json', { user: 'carol' });
  const c2 = await tokensFor(mcp, 'public', { user: 'carol' });
  const a1 = await tokensFor(plugin, 'json', { user: 'alice' });

  const r = pa.cli(['token', 'revoke', '--user', 'carol']);
  assert.equal(r.status, 0, `plugauth token revoke --user carol: exit ${r.status}, stderr: ${r.stderr.trim()}`);

  assertOAuthError(await refresh(base, 'json', plugin, c1.refresh_token), 400, 'invalid_grant');
  assertOAuthError(await refresh(base, 'public', mcp, c2.refresh_token), 400, 'invalid_grant');
  // Only carol's.
  pair(await refresh(base, 'json', plugin, a1.refresh_token));
});

test('token_revoke_client_revokes_refresh_tokens', async () => {
  const doomed = addChatgptClient(pa, 'Doomed plugin');
  remember(doomed.client_secret);
  const d = await tokensFor(doomed, 'form');
  const keep = await tokensFor(otherPlugin, 'form');

  const r = pa.cli(['token', 'revoke', '--client', doomed.client_id]);
  assert.equal(r.status, 0, `plugauth token revoke --client: exit ${r.status}, stderr: ${r.stderr.trim()}`);

  assertOAuthError(await refresh(base, 'form', doomed, d.refresh_token), 400, 'invalid_grant');
  // Only that client's.
  pair(await refresh(base, 'form', otherPlugin, keep.refresh_token));
});

// --- last: nothing secret in the log -------------------------------------------------------

test('server_log_never_contains_secrets', async () => {
  const code = await pa.stop();
  assert.equal(code, 0, `SIGTERM should exit 0; log:\n${pa.log}`);
  assert.ok(seen.size > 10, `the test should have seen secrets (${seen.size})`);
  const leaked = [...seen].filter((s) => pa.log.includes(s));
  assert.deepEqual(leaked, [], 'the server log contains secrets');
});
