// The whole authorization-code flow as ChatGPT's user goes through it, in the three
// dialects: GET /oauth/authorize, the real login page, the real consent page, the
// redirect back with code, state and iss (RFC 6749 §4.1, RFC 9207), then the token
// request exactly as a plugin (JSON or form), a GPT Action (secret in the body or in
// HTTP Basic) or an MCP public client (PKCE S256) sends it. Also: the pages' headers and
// cookie, remembered consent, denial, wrong passwords, the sign-in rate limit and CSRF.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { describeResponse } from './lib/http.js';
import {
  Browser, MCP_CALLBACK, PASSWORD, SESSION_COOKIE, SESSION_RE, CODE_RE,
  actionCallback, addChatgptClient, addExactClient, addMcpClient, addUser,
  assertErrorPage, assertHtmlPage, assertRedirectBack, assertRedirectError, assertTokenPair,
  authorizePath, exchangeCode, fakeToken, hiddenValue, isConsentForm, isLoginForm, newState,
  pkce, pluginCallback, theForm,
} from './lib/flow.js';
import { createPlugauth } from './lib/server.js';

const BOB_PASSWORD = 'bob prefers a long passphrase';

let pa;
let base;
let plugin;   // --chatgpt (plugins and GPT Actions)
let mcp;      // --public, https://chatgpt.com/connector/oauth/abc123
let exact;    // confidential, http://127.0.0.1:9/cb
const seen = new Set();   // every secret the test saw: none may reach the log

function remember(...values) {
  for (const v of values) if (typeof v === 'string' && v.length > 0) seen.add(v);
}

function newChatgptClient(name = 'ChatGPT plugin') {
  const c = addChatgptClient(pa, name);
  remember(c.client_secret);
  return c;
}

const browser = () => new Browser(base, seen);

// ChatGPT's authorize request, in the order a plugin sends it.
function pluginParams(client, redirectUri, state, scope = '') {
  return [
    ['response_type', 'code'], ['client_id', client.client_id],
    ['redirect_uri', redirectUri], ['scope', scope], ['state', state],
  ];
}

// Every attribute of a Set-Cookie line, for order-independent checks.
function cookieParts(line) {
  const [pair, ...attrs] = line.split(';').map((s) => s.trim());
  const eq = pair.indexOf('=');
  return {
    name: pair.slice(0, eq),
    value: pair.slice(eq + 1),
    attrs: attrs.map((a) => a.toLowerCase()),
  };
}

function assertSessionCookie(res) {
  const lines = res.setCookies.filter((l) => l.startsWith(`${SESSION_COOKIE}=`));
  assert.equal(lines.length, 1, `one ${SESSION_COOKIE} Set-Cookie expected: ${JSON.stringify(res.setCookies)}`);
  const c = cookieParts(lines[0]);
  assert.match(c.value, SESSION_RE, lines[0]);
  assert.ok(c.attrs.includes('path=/'), lines[0]);
  assert.ok(c.attrs.includes('httponly'), lines[0]);
  assert.ok(c.attrs.includes('samesite=lax'), lines[0]);
  const maxAge = c.attrs.find((a) => a.startsWith('max-age='));
  assert.ok(maxAge && Number(maxAge.slice(8)) > 0, `Max-Age: ${lines[0]}`);
  assert.ok(!c.attrs.includes('secure'), `no Secure over http: ${lines[0]}`);
  return c.value;
}

before(async () => {
  pa = createPlugauth();
  addUser(pa, 'alice');
  addUser(pa, 'bob', BOB_PASSWORD);
  remember(PASSWORD, BOB_PASSWORD);
  plugin = newChatgptClient('ChatGPT plugin');
  mcp = addMcpClient(pa);
  exact = addExactClient(pa);
  remember(exact.client_secret);
  base = await pa.start();
});

after(async () => {
  await pa?.cleanup();
});

// --- the pages ---------------------------------------------------------------------------

test('login_page_sets_session_cookie_and_security_headers', async () => {
  const b = browser();
  const redirect = pluginCallback();
  const state = newState();
  const res = await b.get(authorizePath(pluginParams(plugin, redirect, state)));
  assertHtmlPage(res, 200);
  assertSessionCookie(res);

  const f = theForm(res);
  assert.equal(f.method, 'post');
  const action = new URL(f.action, res.url);
  assert.equal(action.origin, base, `form action ${f.action}`);
  assert.equal(action.pathname, '/oauth/authorize', `form action ${f.action}`);
  assert.ok(isLoginForm(f), `login form: ${JSON.stringify(f)}`);
  assert.ok(f.visible.some((v) => v.name === 'username'), `username field: ${JSON.stringify(f.visible)}`);
  assert.ok((hiddenValue(f, 'csrf') ?? '').length >= 32, `csrf hidden field: ${JSON.stringify(f.hidden)}`);
  // The original request rides along.
  assert.equal(hiddenValue(f, 'response_type'), 'code');
  assert.equal(hiddenValue(f, 'client_id'), plugin.client_id);
  assert.equal(hiddenValue(f, 'redirect_uri'), redirect);
  assert.equal(hiddenValue(f, 'state'), state);
});

test('hidden_fields_round_trip_html_escaped_values', async () => {
  // A state full of characters HTML must escape comes back unchanged after the form post.
  const b = browser();
  const redirect = pluginCallback();
  const state = `${newState()}"'<>&\`=+ %`;
  const r = await b.authorize(pluginParams(plugin, redirect, state));
  assertRedirectBack(r.res, redirect, { state });
  assert.match(r.code ?? '', CODE_RE, r.location);
});

// --- dialect 1: plugins ------------------------------------------------------------------

test('plugin_first_flow_login_consent_code_json_exchange', async () => {
  const client = newChatgptClient('First-time plugin');
  const b = browser();
  const redirect = pluginCallback();
  const state = newState();

  const login = await b.get(authorizePath(pluginParams(client, redirect, state)));
  assertHtmlPage(login, 200);
  const anonymous = b.jar.get(SESSION_COOKIE);
  assert.match(anonymous ?? '', SESSION_RE);
  const loginCsrf = hiddenValue(theForm(login), 'csrf');

  const consent = await b.submit(login, { username: 'alice', password: PASSWORD });
  assertHtmlPage(consent, 200);
  const signedIn = assertSessionCookie(consent);
  assert.notEqual(signedIn, anonymous, 'the session id rotates at sign-in');
  assert.equal(b.jar.get(SESSION_COOKIE), signedIn);

  const f = theForm(consent);
  assert.ok(isConsentForm(f), `consent form: ${describeResponse(consent)}`);
  const decisions = f.buttons.filter((x) => x.name === 'decision').map((x) => x.value).sort();
  assert.deepEqual(decisions, ['allow', 'deny']);
  const consentCsrf = hiddenValue(f, 'csrf');
  assert.ok((consentCsrf ?? '').length >= 32, `csrf on the consent form: ${JSON.stringify(f.hidden)}`);
  assert.notEqual(consentCsrf, loginCsrf, 'the CSRF token is bound to the (rotated) session');
  assert.equal(new URL(f.action, consent.url).pathname, '/oauth/authorize');

  const done = await b.submit(consent, {}, { button: { name: 'decision', value: 'allow' } });
  const p = assertRedirectBack(done, redirect, { status: 303, state });
  assert.match(p.get('code') ?? '', CODE_RE, done.location);
  assert.deepEqual([...p.keys()].sort(), ['code', 'iss', 'state'], done.location);

  const tok = await exchangeCode(base, 'json', client, { code: p.get('code'), redirectUri: redirect });
  assertTokenPair(tok, { scope: 'todo.read', seen });
});

test('sign_in_rotates_session_id_old_cookie_stays_signed_out', async () => {
  const client = newChatgptClient('Fixation check');
  const b = browser();
  const redirect = pluginCallback();
  const login = await b.get(authorizePath(pluginParams(client, redirect, newState())));
  assertHtmlPage(login, 200);
  const before = b.jar.get(SESSION_COOKIE);
  const consent = await b.submit(login, { username: 'alice', password: PASSWORD });
  assertHtmlPage(consent, 200);
  assert.notEqual(b.jar.get(SESSION_COOKIE), before);

  // Whoever planted or kept the pre-login cookie is not signed in as alice.
  const attacker = browser();
  attacker.jar.set(SESSION_COOKIE, before);
  const res = await attacker.get(authorizePath(pluginParams(client, redirect, newState())));
  assertHtmlPage(res, 200);
  assert.ok(isLoginForm(theForm(res)), `the old session id must not be signed in: ${describeResponse(res)}`);
});

test('consent_remembered_redirects_at_once_with_new_code', async () => {
  const client = newChatgptClient('Remembered plugin');
  const b = browser();
  const redirect = pluginCallback();
  const first = await b.authorize(pluginParams(client, redirect, newState()));
  assert.deepEqual(first.steps, ['login', 'consent', 'redirect']);

  const state = newState();
  // Same client and scope, parameters in another order: straight back with a code.
  const res = await b.get(authorizePath([
    ['state', state], ['redirect_uri', redirect], ['client_id', client.client_id],
    ['response_type', 'code'], ['scope', ''],
  ]));
  const p = assertRedirectBack(res, redirect, { status: 302, state });
  assert.match(p.get('code') ?? '', CODE_RE, res.location);
  assert.notEqual(p.get('code'), first.code);
  assertTokenPair(await exchangeCode(base, 'form', client, { code: p.get('code'), redirectUri: redirect }),
    { seen });
});

test('plugin_form_body_exchange', async () => {
  const b = browser();
  const redirect = pluginCallback();
  const code = await b.code(pluginParams(plugin, redirect, newState()));
  const tok = await exchangeCode(base, 'form', plugin, { code, redirectUri: redirect });
  assertTokenPair(tok, { scope: 'todo.read', seen });
});

test('authorize_parameter_order_and_scope_variants_give_default_scope', async () => {
  const b = browser();
  const redirect = pluginCallback();
  const id = plugin.client_id;
  const variants = [
    // scope absent (the author left it blank)
    [['response_type', 'code'], ['client_id', id], ['redirect_uri', redirect], ['state', newState()]],
    // scope empty, another order
    [['client_id', id], ['scope', ''], ['state', newState()], ['redirect_uri', redirect], ['response_type', 'code']],
    // the default scope named
    [['redirect_uri', redirect], ['state', newState()], ['response_type', 'code'], ['client_id', id], ['scope', 'todo.read']],
  ];
  for (const params of variants) {
    const r = await b.authorize(params);
    const state = params.find(([k]) => k === 'state')[1];
    assertRedirectBack(r.res, redirect, { state });
    assert.match(r.code ?? '', CODE_RE, r.location);
    const tok = await exchangeCode(base, 'json', plugin, { code: r.code, redirectUri: redirect });
    assertTokenPair(tok, { scope: 'todo.read', seen });
  }
});

test('wider_scope_asks_consent_again', async () => {
  const client = newChatgptClient('Growing plugin');
  const b = browser();
  const redirect = pluginCallback();
  const first = await b.authorize(pluginParams(client, redirect, newState()));
  assert.deepEqual(first.steps, ['login', 'consent', 'redirect']);

  const state = newState();
  const res = await b.get(authorizePath(pluginParams(client, redirect, state, 'todo.read todo.write')));
  assertHtmlPage(res, 200);
  assert.ok(isConsentForm(theForm(res)), `todo.write was never granted: ${describeResponse(res)}`);
  const done = await b.submit(res, {}, { button: { name: 'decision', value: 'allow' } });
  const p = assertRedirectBack(done, redirect, { status: 303, state });
  const tok = await exchangeCode(base, 'json', client, { code: p.get('code'), redirectUri: redirect });
  assertTokenPair(tok, { scope: 'todo.read todo.write', seen });

  // Both are granted now: asking for either goes straight back.
  const again = await b.authorize(pluginParams(client, redirect, newState(), 'todo.write'));
  assert.deepEqual(again.steps, ['redirect']);
});

// --- dialect 2: GPT Actions --------------------------------------------------------------

test('gpt_action_post_auth_exchange', async () => {
  const b = browser();
  const redirect = actionCallback('chatgpt.com');
  const state = newState();
  const r = await b.authorize(pluginParams(plugin, redirect, state));
  assertRedirectBack(r.res, redirect, { state });
  const tok = await exchangeCode(base, 'form', plugin, { code: r.code, redirectUri: redirect });
  assertTokenPair(tok, { seen });
});

test('gpt_action_basic_auth_exchange', async () => {
  // "Basic authorization header": the body still carries client_id.
  const b = browser();
  for (const host of ['chatgpt.com', 'chat.openai.com']) {
    const redirect = actionCallback(host);
    const code = await b.code(pluginParams(plugin, redirect, newState()));
    const tok = await exchangeCode(base, 'basic+id', plugin, { code, redirectUri: redirect });
    assertTokenPair(tok, { seen });
  }
});

test('gpt_action_basic_auth_without_body_client_id_exchange', async () => {
  const b = browser();
  const redirect = actionCallback('chat.openai.com');
  const code = await b.code(pluginParams(plugin, redirect, newState()));
  const tok = await exchangeCode(base, 'basic', plugin, { code, redirectUri: redirect });
  assertTokenPair(tok, { seen });
});

// --- dialect 3: MCP public client ----------------------------------------------------------

test('mcp_public_client_pkce_exchange', async () => {
  const b = browser();
  const { verifier, challenge } = pkce();
  remember(verifier);
  const state = newState();
  const r = await b.authorize([
    ['response_type', 'code'], ['client_id', mcp.client_id], ['redirect_uri', MCP_CALLBACK],
    ['state', state], ['code_challenge', challenge], ['code_challenge_method', 'S256'],
    ['scope', 'todo.read'],
  ]);
  const p = assertRedirectBack(r.res, MCP_CALLBACK, { state });
  assert.match(p.get('code') ?? '', CODE_RE, r.location);
  const tok = await exchangeCode(base, 'public', mcp, { code: r.code, redirectUri: MCP_CALLBACK, verifier });
  assertTokenPair(tok, { scope: 'todo.read', seen });
});

// --- exact redirect URI --------------------------------------------------------------------

test('exact_redirect_client_flow', async () => {
  const b = browser();
  const redirect = 'http://127.0.0.1:9/cb';
  const state = newState();
  const r = await b.authorize(pluginParams(exact, redirect, state));
  assertRedirectBack(r.res, redirect, { state });
  const tok = await exchangeCode(base, 'basic', exact, { code: r.code, redirectUri: redirect });
  assertTokenPair(tok, { seen });
});

// --- deny, wrong password, rate limit --------------------------------------------------------

test('consent_deny_redirects_access_denied', async () => {
  const client = newChatgptClient('Denied plugin');
  const b = browser();
  const redirect = pluginCallback();
  const state = newState();
  const r = await b.authorize(pluginParams(client, redirect, state), { decision: 'deny' });
  assert.deepEqual(r.steps, ['login', 'consent', 'redirect']);
  assert.equal(r.res.status, 303, describeResponse(r.res));
  assertRedirectError(r.res, redirect, 'access_denied', state);
});

test('wrong_password_shows_login_form_again', async () => {
  const client = newChatgptClient('Typo plugin');
  const b = browser();
  const redirect = pluginCallback();
  const login = await b.get(authorizePath(pluginParams(client, redirect, newState())));
  const wrong = 'correct horse battery staple';
  const res = await b.submit(login, { username: 'alice', password: wrong });
  remember(wrong);
  // 400, not 401: a login form is no HTTP authentication challenge (RFC 9110 §15.5.2
  // would need WWW-Authenticate); the server chose this in c867e89.
  assertHtmlPage(res, 400);
  assert.match(res.text, /Wrong username or password/);
  const f = theForm(res);
  assert.ok(isLoginForm(f), `the login form is kept: ${describeResponse(res)}`);
  assert.ok(hiddenValue(f, 'csrf'), 'csrf kept');
  assert.equal(hiddenValue(f, 'redirect_uri'), redirect);

  // The same form with the right password goes on to consent.
  const consent = await b.submit(res, { username: 'alice', password: PASSWORD });
  assertHtmlPage(consent, 200);
  assert.ok(isConsentForm(theForm(consent)), describeResponse(consent));
});

test('login_rate_limited_after_five_failures', async () => {
  const b = browser();
  const redirect = pluginCallback();
  let page = await b.get(authorizePath(pluginParams(plugin, redirect, newState())));
  for (let i = 1; i <= 5; i++) {
    const wrong = `not bob's password #${i}`;
    remember(wrong);
    page = await b.submit(page, { username: 'bob', password: wrong });
    assert.equal(page.status, 400, `attempt ${i}: ${describeResponse(page)}`);
  }
  const res = await b.submit(page, { username: 'bob', password: BOB_PASSWORD });
  assert.equal(res.status, 429, `the right password after 5 failures: ${describeResponse(res)}`);
  const retry = res.headers.get('retry-after');
  assert.match(retry ?? '', /^[0-9]+$/, `Retry-After: ${describeResponse(res)}`);
  assert.ok(Number(retry) > 0 && Number(retry) <= 900, `Retry-After ${retry}`);
  assert.equal(res.location, null);

  // The limit is bob's: alice still signs in from the same address.
  const a = browser();
  const r = await a.authorize(pluginParams(plugin, redirect, newState()));
  assert.match(r.code ?? '', CODE_RE);
});

// --- CSRF ------------------------------------------------------------------------------------

function withoutCsrf(pairs) {
  return pairs.filter(([k]) => k !== 'csrf');
}

function withCsrf(value) {
  return (pairs) => pairs.map(([k, v]) => [k, k === 'csrf' ? value : v]);
}

test('login_post_csrf_missing_changed_or_cookieless_forbidden', async () => {
  const client = newChatgptClient('CSRF login');
  const redirect = pluginCallback();
  const b = browser();
  const login = await b.get(authorizePath(pluginParams(client, redirect, newState())));
  const other = browser();
  const otherLogin = await other.get(authorizePath(pluginParams(client, redirect, newState())));
  const otherCsrf = hiddenValue(theForm(otherLogin), 'csrf');
  const forged = fakeToken();

  const attempts = {
    missing: await b.submit(login, { username: 'alice', password: PASSWORD }, { edit: withoutCsrf }),
    changed: await b.submit(login, { username: 'alice', password: PASSWORD }, { edit: withCsrf(forged) }),
    other_session: await b.submit(login, { username: 'alice', password: PASSWORD }, { edit: withCsrf(otherCsrf) }),
    no_cookie: await b.submit(login, { username: 'alice', password: PASSWORD }, { cookies: false }),
  };
  for (const [what, res] of Object.entries(attempts)) {
    assert.doesNotThrow(() => assertErrorPage(res, 403), `${what}: ${describeResponse(res)}`);
  }
  // …and none of them signed the browser in.
  const still = await b.get(authorizePath(pluginParams(client, redirect, newState())));
  assertHtmlPage(still, 200);
  assert.ok(isLoginForm(theForm(still)), describeResponse(still));
});

test('consent_post_csrf_missing_changed_or_cookieless_forbidden', async () => {
  const client = newChatgptClient('CSRF consent');
  const redirect = pluginCallback();
  const b = browser();
  const login = await b.get(authorizePath(pluginParams(client, redirect, newState())));
  const consent = await b.submit(login, { username: 'alice', password: PASSWORD });
  assertHtmlPage(consent, 200);
  assert.ok(isConsentForm(theForm(consent)), describeResponse(consent));
  const forged = fakeToken();
  const allow = { name: 'decision', value: 'allow' };

  const attempts = {
    missing: await b.submit(consent, {}, { button: allow, edit: withoutCsrf }),
    changed: await b.submit(consent, {}, { button: allow, edit: withCsrf(forged) }),
    login_page_csrf: await b.submit(consent, {}, {
      button: allow, edit: withCsrf(hiddenValue(theForm(login), 'csrf')),
    }),
    no_cookie: await b.submit(consent, {}, { button: allow, cookies: false }),
  };
  for (const [what, res] of Object.entries(attempts)) {
    assert.doesNotThrow(() => assertErrorPage(res, 403), `${what}: ${describeResponse(res)}`);
  }
  // No consent was recorded: the signed-in user is asked again.
  const again = await b.get(authorizePath(pluginParams(client, redirect, newState())));
  assertHtmlPage(again, 200);
  assert.ok(isConsentForm(theForm(again)), `forged posts must grant nothing: ${describeResponse(again)}`);
});

// --- last: nothing secret in the log -------------------------------------------------------

test('server_log_never_contains_tokens_codes_secrets_passwords_or_cookies', async () => {
  const code = await pa.stop();
  assert.equal(code, 0, `SIGTERM should exit 0; log:\n${pa.log}`);
  assert.ok(seen.size > 20, `the test should have seen many secrets (${seen.size})`);
  const leaked = [...seen].filter((s) => pa.log.includes(s));
  assert.deepEqual(leaked, [], 'the server log contains secrets');
});
