// `plugauth events` explains the failures a plugin author meets in the field (issue 12,
// item 1): a failed client authentication at the token, introspection and revocation
// endpoints is an event naming the client_id presented and the method tried; the
// authorization request's state follows the code to the token exchange; authorize errors
// carry a reason code and the offending value (detail); the text output quotes values.
//
// The server writes events from a background thread and commits each within about
// OAUTH_EVENTS_FLUSH_MS (200 ms) of the request (src/oauth/events.c); `plugauth events` is
// another process, so each check polls it with a deadline. The failures here are far
// fewer than the per-address events budget (120 a minute).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { basic, describeResponse, fakeSecret, form, postToken, readResponse } from './lib/http.js';
import {
  Browser, MCP_CALLBACK, addChatgptClient, addExactClient, addMcpClient, addUser,
  assertErrorPage, assertRedirectError, authorizePath, exchangeCode, hex, newState,
  pluginCallback, sleep,
} from './lib/flow.js';
import { createPlugauth } from './lib/server.js';

const DEADLINE_MS = 3000; // far above the writer's bound, for a loaded machine

let pa;
let base;
let exact;   // confidential, exact http://127.0.0.1:9/cb
let plugin;  // --chatgpt
let mcp;     // --public

before(async () => {
  pa = createPlugauth();
  exact = addExactClient(pa);
  plugin = addChatgptClient(pa);
  mcp = addMcpClient(pa);
  addUser(pa, 'alice');
  base = await pa.start();
});

after(async () => {
  await pa?.cleanup();
});

function eventsJson(args = []) {
  const r = pa.cli(['events', '-n', '10000', '--json', ...args]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim() === '' ? [] : r.stdout.trim().split('\n').map((l) => JSON.parse(l));
}

// Polls `events --json args` until one event satisfies pred; returns it, and how long it
// took to show.
async function waitEvent(pred, args = [], what = 'event') {
  const t0 = Date.now();
  let seen = [];
  for (;;) {
    seen = eventsJson(args);
    const e = seen.find(pred);
    if (e) return { e, ms: Date.now() - t0 };
    if (Date.now() - t0 > DEADLINE_MS) {
      assert.fail(`${what} not in plugauth events within ${DEADLINE_MS} ms:\n` +
        seen.map((x) => JSON.stringify(x)).join('\n'));
    }
    await sleep(50);
  }
}

async function post(path, { body = {}, authorization } = {}) {
  const h = { 'content-type': 'application/x-www-form-urlencoded' };
  if (authorization) h.authorization = authorization;
  return readResponse(await fetch(`${base}${path}`, { method: 'POST', headers: h, body: form(body) }));
}

// --- client authentication failures ----------------------------------------------------------

test('failed_client_auth_events_name_client_id_and_method', async () => {
  const ghost = `ghost-${hex(6)}`;
  const grant = { grant_type: 'authorization_code', code: 'x', redirect_uri: 'http://127.0.0.1:9/cb' };
  const cases = [
    {
      what: 'wrong secret in the body',
      send: () => postToken(base, { body: { ...grant, client_id: exact.client_id, client_secret: fakeSecret() } }),
      status: 401, client: exact.client_id, method: 'post', reason: 'secret_wrong', kind: 'token',
    },
    {
      what: 'unknown client_id in Basic',
      send: () => postToken(base, { body: grant, authorization: basic(ghost, fakeSecret()) }),
      status: 401, client: ghost, method: 'basic', reason: 'client_unknown', kind: 'token',
    },
    {
      what: 'credentials in both header and body',
      send: () => postToken(base, {
        body: { ...grant, client_secret: exact.client_secret },
        authorization: basic(exact.client_id, exact.client_secret),
      }),
      status: 400, client: exact.client_id, method: 'both', reason: 'credentials_twice', kind: 'token',
    },
    {
      what: 'no credentials at all',
      send: () => postToken(base, { body: grant }),
      status: 401, client: undefined, method: 'none', reason: 'credentials_missing', kind: 'token',
    },
    {
      what: 'introspection with a wrong Basic secret',
      send: () => post('/oauth/introspect', { body: { token: 'x' }, authorization: basic(exact.client_id, fakeSecret()) }),
      status: 401, client: exact.client_id, method: 'basic', reason: 'secret_wrong', kind: 'introspect',
    },
    {
      what: 'revocation by an unknown client in the body',
      send: () => post('/oauth/revoke', { body: { token: 'x', client_id: `${ghost}-r`, client_secret: 'nope' } }),
      status: 401, client: `${ghost}-r`, method: 'post', reason: 'client_unknown', kind: 'revoke',
    },
  ];
  for (const c of cases) {
    const res = await c.send();
    assert.equal(res.status, c.status, `${c.what}: ${describeResponse(res)}`);
    const { e, ms } = await waitEvent(
      (x) => x.kind === c.kind && x.reason === c.reason && x.method === c.method &&
        (x.client_id ?? undefined) === c.client,
      [], c.what);
    assert.notEqual(e.outcome, 'ok', c.what);
    assert.ok(e.description, `${c.what}: the sentence is kept as description`);
    assert.equal(e.peer, '127.0.0.1', c.what);
    assert.ok(ms < DEADLINE_MS, `${c.what}: shown after ${ms} ms`);
  }
  // The log line names the client_id presented, not "client=-".
  assert.match(pa.log, new RegExp(`event=token_refused client=${ghost} `));
  assert.match(pa.log, new RegExp(`event=revoke_refused client=${ghost}-r `));
  // Never the secret: a secret sent as the client_id is not kept either.
  const leaked = fakeSecret();
  const res = await postToken(base, { body: { ...grant, client_id: leaked, client_secret: 'x' } });
  assert.equal(res.status, 401, describeResponse(res));
  await waitEvent((x) => x.kind === 'token' && x.reason === 'client_unknown' && x.method === 'post' &&
    x.client_id !== ghost, [], 'a secret sent as client_id');
  const all = pa.cli(['events', '-n', '10000']).stdout + JSON.stringify(eventsJson());
  assert.ok(!all.includes(exact.client_secret), 'events hold a client secret');
  assert.ok(!all.includes(leaked), 'events hold a secret sent as client_id');
  assert.ok(!pa.log.includes(leaked), 'the log holds a secret sent as client_id');
});

// --- state across the flow ------------------------------------------------------------------------

test('state_spans_authorize_and_token_exchange', async () => {
  const state = newState();
  const redirectUri = pluginCallback();
  const code = await new Browser(base).code([
    ['response_type', 'code'], ['client_id', plugin.client_id], ['redirect_uri', redirectUri],
    ['scope', ''], ['state', state],
  ]);
  const res = await exchangeCode(base, 'form', plugin, { code, redirectUri });
  assert.equal(res.status, 200, describeResponse(res));
  const { e } = await waitEvent((x) => x.kind === 'token', ['--state', state], 'the token event of the exchange');
  assert.equal(e.outcome, 'ok');
  assert.equal(e.reason, 'code_redeemed');
  assert.equal(e.user, 'alice');
  assert.equal(e.client_id, plugin.client_id);
  const kinds = eventsJson(['--state', state]).map((x) => x.kind);
  for (const k of ['authorize', 'login', 'consent', 'code', 'token']) {
    assert.ok(kinds.includes(k), `--state ${state} lacks ${k}: ${kinds.join(' ')}`);
  }
  // A replay of that code is in the same flow.
  const again = await exchangeCode(base, 'form', plugin, { code, redirectUri });
  assert.equal(again.status, 400, describeResponse(again));
  await waitEvent((x) => x.kind === 'token' && x.reason === 'code_replayed', ['--state', state], 'the replay');
  const text = pa.cli(['events', '--state', state]);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`token\\s+ok\\s+code_redeemed client="${plugin.client_id}" user="alice" state="${state}"`));
});

// --- authorize errors: reason codes and detail --------------------------------------------------

test('authorize_errors_carry_reason_and_detail', async () => {
  const b = new Browser(base);
  // An unregistered redirect_uri (with a space in it): error page, detail = the URI sent.
  const badUri = 'http://127.0.0.1:9/other cb';
  const s1 = newState();
  assertErrorPage(await b.get(authorizePath([
    ['response_type', 'code'], ['client_id', exact.client_id], ['redirect_uri', badUri], ['state', s1],
  ])));
  const { e: e1 } = await waitEvent((x) => x.kind === 'authorize', ['--state', s1], 'redirect_uri_unregistered');
  assert.equal(e1.outcome, 'invalid_request');
  assert.equal(e1.reason, 'redirect_uri_unregistered');
  assert.equal(e1.detail, badUri);
  assert.equal(e1.description, 'The redirect_uri is not registered for this app.');
  assert.equal(e1.client_id, exact.client_id);
  // The text form quotes values instead of printing '?' for spaces.
  const t1 = pa.cli(['events', '--state', s1]);
  assert.equal(t1.status, 0, t1.stderr);
  assert.match(t1.stdout, /authorize\s+invalid_request\s+redirect_uri_unregistered /);
  assert.ok(t1.stdout.includes(`detail="${badUri}"`), t1.stdout);
  assert.ok(!t1.stdout.includes('The?redirect'), t1.stdout);

  // An unknown client_id: detail and client_id are the id sent.
  const ghost = `ghost-${hex(6)}`;
  const s2 = newState();
  assertErrorPage(await b.get(authorizePath([
    ['response_type', 'code'], ['client_id', ghost], ['redirect_uri', pluginCallback()], ['state', s2],
  ])));
  const { e: e2 } = await waitEvent((x) => x.kind === 'authorize', ['--state', s2], 'client_unknown');
  assert.equal(e2.reason, 'client_unknown');
  assert.equal(e2.detail, ghost);
  assert.equal(e2.client_id, ghost);

  // An unknown scope: redirected back with invalid_scope; detail = the scope.
  const s3 = newState();
  const r3 = await b.get(authorizePath([
    ['response_type', 'code'], ['client_id', exact.client_id], ['redirect_uri', 'http://127.0.0.1:9/cb'],
    ['scope', 'todo.read nope.scope'], ['state', s3],
  ]));
  assertRedirectError(r3, 'http://127.0.0.1:9/cb', 'invalid_scope', s3);
  const { e: e3 } = await waitEvent((x) => x.kind === 'authorize', ['--state', s3], 'scope_unknown');
  assert.equal(e3.reason, 'scope_unknown');
  assert.equal(e3.detail, 'nope.scope');

  // Unsupported response_type, PKCE required, PKCE method.
  const more = [
    [exact, 'http://127.0.0.1:9/cb', [['response_type', 'token']], 'response_type_unsupported', 'token'],
    [mcp, MCP_CALLBACK, [['response_type', 'code']], 'pkce_required', undefined],
    [mcp, MCP_CALLBACK, [['response_type', 'code'], ['code_challenge', 'x'.repeat(43)],
      ['code_challenge_method', 'plain']], 'pkce_method_unsupported', 'plain'],
  ];
  for (const [client, uri, extra, reason, detail] of more) {
    const s = newState();
    const r = await b.get(authorizePath([
      ...extra, ['client_id', client.client_id], ['redirect_uri', uri], ['state', s],
    ]));
    assert.ok(r.status === 302, `${reason}: ${describeResponse(r)}`);
    const { e } = await waitEvent((x) => x.kind === 'authorize', ['--state', s], reason);
    assert.equal(e.reason, reason);
    assert.equal(e.detail ?? undefined, detail, reason);
    assert.ok(e.description, `${reason}: description`);
  }
});

// --- events --user ------------------------------------------------------------------------------------

test('events_user_nobody_says_no_such_user', async () => {
  const r = pa.cli(['events', '--user', 'nobody']);
  assert.equal(r.status, 1, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.match(r.stderr, /no such user 'nobody'/);
  assert.doesNotMatch(r.stdout, /no events yet/);
  // A user who exists and has no event yet is not an error.
  addUser(pa, 'quiet');
  const q = pa.cli(['events', '--user', 'quiet']);
  assert.equal(q.status, 0, q.stderr);
  assert.match(q.stdout, /no events yet/);
});
