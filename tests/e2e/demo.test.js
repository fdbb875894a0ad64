// `plugauth demo`: what it prints (the playground URL first, then a curl command that
// really gets a token), the playground page's headers, and the demo TODO API as the
// built-in OpenAPI document describes it: per-user lists behind bearer tokens, scopes
// todo.read / todo.write, bounded input, revocation taking effect within the gateway's
// cache time.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';

import { Browser, PLACEMENTS, assertTokenPair, exchangeCode, newState, pkce, sleep } from './lib/flow.js';
import { FORM, describeResponse, form, get } from './lib/http.js';
import {
  DEMO_CLIENT_ID, DEMO_PASSWORD, DEMO_USER, PLAYGROUND_CLIENT_ID, startDemo,
} from './lib/demo.js';
import { run } from './lib/server.js';

const ACCESS_RE = /^pa_at_[A-Za-z0-9_-]{43}$/;
const BOB = 'bob';
const BOB_PASSWORD = 'bob password 42';

let demo;
let base;
let demoDir;
const seen = new Set([BOB_PASSWORD]);

before(async () => {
  assert.ok(PLACEMENTS.includes('public'));
  demo = await startDemo();
  base = demo.base;
  demoDir = demo.dir();
  seen.add(demo.clientSecret);
});

after(async () => {
  await demo?.stop();
});

// --- helpers --------------------------------------------------------------------------

// One API call: method, path, bearer token (or a full Authorization value), JSON body.
function api(method, path, token, body) {
  const headers = {};
  if (token !== undefined) headers.authorization = token.includes(' ') ? token : `Bearer ${token}`;
  const init = { method, headers };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  return get(base, path, init);
}

// A user token through the real authorization-code flow (login and consent forms), as
// the playground's public client with PKCE, or as the confidential demo client.
async function userToken({ scope = 'todo.read todo.write', user = DEMO_USER, password = DEMO_PASSWORD,
  client = 'playground' } = {}) {
  const b = new Browser(base, seen);
  const { verifier, challenge } = pkce();
  const state = newState();
  const confidential = client === 'confidential';
  const redirectUri = `${base}/demo/callback`;
  const r = await b.authorize({
    response_type: 'code',
    client_id: confidential ? DEMO_CLIENT_ID : PLAYGROUND_CLIENT_ID,
    redirect_uri: redirectUri,
    scope,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }, { user, password });
  assert.ok(r.location.startsWith(`${redirectUri}?`), `redirect to ${r.location}`);
  assert.equal(r.params.get('state'), state);
  assert.equal(r.params.get('iss'), base, 'iss is the demo issuer (RFC 9207)');
  assert.ok(r.code, `a code in ${r.location}`);
  const res = confidential
    ? await exchangeCode(base, 'basic', { client_id: DEMO_CLIENT_ID, client_secret: demo.clientSecret },
      { code: r.code, redirectUri, verifier })
    : await exchangeCode(base, 'public', { client_id: PLAYGROUND_CLIENT_ID },
      { code: r.code, redirectUri, verifier });
  return assertTokenPair(res, { scope, seen });
}

function assertJsonError(res, status, error) {
  assert.equal(res.status, status, describeResponse(res));
  assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/i, describeResponse(res));
  assert.equal(res.json?.error, error, describeResponse(res));
  assert.equal(typeof res.json.error, 'string');
  return res.json;
}

// The 403 a token without the needed scope gets (RFC 6750 §3.1).
function assertInsufficientScope(res, scope) {
  assertJsonError(res, 403, 'insufficient_scope');
  const h = res.headers.get('www-authenticate') ?? '';
  assert.ok(h.startsWith(`Bearer error="insufficient_scope", scope="${scope}"`),
    `WWW-Authenticate: ${describeResponse(res)}`);
}

function assert401(res, { invalidToken }) {
  assert.equal(res.status, 401, describeResponse(res));
  const h = res.headers.get('www-authenticate') ?? '';
  assert.match(h, /^Bearer\b/, `WWW-Authenticate: ${describeResponse(res)}`);
  if (invalidToken) assert.match(h, /error="invalid_token"/, `WWW-Authenticate: ${describeResponse(res)}`);
  else assert.doesNotMatch(h, /error=/, `no error without a token (RFC 6750 §3.1): ${describeResponse(res)}`);
}

// A TodoList body: {"todos": [{"id": string, "text": string}, …]}.
function todosOf(res) {
  assert.equal(res.status, 200, describeResponse(res));
  assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/i, describeResponse(res));
  assert.match(res.headers.get('cache-control') ?? '', /\bno-store\b/i, describeResponse(res));
  assert.ok(Array.isArray(res.json?.todos), describeResponse(res));
  for (const t of res.json.todos) {
    assert.equal(typeof t.id, 'string', JSON.stringify(t));
    assert.equal(typeof t.text, 'string', JSON.stringify(t));
  }
  return res.json.todos;
}

async function add(token, text) {
  const res = await api('POST', '/api/todos', token, { text });
  assert.equal(res.status, 201, describeResponse(res));
  assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/i, describeResponse(res));
  assert.deepEqual(Object.keys(res.json).sort(), ['id', 'text'], describeResponse(res));
  assert.equal(typeof res.json.id, 'string');
  assert.equal(res.json.text, text);
  return res.json;
}

async function clear(token) {
  for (const t of todosOf(await api('GET', '/api/todos', token))) {
    assert.equal((await api('DELETE', `/api/todos/${t.id}`, token)).status, 204);
  }
}

// --- what the demo prints -------------------------------------------------------------

test('demo_prints_playground_url_first_then_a_curl_command_that_gets_a_token', () => {
  assert.equal(demo.playgroundUrl, `${base}/demo`, `stdout: ${demo.stdout}`);
  const out = demo.stdout;
  assert.ok(out.indexOf(`${base}/demo`) < out.indexOf('curl '), `playground URL before the curl command:\n${out}`);
  assert.ok(out.includes(`user:           ${DEMO_USER} (password: ${DEMO_PASSWORD})`), out);

  const r = spawnSync('sh', ['-c', demo.curl], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, `curl exited ${r.status}: ${r.stderr}`);
  const body = JSON.parse(r.stdout);
  assert.match(body.access_token ?? '', ACCESS_RE, r.stdout);
  assert.equal(body.token_type.toLowerCase(), 'bearer', r.stdout);
  seen.add(body.access_token);
});

test('playground_page_and_callback_have_a_fresh_script_nonce_and_strict_headers', async () => {
  const nonces = [];
  for (const path of ['/demo', '/demo/callback', '/demo']) {
    const res = await get(base, path);
    assert.equal(res.status, 200, describeResponse(res));
    assert.match(res.headers.get('content-type') ?? '', /^text\/html; charset=utf-8$/i);
    const csp = res.headers.get('content-security-policy') ?? '';
    const m = /script-src 'nonce-([0-9a-f]{32})'/.exec(csp);
    assert.ok(m, `script nonce in CSP: ${csp}`);
    for (const d of ["default-src 'none'", "connect-src 'self'", "style-src 'unsafe-inline'",
      "img-src 'self' data: https:", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"]) {
      assert.ok(csp.includes(d), `${d} in CSP: ${csp}`);
    }
    assert.doesNotMatch(csp, /script-src[^;]*'unsafe-inline'/, csp);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.match(res.headers.get('cache-control') ?? '', /no-store/);
    const scripts = [...res.text.matchAll(/<script\b([^>]*)>/g)];
    assert.equal(scripts.length, 1, 'one inline script');
    assert.equal(scripts[0][1].trim(), `nonce="${m[1]}"`, 'the script carries the CSP nonce');
    assert.doesNotMatch(res.text, /<(?:link|img|script)\b[^>]*\b(?:src|href)="(?!data:)/i,
      'no external assets');
    nonces.push(m[1]);
  }
  assert.equal(new Set(nonces).size, nonces.length, 'a new nonce per response');
  const post = await get(base, '/demo', { method: 'POST' });
  assert.equal(post.status, 405, describeResponse(post));
});

// --- the bearer check -----------------------------------------------------------------

test('api_without_a_token_gets_401_with_a_bearer_challenge', async () => {
  assert401(await api('GET', '/api/todos'), { invalidToken: false });
  assert401(await api('POST', '/api/todos', undefined, { text: 'x' }), { invalidToken: false });
  assert401(await api('DELETE', '/api/todos/1'), { invalidToken: false });
  const res = await api('GET', '/api/todos');
  assert.match(res.headers.get('www-authenticate') ?? '',
    new RegExp(`resource_metadata="${base}/\\.well-known/oauth-protected-resource"`), describeResponse(res));
});

test('api_with_an_unknown_or_malformed_token_gets_401_invalid_token', async () => {
  assert401(await api('GET', '/api/todos', `pa_at_${'A'.repeat(43)}`), { invalidToken: true });
  assert401(await api('GET', '/api/todos', 'Bearer not a token'), { invalidToken: true });
});

test('client_credentials_token_has_no_user_and_gets_403_user_required', async () => {
  const r = spawnSync('sh', ['-c', demo.curl], { encoding: 'utf8', timeout: 20_000 });
  const token = JSON.parse(r.stdout).access_token;
  seen.add(token);
  for (const [method, path, body] of [['GET', '/api/todos'], ['POST', '/api/todos', { text: 'x' }],
    ['DELETE', '/api/todos/1']]) {
    const res = await api(method, path, token, body);
    const b = assertJsonError(res, 403, 'user_required');
    assert.match(b.error_description ?? '', /user/i, describeResponse(res));
    assert.match(b.error_description ?? '', /authorization-code/i, describeResponse(res));
  }
});

// --- the TODO API ---------------------------------------------------------------------

test('user_token_lists_adds_and_deletes_todos_as_the_openapi_document_says', async () => {
  const { access_token: token } = await userToken();
  await clear(token);
  assert.deepEqual(todosOf(await api('GET', '/api/todos', token)), []);

  const a = await add(token, 'buy milk');
  const b = await add(token, 'write the docs ✓ — ünïcödé');
  assert.notEqual(a.id, b.id);
  assert.deepEqual(todosOf(await api('GET', '/api/todos', token)), [a, b], 'oldest first');

  const del = await api('DELETE', `/api/todos/${encodeURIComponent(a.id)}`, token);
  assert.equal(del.status, 204, describeResponse(del));
  assert.equal(del.text, '', 'a 204 has no body');
  assert.deepEqual(todosOf(await api('GET', '/api/todos', token)), [b]);

  const again = await api('DELETE', `/api/todos/${encodeURIComponent(a.id)}`, token);
  assertJsonError(again, 404, 'not_found');
  assertJsonError(await api('DELETE', '/api/todos/', token), 404, 'not_found');
  assertJsonError(await api('DELETE', '/api/todos/no-such-id', token), 404, 'not_found');
  assertJsonError(await api('DELETE', `/api/todos/${b.id}/extra`, token), 404, 'not_found');
  const getOne = await api('GET', `/api/todos/${b.id}`, token);
  assert.equal(getOne.status, 405, `no GET /api/todos/{id} in the document: ${describeResponse(getOne)}`);
  await clear(token);
});

test('lists_belong_to_the_user_not_to_the_client', async () => {
  demo.addUser(BOB, BOB_PASSWORD);
  const demoViaPlayground = (await userToken()).access_token;
  const demoViaClient = (await userToken({ client: 'confidential' })).access_token;
  const bob = (await userToken({ user: BOB, password: BOB_PASSWORD })).access_token;
  await clear(demoViaPlayground);
  await clear(bob);

  const mine = await add(demoViaPlayground, 'demo’s item');
  assert.deepEqual(todosOf(await api('GET', '/api/todos', demoViaClient)), [mine],
    'the same user through another client sees the same list');
  assert.deepEqual(todosOf(await api('GET', '/api/todos', bob)), [], 'bob sees none of demo\'s items');
  const bobs = await add(bob, 'bob’s item');
  assertJsonError(await api('DELETE', `/api/todos/${mine.id}`, bob), 404, 'not_found');
  assert.deepEqual(todosOf(await api('GET', '/api/todos', demoViaPlayground)), [mine]);
  assert.deepEqual(todosOf(await api('GET', '/api/todos', bob)), [bobs]);
  await clear(demoViaPlayground);
  await clear(bob);
});

test('read_only_token_lists_but_gets_403_insufficient_scope_on_writes', async () => {
  const { access_token: token } = await userToken({ scope: 'todo.read' });
  todosOf(await api('GET', '/api/todos', token));
  assertInsufficientScope(await api('POST', '/api/todos', token, { text: 'nope' }), 'todo.write');
  assertInsufficientScope(await api('DELETE', '/api/todos/1', token), 'todo.write');
});

test('write_only_token_adds_but_gets_403_insufficient_scope_on_list', async () => {
  const { access_token: token } = await userToken({ scope: 'todo.write' });
  const item = await add(token, 'written blind');
  assertInsufficientScope(await api('GET', '/api/todos', token), 'todo.read');
  assert.equal((await api('DELETE', `/api/todos/${item.id}`, token)).status, 204);
});

test('add_rejects_bodies_that_are_not_a_todo_with_400', async () => {
  const { access_token: token } = await userToken();
  for (const body of ['', 'not json', '[]', '"text"', '{}', '{"text": ""}', '{"text": 42}',
    '{"text": null}', '{"text": "a", "text": "b"}']) {
    const res = await api('POST', '/api/todos', token, body);
    assertJsonError(res, 400, 'invalid_request');
    assert.equal(typeof res.json.error_description, 'string', describeResponse(res));
  }
  // Unknown members are ignored.
  const ok = await api('POST', '/api/todos', token, { text: 'with extra', done: false });
  assert.equal(ok.status, 201, describeResponse(ok));
  await clear(token);
});

test('text_holds_at_most_500_characters_counted_as_characters_not_bytes', async () => {
  const { access_token: token } = await userToken();
  await add(token, 'x'.repeat(500));
  await add(token, 'é'.repeat(500));     // 1000 bytes, 500 characters
  assertJsonError(await api('POST', '/api/todos', token, { text: 'x'.repeat(501) }), 400, 'invalid_request');
  assertJsonError(await api('POST', '/api/todos', token, { text: 'a\u0000b' }), 400, 'invalid_request');
  await clear(token);
});

test('a_list_holds_at_most_100_items_then_409_list_full', async () => {
  const { access_token: token } = await userToken();
  await clear(token);
  for (let i = 0; i < 100; i++) {
    const res = await api('POST', '/api/todos', token, { text: `item ${i}` });
    assert.equal(res.status, 201, `item ${i}: ${describeResponse(res)}`);
  }
  assertJsonError(await api('POST', '/api/todos', token, { text: 'one too many' }), 409, 'list_full');
  const items = todosOf(await api('GET', '/api/todos', token));
  assert.equal(items.length, 100);
  assert.equal(new Set(items.map((t) => t.id)).size, 100, 'ids are unique');
  assert.equal((await api('DELETE', `/api/todos/${items[0].id}`, token)).status, 204);
  await add(token, 'room again');
  await clear(token);
});

test('revoked_token_is_refused_with_401_within_the_cache_time', async () => {
  const { access_token: token } = await userToken();
  todosOf(await api('GET', '/api/todos', token));    // now cached by the gateway
  const rev = await fetch(`${base}/oauth/revoke`, {
    method: 'POST',
    headers: { 'content-type': FORM },
    body: form({ token, token_type_hint: 'access_token', client_id: PLAYGROUND_CLIENT_ID }),
  });
  assert.equal(rev.status, 200, `POST /oauth/revoke: ${rev.status} ${await rev.text()}`);
  // Revoked by this server: its cache forgets the token at once.
  const res = await api('GET', '/api/todos', token);
  assert401(res, { invalidToken: true });
});

test('openapi_document_describes_exactly_these_endpoints', async () => {
  const res = await get(base, '/openapi.yaml');
  assert.equal(res.status, 200, describeResponse(res));
  const y = res.text;
  assert.match(y, /^ {2}\/api\/todos:$/m);
  assert.match(y, /^ {2}"?\/api\/todos\/\{id\}"?:$/m);
  for (const op of ['listTodos', 'addTodo', 'deleteTodo']) assert.ok(y.includes(op), op);
  const paths = [...y.matchAll(/^ {2}"?(\/[^:"]*)"?:$/gm)].map((m) => m[1]);
  assert.deepEqual(paths, ['/api/todos', '/api/todos/{id}']);
  assert.ok(y.includes(`url: "${base}"`), 'servers: the demo issuer');
});

test('demo_prints_an_authorize_url_and_a_command_that_exchanges_its_code', async () => {
  const out = demo.stdout;
  const url = /^\s*(http:\/\/\S+\/oauth\/authorize\?\S+)\s*$/m.exec(out)?.[1];
  const cmd = /^\s*(curl -s -u '[^']+' -d grant_type=authorization_code .*code=CODE \S+)\s*$/m.exec(out)?.[1];
  assert.ok(url, `an authorize URL is printed:\n${out}`);
  assert.ok(cmd, `an exchange command is printed:\n${out}`);
  const u = new URL(url);
  assert.equal(u.origin, base);
  const params = Object.fromEntries(u.searchParams);
  // A person opens the URL, signs in as the demo user and allows.
  const browser = new Browser(base, seen);
  const code = await browser.code(params, { user: DEMO_USER, password: DEMO_PASSWORD });
  seen.add(code);
  // ... then runs the printed command with the code from the address bar.
  const r = spawnSync('sh', ['-c', cmd.replace('code=CODE', `code=${code}`)],
    { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, `curl exited ${r.status}: ${r.stderr}`);
  const body = JSON.parse(r.stdout);
  assert.match(body.access_token, ACCESS_RE);
  assert.match(body.refresh_token, /^pa_rt_[A-Za-z0-9_-]{43}$/);
  assert.equal(body.token_type, 'bearer');
  assert.equal(body.scope, 'todo.read todo.write');
  seen.add(body.access_token);
  seen.add(body.refresh_token);
});

test('demo_stops_on_sigterm_deletes_its_data_and_logged_no_secret', async () => {
  assert.ok(existsSync(demoDir), demoDir);
  assert.equal(await demo.stop(), 0, `log:\n${demo.log}`);
  assert.equal(existsSync(demoDir), false, `${demoDir} removed`);
  // The demo password is also the demo user's name, which the log may name.
  seen.delete(DEMO_PASSWORD);
  const leaked = [...seen].filter((s) => demo.log.includes(s));
  assert.deepEqual(leaked, []);
});

test('demo_refuses_a_non_loopback_listen_address', () => {
  // Its user, password and client secret are printed for anyone: the demo listens on
  // loopback only, and says what to run for a real server.
  for (const addr of ['0.0.0.0:0', '[::]:0', '192.0.2.1:8080']) {
    const r = run(['demo', '--listen', addr]);
    assert.equal(r.status, 1, `demo --listen ${addr}: ${r.stdout} ${r.stderr}`);
    assert.match(r.stderr, /^plugauth: demo: refusing to listen on '[^']+': .*loopback only.*plugauth init and plugauth serve/m, r.stderr);
    assert.doesNotMatch(r.stdout, /listening on/, r.stdout);
  }
});
