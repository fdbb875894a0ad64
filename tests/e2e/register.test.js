// Dynamic client registration (RFC 7591) and the client configuration endpoint
// (RFC 7592), with `[oauth] registration = open` (and `token`, and the default
// `closed`): a strict client library registers and then signs in through the real
// pages; every refusal answers the RFC error and stores nothing.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as oauth from 'oauth4webapi';

import { Browser, addUser, assertErrorPage, newState, pkce } from './lib/flow.js';
import { FORM, describeResponse, readResponse } from './lib/http.js';
import {
  assertRegError, assertRegistered, clientList, manage, register,
} from './lib/register.js';
import { ISSUER, createPlugauth } from './lib/server.js';

const insecure = { [oauth.allowInsecureRequests]: true };
const seen = new Set();

let pa;
let base;
let as;

before(async () => {
  pa = createPlugauth();
  addUser(pa, 'alice');
  base = await pa.start({
    env: { PLUGAUTH_OAUTH_REGISTRATION: 'open', PLUGAUTH_OAUTH_REGISTRATION_RATE: '1000' },
  });
  // The configured issuer is not the address we listen on: describe the server by hand,
  // with the endpoints where it listens.
  as = {
    issuer: ISSUER,
    authorization_endpoint: `${base}/oauth/authorize`,
    token_endpoint: `${base}/oauth/token`,
    registration_endpoint: `${base}/oauth/register`,
    code_challenge_methods_supported: ['S256'],
    authorization_response_iss_parameter_supported: true,
  };
});

after(async () => {
  if (pa) {
    for (const s of seen) assert.ok(!pa.log.includes(s), 'a secret reached the server log');
  }
  await pa?.cleanup();
});

// Registers with oauth4webapi; returns the client information it validated.
async function registerWithLibrary(metadata) {
  const res = await oauth.dynamicClientRegistrationRequest(as, metadata, insecure);
  const info = await oauth.processDynamicClientRegistrationResponse(res);
  for (const k of ['client_secret', 'registration_access_token']) if (info[k]) seen.add(info[k]);
  return info;
}

// A PKCE code flow through the real pages to redirectUri; returns the token response.
async function codeFlow(info, clientAuth, redirectUri) {
  const client = { client_id: info.client_id };
  const { verifier, challenge } = pkce();
  const state = newState();
  const browser = new Browser(base, seen);
  const r = await browser.authorize({
    response_type: 'code', client_id: info.client_id, redirect_uri: redirectUri,
    scope: 'todo.read', state, code_challenge: challenge, code_challenge_method: 'S256',
  });
  assert.ok(r.location.startsWith(`${redirectUri}?`), r.location);
  const params = oauth.validateAuthResponse(as, client, r.url, state);
  const res = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params,
    redirectUri, verifier, insecure);
  const tok = await oauth.processAuthorizationCodeResponse(as, client, res);
  seen.add(tok.access_token);
  seen.add(tok.refresh_token);
  return tok;
}

test('metadata_advertises_registration_endpoint_when_open', async () => {
  const res = await fetch(`${base}/.well-known/oauth-authorization-server`);
  const md = await res.json();
  assert.equal(md.registration_endpoint, `${ISSUER}/oauth/register`);
});

test('public_client_registers_then_pkce_code_flow_and_refresh', async () => {
  const info = await registerWithLibrary({
    client_name: 'Native app',
    redirect_uris: ['http://127.0.0.1/callback'],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    software_id: 'e2e', ignored_field: { nested: true },
  });
  assert.equal(info.client_secret, undefined, 'a public client gets no secret');
  assert.equal(info.token_endpoint_auth_method, 'none');
  assert.deepEqual(info.response_types, ['code']);
  assert.equal(info.software_id, 'e2e');
  assert.ok(!('ignored_field' in info), 'unknown metadata is not echoed');

  // RFC 8252 §7.3: the loopback redirect may come back on any port.
  const tok = await codeFlow(info, oauth.None(), 'http://127.0.0.1:53682/callback');
  const res = await oauth.refreshTokenGrantRequest(as, { client_id: info.client_id }, oauth.None(),
    tok.refresh_token, insecure);
  const again = await oauth.processRefreshTokenResponse(as, { client_id: info.client_id }, res);
  seen.add(again.access_token);
  seen.add(again.refresh_token);
  assert.notEqual(again.access_token, tok.access_token);

  const listed = clientList(pa).find((c) => c.client_id === info.client_id);
  assert.equal(listed.origin, 'registered');
  assert.equal(listed.name, 'Native app');
  assert.equal(listed.public, true);
  const text = pa.cli(['client', 'list']).stdout;
  assert.match(text, new RegExp(`^${info.client_id} +public +registered +Native app  `, 'm'));
});

test('vscode_registration_body_accepted_and_any_loopback_port', async () => {
  // The body VS Code sends (src/vs/base/common/oauth.ts, fetchDynamicRegistration), its
  // grant_types filtered by our grant_types_supported as it does, and an empty scope.
  const info = await registerWithLibrary({
    client_name: 'Visual Studio Code',
    client_uri: 'https://code.visualstudio.com',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['https://insiders.vscode.dev/redirect', 'https://vscode.dev/redirect',
      'http://127.0.0.1/', 'http://127.0.0.1:33418/'],
    scope: '',
    token_endpoint_auth_method: 'none',
  });
  assert.equal(info.scope, undefined, 'an empty scope names none: every scope');
  const tok = await codeFlow(info, oauth.None(), 'http://127.0.0.1:41234/');
  assert.equal(tok.scope, 'todo.read');
});

test('registered_client_authorize_errors_shown_not_redirected', async () => {
  // RFC 9700 §4.18: anyone may register a redirect URI, so an error (here: a public
  // client without PKCE, an unknown scope) is shown on a page, never redirected there
  // without the user's say. An administrator's client keeps the redirect.
  const info = await registerWithLibrary({
    redirect_uris: ['https://spa.example/cb'], token_endpoint_auth_method: 'none',
  });
  const browser = new Browser(base, seen);
  const cb = encodeURIComponent('https://spa.example/cb');
  for (const extra of ['', `&scope=admin&code_challenge=${pkce().challenge}&code_challenge_method=S256`]) {
    const r = await browser.get(`/oauth/authorize?response_type=code&client_id=${info.client_id}`
      + `&redirect_uri=${cb}&state=s1${extra}`);
    assertErrorPage(r, 400);
    assert.equal(r.location, null, describeResponse(r));
  }
  const admin = pa.addClient({ name: 'admin client', redirectUris: ['https://adm.example/cb'], isPublic: true });
  const r = await browser.get(`/oauth/authorize?response_type=code&client_id=${admin.client_id}`
    + `&redirect_uri=${encodeURIComponent('https://adm.example/cb')}&state=s1`);
  assert.equal(r.status, 302, describeResponse(r));
  assert.equal(new URL(r.location).searchParams.get('error'), 'invalid_request');
});

test('confidential_client_secret_basic_default_code_flow', async () => {
  const info = await registerWithLibrary({ redirect_uris: ['https://web.example/cb'] });
  assert.equal(info.token_endpoint_auth_method, 'client_secret_basic');
  assert.match(info.client_secret ?? '', /^pa_cs_/);
  assert.equal(info.client_secret_expires_at, 0);
  const tok = await codeFlow(info, oauth.ClientSecretBasic(info.client_secret), 'https://web.example/cb');
  assert.equal(tok.scope, 'todo.read');
});

test('confidential_client_secret_post_client_credentials', async () => {
  const info = await registerWithLibrary({
    grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_post',
    scope: 'todo.write',
  });
  assert.deepEqual(info.response_types, []);
  assert.equal(info.scope, 'todo.write');
  const client = { client_id: info.client_id };
  const res = await oauth.clientCredentialsGrantRequest(as, client,
    oauth.ClientSecretPost(info.client_secret), new URLSearchParams({ scope: 'todo.write' }), insecure);
  const tok = await oauth.processClientCredentialsResponse(as, client, res);
  seen.add(tok.access_token);
  assert.equal(tok.scope, 'todo.write');
  // Its scope is what it registered: no more.
  const wider = await fetch(as.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': FORM },
    body: new URLSearchParams({
      grant_type: 'client_credentials', scope: 'todo.read',
      client_id: info.client_id, client_secret: info.client_secret,
    }),
  });
  assert.equal((await readResponse(wider)).json.error, 'invalid_scope');
});

// Each refusal: the status and error, and nothing stored.
const refusals = [
  ['http_off_loopback', { redirect_uris: ['http://app.example/cb'] }, 'invalid_redirect_uri'],
  ['fragment', { redirect_uris: ['https://app.example/cb#x'] }, 'invalid_redirect_uri'],
  ['userinfo', { redirect_uris: ['https://user@app.example/cb'] }, 'invalid_redirect_uri'],
  ['loopback_lookalike', { redirect_uris: ['http://127.0.0.1.evil.example/cb'] }, 'invalid_redirect_uri'],
  ['private_scheme_without_dot', { redirect_uris: ['myapp:/cb'] }, 'invalid_redirect_uri'],
  ['javascript_scheme', { redirect_uris: ['javascript:alert(1)'] }, 'invalid_redirect_uri'],
  ['too_long', { redirect_uris: [`https://app.example/${'a'.repeat(600)}`] }, 'invalid_redirect_uri'],
  ['too_many', { redirect_uris: Array.from({ length: 11 }, (_, i) => `https://a.example/${i}`) },
    'invalid_redirect_uri'],
  ['missing_for_code', { client_name: 'x' }, 'invalid_redirect_uri'],
  ['not_an_array', { redirect_uris: 'https://app.example/cb' }, 'invalid_redirect_uri'],
  ['implicit_response_type', { redirect_uris: ['https://a.example/cb'], response_types: ['token'] },
    'invalid_client_metadata'],
  ['code_without_code_grant', { grant_types: ['client_credentials'], response_types: ['code'] },
    'invalid_client_metadata'],
  ['code_grant_without_code', { redirect_uris: ['https://a.example/cb'], response_types: [] },
    'invalid_client_metadata'],
  ['refresh_alone', { grant_types: ['refresh_token'] }, 'invalid_client_metadata'],
  ['unknown_grant', { redirect_uris: ['https://a.example/cb'], grant_types: ['password'] },
    'invalid_client_metadata'],
  ['public_client_credentials', { grant_types: ['client_credentials'], token_endpoint_auth_method: 'none' },
    'invalid_client_metadata'],
  ['unknown_auth_method', { redirect_uris: ['https://a.example/cb'], token_endpoint_auth_method: 'private_key_jwt' },
    'invalid_client_metadata'],
  ['unknown_scope', { redirect_uris: ['https://a.example/cb'], scope: 'todo.read admin' },
    'invalid_client_metadata'],
  ['control_in_name', { redirect_uris: ['https://a.example/cb'], client_name: 'a\u0007b' },
    'invalid_client_metadata'],
  ['bidi_in_name', { redirect_uris: ['https://a.example/cb'], client_name: 'Chat\u202eGPT' },
    'invalid_client_metadata'],
  ['long_name', { redirect_uris: ['https://a.example/cb'], client_name: 'n'.repeat(129) },
    'invalid_client_metadata'],
  ['http_logo', { redirect_uris: ['https://a.example/cb'], logo_uri: 'http://evil.example/l.png' },
    'invalid_client_metadata'],
  ['name_not_string', { redirect_uris: ['https://a.example/cb'], client_name: 7 }, 'invalid_client_metadata'],
];

// Runs the refusals whose error is `error`: each answers it, and nothing is stored.
async function refuseAll(error) {
  const cases = refusals.filter(([, , e]) => e === error);
  assert.ok(cases.length > 5);
  for (const [name, body] of cases) {
    const before = clientList(pa).length;
    const res = await register(base, body);
    assert.equal(res.json?.error, error, `${name}: ${describeResponse(res)}`);
    assertRegError(res, 400, error);
    assert.equal(clientList(pa).length, before, `${name}: nothing stored`);
  }
}

test('registration_refused_bad_redirect_uris', () => refuseAll('invalid_redirect_uri'));

test('registration_refused_bad_metadata', () => refuseAll('invalid_client_metadata'));

test('registration_refused_non_json_bodies', async () => {
  const before = clientList(pa).length;
  const form = await register(base, 'redirect_uris=https%3A%2F%2Fa.example%2Fcb', { contentType: FORM });
  assertRegError(form, 400, 'invalid_client_metadata');
  const none = await register(base, '{"redirect_uris":["https://a.example/cb"]}', { contentType: null });
  assertRegError(none, 400, 'invalid_client_metadata');
  for (const bad of ['{', '[]', '"x"', '{"a":1,"a":2}', '{"a":[[[[[[1]]]]]]}']) {
    assertRegError(await register(base, bad), 400, 'invalid_client_metadata');
  }
  assert.equal(clientList(pa).length, before, 'nothing stored');
});

test('registration_refused_oversize_body_413', async () => {
  const before = clientList(pa).length;
  const res = await register(base, {
    redirect_uris: ['https://a.example/cb'], padding: 'x'.repeat(9000),
  });
  assert.equal(res.status, 413, describeResponse(res));
  assert.equal(typeof res.json?.error, 'string', describeResponse(res));
  assert.equal(clientList(pa).length, before, 'nothing stored');
});

test('registration_preflight_cors_without_credentials', async () => {
  for (const [path, methods] of [['/oauth/register', 'POST'], ['/oauth/register/abc', 'GET, PUT, DELETE']]) {
    const res = await fetch(`${base}${path}`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://inspector.example',
        'access-control-request-method': methods.split(', ')[0],
        'access-control-request-headers': 'content-type, authorization',
      },
    });
    await res.arrayBuffer();
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.equal(res.headers.get('access-control-allow-methods'), methods);
    assert.match(res.headers.get('access-control-allow-headers'), /Authorization/);
    assert.equal(res.headers.get('access-control-allow-credentials'), null);
  }
  const res = await register(base, { redirect_uris: ['https://cors.example/cb'], token_endpoint_auth_method: 'none' });
  assertRegistered(res);
  seen.add(res.json.registration_access_token);
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
});

test('rfc7592_read_update_delete_with_registration_token', async () => {
  const reg = await register(base, {
    client_name: 'Managed', redirect_uris: ['https://m.example/cb'], contacts: ['ops@m.example'],
  });
  const info = assertRegistered(reg);
  seen.add(info.client_secret);
  seen.add(info.registration_access_token);

  const read = await manage(base, info);
  assert.equal(read.status, 200, describeResponse(read));
  assert.match(read.headers.get('cache-control') ?? '', /no-store/);
  assert.equal(read.json.client_id, info.client_id);
  assert.equal(read.json.client_name, 'Managed');
  assert.deepEqual(read.json.contacts, ['ops@m.example']);
  assert.equal(read.json.client_secret, undefined, 'the secret is shown once');
  assert.equal(read.json.registration_access_token, undefined);

  // PUT: the same checks as a registration, and the client keeps its id and secret.
  const bad = await manage(base, info, {
    method: 'PUT', body: { client_id: info.client_id, redirect_uris: ['https://m.example/cb#f'] },
  });
  assertRegError(bad, 400, 'invalid_redirect_uri');
  const other = await manage(base, info, {
    method: 'PUT', body: { client_id: 'someone-else', redirect_uris: ['https://m.example/cb'] },
  });
  assertRegError(other, 400, 'invalid_client_metadata');
  const wrongSecret = await manage(base, info, {
    method: 'PUT', body: { client_id: info.client_id, client_secret: 'pa_cs_x', redirect_uris: ['https://m.example/cb'] },
  });
  assertRegError(wrongSecret, 400, 'invalid_client_metadata');
  const up = await manage(base, info, {
    method: 'PUT',
    body: {
      client_id: info.client_id, client_secret: info.client_secret, client_name: 'Renamed',
      redirect_uris: ['https://m.example/new'], scope: 'todo.read',
    },
  });
  assert.equal(up.status, 200, describeResponse(up));
  assert.equal(up.json.client_name, 'Renamed');
  assert.deepEqual(up.json.redirect_uris, ['https://m.example/new']);
  assert.equal(up.json.contacts, undefined, 'PUT replaces: omitted fields go');
  const listed = clientList(pa).find((c) => c.client_id === info.client_id);
  assert.equal(listed.name, 'Renamed');
  assert.deepEqual(listed.redirect_uris, ['https://m.example/new']);
  const tok = await codeFlow(info, oauth.ClientSecretBasic(info.client_secret), 'https://m.example/new');

  // DELETE: the client goes, and its tokens with it.
  const del = await manage(base, info, { method: 'DELETE' });
  assert.equal(del.status, 204, describeResponse(del));
  assert.equal(clientList(pa).find((c) => c.client_id === info.client_id), undefined);
  const gone = await manage(base, info);
  assertRegError(gone, 401, 'invalid_token');
  const intro = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': FORM },
    body: new URLSearchParams({
      grant_type: 'refresh_token', refresh_token: tok.refresh_token,
      client_id: info.client_id, client_secret: info.client_secret,
    }),
  });
  assert.equal((await readResponse(intro)).json.error, 'invalid_client');
});

test('rfc7592_wrong_missing_or_other_clients_token_is_401', async () => {
  const a = assertRegistered(await register(base, { redirect_uris: ['https://a7592.example/cb'] }));
  const b = assertRegistered(await register(base, { redirect_uris: ['https://b7592.example/cb'] }));
  for (const i of [a, b]) { seen.add(i.client_secret); seen.add(i.registration_access_token); }
  const cli = pa.addClient({ name: 'from cli' });
  seen.add(cli.client_secret);
  const cases = [
    ['missing', a, { token: null }],
    ['wrong', a, { token: 'pa_rg_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }],
    ['other_clients', a, { token: b.registration_access_token }],
    ['unknown_client', { ...a, registration_client_uri: `${ISSUER}/oauth/register/0123456789abcdef0123456789abcdef` }, {}],
    ['cli_client', { ...a, registration_client_uri: `${ISSUER}/oauth/register/${cli.client_id}` }, {}],
  ];
  for (const [name, info, opts] of cases) {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const body = method === 'PUT' ? { client_id: info.client_id, redirect_uris: ['https://x.example/cb'] } : undefined;
      const res = await manage(base, info, { method, body, ...opts });
      assert.equal(res.status, 401, `${name} ${method}: ${describeResponse(res)}`);
      assert.equal(res.json?.error, 'invalid_token', `${name} ${method}`);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer /, `${name} ${method}`);
    }
  }
  // Nothing changed: both registered clients and the CLI client are still there.
  const ids = clientList(pa).map((c) => c.client_id);
  for (const id of [a.client_id, b.client_id, cli.client_id]) assert.ok(ids.includes(id));
});

test('client_remove_works_for_registered_clients', async () => {
  const info = assertRegistered(await register(base, { redirect_uris: ['https://rm.example/cb'] }));
  seen.add(info.client_secret);
  seen.add(info.registration_access_token);
  const r = pa.cli(['client', 'remove', info.client_id]);
  assert.equal(r.status, 0, r.stderr);
  assertRegError(await manage(base, info), 401, 'invalid_token');
});

test('registration_events_recorded', async () => {
  await register(base, { redirect_uris: ['https://events.example/cb#frag'] });
  const ok = assertRegistered(await register(base, { redirect_uris: ['https://events.example/cb'] }));
  seen.add(ok.client_secret);
  seen.add(ok.registration_access_token);
  const deadline = Date.now() + 5000;
  let out = '';
  while (Date.now() < deadline) {
    out = pa.cli(['events', '--json', '-n', '1000']).stdout;
    if (out.includes(ok.client_id) && out.includes('invalid_redirect_uri')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const events = out.split('\n').filter(Boolean).map((l) => JSON.parse(l))
    .filter((e) => e.kind === 'register');
  assert.ok(events.some((e) => e.outcome === 'ok' && e.client_id === ok.client_id), out);
  assert.ok(events.some((e) => e.outcome === 'invalid_redirect_uri'), out);
});

test('registration_closed_by_default_404_and_not_advertised', async () => {
  const closed = createPlugauth();
  try {
    const b = await closed.start();
    const res = await register(b, { redirect_uris: ['https://a.example/cb'] });
    assert.equal(res.status, 404, describeResponse(res));
    const md = await (await fetch(`${b}/.well-known/oauth-authorization-server`)).json();
    assert.ok(!('registration_endpoint' in md), JSON.stringify(md));
    assert.equal(clientList(closed).length, 0);
  } finally {
    await closed.cleanup();
  }
});

test('registration_token_mode_needs_initial_access_token', async () => {
  const tm = createPlugauth();
  try {
    const help = tm.cli(['registration', 'token', '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--ttl DURATION/);
    const b = await tm.start({ env: { PLUGAUTH_OAUTH_REGISTRATION: 'token' } });
    const md = await (await fetch(`${b}/.well-known/oauth-authorization-server`)).json();
    assert.equal(md.registration_endpoint, `${ISSUER}/oauth/register`);
    const body = { redirect_uris: ['https://t.example/cb'], token_endpoint_auth_method: 'none' };

    const mk = (args) => {
      const r = tm.cli(['registration', 'token', ...args, '--json']);
      assert.equal(r.status, 0, r.stderr);
      const t = JSON.parse(r.stdout);
      assert.match(t.token, /^pa_ia_[A-Za-z0-9_-]{43}$/);
      assert.ok(!tm.cli(['client', 'list', '--json']).stdout.includes(t.token));
      seen.add(t.token);
      return t;
    };
    const once = mk(['--uses', '1']);
    const expiring = mk(['--ttl', '1s', '--uses', '5']);

    const none = await register(b, body);
    assertRegError(none, 401, 'invalid_token');
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_token"/);
    assertRegError(await register(b, body, { token: 'pa_ia_nope' }), 401, 'invalid_token');
    // A bad request with a good token spends nothing.
    assertRegError(await register(b, { redirect_uris: ['http://x.example/'] }, { token: once.token }),
      400, 'invalid_redirect_uri');
    const ok = await register(b, body, { token: once.token });
    const info = assertRegistered(ok);
    seen.add(info.registration_access_token);
    assertRegError(await register(b, body, { token: once.token }), 401, 'invalid_token');

    // Expired: wait until the clock is past its expiry, then it is refused.
    while (Date.now() < (expiring.expires_at + 1) * 1000) await new Promise((r) => setTimeout(r, 100));
    assertRegError(await register(b, body, { token: expiring.token }), 401, 'invalid_token');
    assert.equal(clientList(tm).length, 1, 'only the one good registration stored');
    assert.ok(!tm.log.includes(once.token) && !tm.log.includes(expiring.token));
  } finally {
    await tm.cleanup();
  }
});
