// A rotated refresh token presented again after refresh_reuse_grace (RFC 9700 §4.14.2):
// the token is refused and its whole family revoked, the newest refresh token included.
// The server runs with PLUGAUTH_OAUTH_REFRESH_REUSE_GRACE=1 so the test waits only 2 s.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { assertOAuthError } from './lib/http.js';
import {
  Browser, MCP_CALLBACK, actionCallback, addChatgptClient, addMcpClient, addUser,
  assertTokenPair, exchangeCode, newState, pkce, pluginCallback, refresh, sleep,
} from './lib/flow.js';
import { createPlugauth } from './lib/server.js';

let pa;
let base;
let plugin;
let mcp;
let alice;
const seen = new Set();

before(async () => {
  pa = createPlugauth();
  addUser(pa, 'alice');
  plugin = addChatgptClient(pa);
  mcp = addMcpClient(pa);
  seen.add(plugin.client_secret);
  base = await pa.start({ env: { PLUGAUTH_OAUTH_REFRESH_REUSE_GRACE: '1' } });
  alice = new Browser(base, seen);
});

after(async () => {
  await pa?.cleanup();
});

const pair = (res) => assertTokenPair(res, { scope: 'todo.read', seen });

function params(client, redirect, extra = []) {
  return [
    ['response_type', 'code'], ['client_id', client.client_id], ['redirect_uri', redirect],
    ['scope', ''], ['state', newState()], ...extra,
  ];
}

test('refresh_reuse_after_grace_revokes_family', async () => {
  // Three families at once, so the one 2-second wait covers every dialect; a fourth
  // family is never reused and survives.
  const pluginRedirect = pluginCallback();
  const actionRedirect = actionCallback();
  const p = pkce();
  seen.add(p.verifier);
  const families = [
    {
      placement: 'json', client: plugin,
      t0: pair(await exchangeCode(base, 'json', plugin, {
        code: await alice.code(params(plugin, pluginRedirect)), redirectUri: pluginRedirect,
      })),
    },
    {
      placement: 'basic+id', client: plugin,
      t0: pair(await exchangeCode(base, 'basic+id', plugin, {
        code: await alice.code(params(plugin, actionRedirect)), redirectUri: actionRedirect,
      })),
    },
    {
      placement: 'public', client: mcp,
      t0: pair(await exchangeCode(base, 'public', mcp, {
        code: await alice.code(params(mcp, MCP_CALLBACK, [
          ['code_challenge', p.challenge], ['code_challenge_method', 'S256'],
        ])),
        redirectUri: MCP_CALLBACK, verifier: p.verifier,
      })),
    },
  ];
  // Another grant of alice's, same client, never reused: it must survive.
  const other = pair(await exchangeCode(base, 'form', plugin, {
    code: await alice.code(params(plugin, pluginRedirect)), redirectUri: pluginRedirect,
  }));
  for (const f of families) {
    f.t1 = pair(await refresh(base, f.placement, f.client, f.t0.refresh_token));
    assert.notEqual(f.t1.refresh_token, f.t0.refresh_token);
  }

  await sleep(2000);

  for (const f of families) {
    const reuse = await refresh(base, f.placement, f.client, f.t0.refresh_token);
    assert.doesNotThrow(() => assertOAuthError(reuse, 400, 'invalid_grant'),
      `${f.placement}: reuse after the grace: ${reuse.status} ${reuse.text}`);
    // The whole family goes: the newest refresh token, never used, fails too.
    const newest = await refresh(base, f.placement, f.client, f.t1.refresh_token);
    assert.doesNotThrow(() => assertOAuthError(newest, 400, 'invalid_grant'),
      `${f.placement}: newest token after family revocation: ${newest.status} ${newest.text}`);
  }
  pair(await refresh(base, 'form', plugin, other.refresh_token));
});

test('server_log_never_contains_secrets', async () => {
  const code = await pa.stop();
  assert.equal(code, 0, `SIGTERM should exit 0; log:\n${pa.log}`);
  const leaked = [...seen].filter((s) => pa.log.includes(s));
  assert.deepEqual(leaked, [], 'the server log contains secrets');
});
