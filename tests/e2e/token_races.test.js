// Races at the token endpoint (RFC 9700 §4.14.2, RFC 6749 §4.1.2, §10.5) and what a
// password change ends:
//   - one refresh token presented by many requests at once, with no grace window
//     (PLUGAUTH_OAUTH_REFRESH_REUSE_GRACE=0): afterwards either the family is revoked
//     and no token of any answer works, or exactly one chain survives; never a live
//     token in a revoked family;
//   - retries within the grace window racing an RFC 7009 revocation of the family
//     (a second server, default grace): afterwards nothing of the family works;
//   - one code redeemed by many requests at once: one wins, the others are replays,
//     and a replay revokes what the code gave, so every token any of them got is
//     dead afterwards;
//   - `plugauth user passwd` ends the user's sign-in sessions: the old session cookie
//     no longer skips the login page; the tokens stay valid.
// The server runs with 8 threads so that requests really overlap.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { assertOAuthError, basic, form } from './lib/http.js';
import {
  Browser, PASSWORD, SESSION_COOKIE, addChatgptClient, addUser, assertTokenPair, authorizePath,
  exchangeCode, isLoginForm, newState, parseForms, pluginCallback, refresh,
} from './lib/flow.js';
import { createPlugauth } from './lib/server.js';

const ROUNDS = 4;
const HAMMER = 20;        // concurrent refreshes of one token
const REPLAYS = 12;       // concurrent redemptions of one code
const THREADS = '8';
const NEW_PASSWORD = 'a new password, longer';

let pa;           // grace 0
let base;
let pb;           // default grace (10 s)
let baseB;
let plugin;
let pluginB;
let rs;           // a confidential client that introspects
let rsB;
let alice;
let aliceB;
const seen = new Set();

function remember(...values) {
  for (const v of values) if (typeof v === 'string' && v.length > 0) seen.add(v);
}

before(async () => {
  pa = createPlugauth();
  addUser(pa, 'alice');
  addUser(pa, 'dora');
  plugin = addChatgptClient(pa, 'Racing plugin');
  rs = addChatgptClient(pa, 'Resource server');
  pb = createPlugauth();
  addUser(pb, 'alice');
  pluginB = addChatgptClient(pb, 'Racing plugin');
  rsB = addChatgptClient(pb, 'Resource server');
  remember(PASSWORD, NEW_PASSWORD, plugin.client_secret, rs.client_secret,
    pluginB.client_secret, rsB.client_secret);
  [base, baseB] = await Promise.all([
    pa.start({ env: { PLUGAUTH_OAUTH_REFRESH_REUSE_GRACE: '0', PLUGAUTH_SERVER_THREADS: THREADS } }),
    pb.start({ env: { PLUGAUTH_SERVER_THREADS: THREADS } }),
  ]);
  alice = new Browser(base, seen);
  aliceB = new Browser(baseB, seen);
});

after(async () => {
  await pa?.cleanup();
  await pb?.cleanup();
});

function params(client, redirect) {
  return [
    ['response_type', 'code'], ['client_id', client.client_id], ['redirect_uri', redirect],
    ['scope', ''], ['state', newState()],
  ];
}

// A fresh family: the whole flow, then the code exchange.
async function family(b, at, client) {
  const redirect = pluginCallback();
  const code = await b.code(params(client, redirect));
  return assertTokenPair(await exchangeCode(at, 'json', client, { code, redirectUri: redirect }), { seen });
}

// RFC 7662: whether the server holds the token live.
async function active(at, by, token) {
  const res = await fetch(`${at}/oauth/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(by.client_id, by.client_secret) },
    body: form({ token }),
  });
  assert.equal(res.status, 200, `introspect: ${res.status}`);
  const body = await res.json();
  return body.active === true;
}

// Every answer is a token pair or invalid_grant: never a 5xx, never anything else.
function sortAnswers(answers) {
  const ok = [];
  for (const res of answers) {
    if (res.status === 200) {
      ok.push(assertTokenPair(res, { seen }));
    } else {
      assert.doesNotThrow(() => assertOAuthError(res, 400, 'invalid_grant'), `${res.status} ${res.text}`);
    }
  }
  return ok;
}

test('concurrent_refresh_without_grace_leaves_one_chain_or_a_revoked_family', async () => {
  let revokedRounds = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const t0 = await family(alice, base, plugin);
    const answers = await Promise.all(Array.from({ length: HAMMER },
      () => refresh(base, 'json', plugin, t0.refresh_token)));
    const ok = sortAnswers(answers);
    assert.ok(ok.length >= 1, `round ${round}: one request must win the rotation`);

    // The tokens of every answer, and the first access token (its refresh token was
    // spent: with no grace it is dead either way).
    const tokens = [t0.access_token, ...ok.flatMap((t) => [t.access_token, t.refresh_token])];
    const live = [];
    for (const tok of tokens) if (await active(base, rs, tok)) live.push(tok);
    if (live.length === 0) {
      // The family is revoked: nothing of it works, at the token endpoint either.
      revokedRounds++;
      for (const t of ok) {
        assertOAuthError(await refresh(base, 'json', plugin, t.refresh_token), 400, 'invalid_grant');
      }
    } else {
      // Exactly one chain survives: the winner's pair (and the first access token).
      assert.equal(ok.length, 1, `round ${round}: ${ok.length} answers got a pair, ${live.length} tokens live:`
        + ' more than one chain survived, or a live token in a revoked family');
      assert.deepEqual(live.sort(), tokens.slice().sort(), `round ${round}: a chain is wholly live or wholly dead`);
      assertTokenPair(await refresh(base, 'json', plugin, ok[0].refresh_token), { seen });
    }
    assertOAuthError(await refresh(base, 'json', plugin, t0.refresh_token), 400, 'invalid_grant');
  }
  // With no grace, each loser is a reuse: the family should be revoked every time.
  assert.equal(revokedRounds, ROUNDS, 'every round should have revoked its family');
});

test('grace_retries_racing_a_revocation_leave_nothing_live', async () => {
  for (let round = 0; round < ROUNDS; round++) {
    const t0 = await family(aliceB, baseB, pluginB);
    // Within the grace window every retry of t0 gets a pair; meanwhile the client
    // revokes the family (RFC 7009, by its refresh token).
    const revoke = fetch(`${baseB}/oauth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded',
        authorization: basic(pluginB.client_id, pluginB.client_secret) },
      body: form({ token: t0.refresh_token }),
    });
    const answers = await Promise.all(Array.from({ length: HAMMER },
      () => refresh(baseB, 'json', pluginB, t0.refresh_token)));
    assert.equal((await revoke).status, 200);
    const ok = sortAnswers(answers);
    for (const t of [t0, ...ok]) {
      for (const tok of [t.access_token, t.refresh_token]) {
        assert.equal(await active(baseB, rsB, tok), false,
          `round ${round}: a token of a revoked family is live (${ok.length} pairs issued)`);
      }
    }
    for (const t of ok) {
      assertOAuthError(await refresh(baseB, 'json', pluginB, t.refresh_token), 400, 'invalid_grant');
    }
  }
});

test('concurrent_code_redemption_one_wins_and_the_replays_revoke_it', async () => {
  for (let round = 0; round < ROUNDS; round++) {
    const redirect = pluginCallback();
    const code = await alice.code(params(plugin, redirect));
    const answers = await Promise.all(Array.from({ length: REPLAYS },
      () => exchangeCode(base, 'json', plugin, { code, redirectUri: redirect })));
    const ok = sortAnswers(answers);
    assert.equal(ok.length, 1, `round ${round}: exactly one redemption gets tokens, got ${ok.length}`);
    for (const t of ok) {
      for (const tok of [t.access_token, t.refresh_token]) {
        assert.equal(await active(base, rs, tok), false,
          `round ${round}: a replay must revoke what the code gave`);
      }
      assertOAuthError(await refresh(base, 'json', plugin, t.refresh_token), 400, 'invalid_grant');
    }
  }
});

test('user_passwd_ends_sign_in_sessions_tokens_stay_valid', async () => {
  const dora = new Browser(base, seen);
  const redirect = pluginCallback();
  const first = await dora.authorize(params(plugin, redirect), { user: 'dora' });
  assert.deepEqual(first.steps, ['login', 'consent', 'redirect']);
  const tokens = assertTokenPair(await exchangeCode(base, 'form', plugin, { code: first.code, redirectUri: redirect }), { seen });
  // Signed in: the session cookie skips the login page.
  const again = await dora.authorize(params(plugin, redirect), { user: 'dora' });
  assert.deepEqual(again.steps, ['redirect']);
  const cookie = dora.jar.get(SESSION_COOKIE);
  assert.ok(cookie);

  const r = pa.cli(['user', 'passwd', 'dora', '--password-stdin'], { input: `${NEW_PASSWORD}\n` });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /ended [1-9][0-9]* sign-in sessions?\b/);
  assert.match(r.stdout, /plugauth token revoke --user dora/);
  const help = pa.cli(['user', '--help']);
  assert.match(help.stdout, /passwd .*sign-in sessions/s);

  // The old cookie (as a thief would hold it) no longer signs anyone in.
  const thief = new Browser(base, seen);
  thief.jar.set(SESSION_COOKIE, cookie);
  const res = await thief.get(authorizePath(params(plugin, redirect)));
  assert.equal(res.status, 200, res.text);
  const forms = parseForms(res.text);
  assert.ok(forms.length === 1 && isLoginForm(forms[0]), `the old session must be gone: ${res.text.slice(0, 200)}`);
  // Nor does dora's own browser skip the login; the new password signs her in.
  const back = await dora.authorize(params(plugin, redirect), { user: 'dora', password: NEW_PASSWORD });
  assert.equal(back.steps[0], 'login');
  assert.equal(back.steps.at(-1), 'redirect');

  // Tokens stay valid until `token revoke --user`.
  assert.equal(await active(base, rs, tokens.access_token), true);
  assertTokenPair(await refresh(base, 'form', plugin, tokens.refresh_token), { seen });
});

// --- last: nothing secret in the log -------------------------------------------------------

test('server_log_never_contains_secrets', async () => {
  for (const p of [pa, pb]) {
    const code = await p.stop();
    assert.equal(code, 0, `SIGTERM should exit 0; log:\n${p.log}`);
    const leaked = [...seen].filter((s) => p.log.includes(s));
    assert.deepEqual(leaked, [], 'the server log contains secrets');
  }
});
