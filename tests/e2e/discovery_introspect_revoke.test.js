// Discovery (RFC 8414 authorization server metadata, RFC 9728 protected resource
// metadata), token introspection (RFC 7662) and token revocation (RFC 7009), checked by
// a strict OAuth client (oauth4webapi) and by plain fetch for the wire details.
//
// oauth4webapi compares the discovered `issuer` with the URL it asked, so the server
// runs with an issuer naming the port it really listens on: a port picked free before
// start-up, given to the server through PLUGAUTH_SERVER_LISTEN and PLUGAUTH_SERVER_ISSUER.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as oauth from 'oauth4webapi';

import {
  ACCESS_TOKEN_RE, basic, describeResponse, fakeSecret, form, FORM, readResponse,
} from './lib/http.js';
import {
  Browser, MCP_CALLBACK, PASSWORD, addChatgptClient, addMcpClient, addUser, assertTokenPair,
  exchangeCode, fakeToken, newState, pkce, pluginCallback, refresh,
} from './lib/flow.js';
import { createPlugauth, startWithIssuer } from './lib/server.js';

const insecure = { [oauth.allowInsecureRequests]: true };
const USER = 'alice';

let pa;
let issuer;
let as;           // the discovered metadata
let rs;           // a resource server: a confidential client that introspects
let app;          // a ChatGPT plugin client (confidential)
let other;        // another confidential client
let machine;      // a confidential client with client_credentials only
let mcp;          // an MCP public client
let browser;
const seen = new Set([PASSWORD]);

function remember(...values) {
  for (const v of values) if (typeof v === 'string' && v.length > 0) seen.add(v);
}


// oauth4webapi's view of a client and how it authenticates.
const o4w = (c) => ({ client_id: c.client_id });
const secretBasic = (c) => oauth.ClientSecretBasic(c.client_secret);
const secretPost = (c) => oauth.ClientSecretPost(c.client_secret);

async function introspect(token, by = rs, auth = secretBasic) {
  const res = await oauth.introspectionRequest(as, o4w(by), auth(by), token, insecure);
  return oauth.processIntrospectionResponse(as, o4w(by), res);
}

async function revoke(token, by, auth = secretBasic) {
  const res = await oauth.revocationRequest(as, o4w(by), auth(by), token, insecure);
  return oauth.processRevocationResponse(res);
}

// A plain POST to one of the endpoints; resolves with {status, headers, text, json}.
async function post(path, { body = {}, authorization, contentType = FORM } = {}) {
  const headers = { 'content-type': contentType };
  if (authorization) headers.authorization = authorization;
  const res = await fetch(`${issuer}${path}`, {
    method: 'POST', headers, body: typeof body === 'string' ? body : form(body),
  });
  return readResponse(res);
}

// An access token of client_credentials for `c`.
async function clientToken(c, scope) {
  const params = new URLSearchParams(scope ? { scope } : {});
  const res = await oauth.clientCredentialsGrantRequest(as, o4w(c), secretBasic(c), params, insecure);
  const t = await oauth.processClientCredentialsResponse(as, o4w(c), res);
  remember(t.access_token);
  assert.match(t.access_token, ACCESS_TOKEN_RE);
  return t.access_token;
}

// The code flow for `app` (a plugin: no PKCE, secret in the body) or `mcp` (public,
// PKCE, resource indicator). Resolves with the token response body.
async function codeTokens(c, { resource } = {}) {
  const extra = [];
  let verifier;
  let redirect = pluginCallback();
  let placement = 'form';
  if (c.public) {
    const p = pkce();
    remember(p.verifier);
    verifier = p.verifier;
    extra.push(['code_challenge', p.challenge], ['code_challenge_method', 'S256']);
    redirect = MCP_CALLBACK;
    placement = 'public';
  }
  if (resource !== undefined) extra.push(['resource', resource]);
  const code = await browser.code([
    ['response_type', 'code'], ['client_id', c.client_id], ['redirect_uri', redirect],
    ['scope', 'todo.read'], ['state', newState()], ...extra,
  ], { user: USER });
  const res = await exchangeCode(issuer, placement, c, { code, redirectUri: redirect, verifier });
  return assertTokenPair(res, { scope: 'todo.read', seen });
}

async function assertInactive(token, message) {
  const r = await introspect(token);
  assert.deepEqual(r, { active: false }, message);
}

before(async () => {
  pa = createPlugauth();
  addUser(pa, USER);
  rs = pa.addClient({ name: 'resource-server' });
  other = pa.addClient({ name: 'other-client' });
  // client_credentials: a ChatGPT client may not use it (client add --grant).
  machine = pa.addClient({ name: 'machine', grants: ['client_credentials'] });
  app = addChatgptClient(pa, 'plugin');
  mcp = addMcpClient(pa, 'mcp-app');
  mcp.public = true;
  for (const c of [rs, other, app, machine]) remember(c.client_secret);
  issuer = await startWithIssuer(pa);
  browser = new Browser(issuer, seen);
  // Every test but the first (which checks it field by field) uses the discovered
  // metadata: oauth4webapi finds the endpoints there.
  const res = await oauth.discoveryRequest(new URL(issuer), { algorithm: 'oauth2', ...insecure });
  as = await oauth.processDiscoveryResponse(new URL(issuer), res);
});

after(async () => {
  await pa?.cleanup();
});

// --- discovery ------------------------------------------------------------------------

test('discovery_rfc8414_metadata_accepted_by_oauth4webapi', async () => {
  const res = await oauth.discoveryRequest(new URL(issuer), { algorithm: 'oauth2', ...insecure });
  assert.equal(new URL(res.url).pathname, '/.well-known/oauth-authorization-server');
  const md = await oauth.processDiscoveryResponse(new URL(issuer), res);
  assert.equal(md.issuer, issuer, 'the issuer exactly as configured');
  assert.equal(md.authorization_endpoint, `${issuer}/oauth/authorize`);
  assert.equal(md.token_endpoint, `${issuer}/oauth/token`);
  assert.equal(md.revocation_endpoint, `${issuer}/oauth/revoke`);
  assert.equal(md.introspection_endpoint, `${issuer}/oauth/introspect`);
  assert.deepEqual(md.response_types_supported, ['code']);
  assert.deepEqual(md.response_modes_supported, ['query']);
  assert.deepEqual(md.grant_types_supported, ['authorization_code', 'refresh_token', 'client_credentials']);
  assert.deepEqual(md.code_challenge_methods_supported, ['S256']);
  assert.deepEqual(md.token_endpoint_auth_methods_supported,
    ['client_secret_basic', 'client_secret_post', 'none']);
  assert.deepEqual(md.revocation_endpoint_auth_methods_supported,
    ['client_secret_basic', 'client_secret_post', 'none']);
  assert.deepEqual(md.introspection_endpoint_auth_methods_supported,
    ['client_secret_basic', 'client_secret_post']);
  assert.deepEqual(md.scopes_supported, ['todo.read', 'todo.write']);
  assert.equal(md.authorization_response_iss_parameter_supported, true);
  assert.ok(!('registration_endpoint' in md), `registration is closed by default: ${JSON.stringify(md)}`);
});

test('discovery_issuer_mismatch_rejected_by_oauth4webapi', async () => {
  // Asked under another name (the default issuer), the document must not validate.
  const res = await fetch(`${issuer}/.well-known/oauth-authorization-server`);
  await assert.rejects(oauth.processDiscoveryResponse(new URL('http://127.0.0.1:8080'), res),
    (err) => err instanceof oauth.OperationProcessingError && /issuer/.test(err.message));
});

test('openid_configuration_serves_the_same_metadata', async () => {
  // MCP clients that try OpenID Connect discovery first find the same document there.
  const res = await oauth.discoveryRequest(new URL(issuer), { algorithm: 'oidc', ...insecure });
  assert.equal(new URL(res.url).pathname, '/.well-known/openid-configuration');
  const md = await oauth.processDiscoveryResponse(new URL(issuer), res);
  const as = await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json();
  assert.deepEqual(md, as);
  assert.ok(!md.scopes_supported.includes('openid'), 'no OIDC scopes: plugauth is not an OpenID provider');
});

test('metadata_documents_are_public_cached_json', async () => {
  for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration',
    '/.well-known/oauth-protected-resource']) {
    const res = await fetch(`${issuer}${path}`);
    const text = await res.text();
    const d = { status: res.status, headers: res.headers, text };
    assert.equal(res.status, 200, describeResponse(d));
    assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/i, describeResponse(d));
    assert.equal(res.headers.get('cache-control'), 'public, max-age=300', describeResponse(d));
    assert.ok(JSON.parse(text) && typeof JSON.parse(text) === 'object', describeResponse(d));
    const wrong = await fetch(`${issuer}${path}`, { method: 'POST' });
    await wrong.arrayBuffer();
    assert.equal(wrong.status, 405, `POST ${path}`);
  }
});

test('protected_resource_rfc9728_metadata_accepted_by_oauth4webapi', async () => {
  const res = await oauth.resourceDiscoveryRequest(new URL(issuer), insecure);
  assert.equal(new URL(res.url).pathname, '/.well-known/oauth-protected-resource');
  const pr = await oauth.processResourceDiscoveryResponse(new URL(issuer), res);
  assert.deepEqual(pr, {
    resource: issuer,
    authorization_servers: [issuer],
    scopes_supported: ['todo.read', 'todo.write'],
    bearer_methods_supported: ['header'],
    resource_name: '127.0.0.1', // [service] name as init wrote it: the issuer's host
  });
});

// --- introspection ----------------------------------------------------------------------

test('introspect_client_credentials_token_active_with_fields', async () => {
  const before = Math.floor(Date.now() / 1000);
  const token = await clientToken(machine, 'todo.write');
  const r = await introspect(token);
  assert.equal(r.active, true, JSON.stringify(r));
  assert.equal(r.scope, 'todo.write');
  assert.equal(r.client_id, machine.client_id);
  assert.equal(r.token_type, 'bearer');
  assert.equal(r.sub, machine.client_id, 'no user: the subject is the client');
  assert.equal(r.iss, issuer);
  assert.equal(r.exp - r.iat, 3600);
  assert.ok(r.iat >= before - 1 && r.iat <= Math.floor(Date.now() / 1000) + 1, `iat ${r.iat}`);
  assert.ok(!('username' in r), JSON.stringify(r));
  assert.ok(!('aud' in r), JSON.stringify(r));
  // client_secret_post works too.
  assert.equal((await introspect(token, rs, secretPost)).active, true);
});

test('introspect_user_tokens_of_code_flow', async () => {
  const t = await codeTokens(app);
  const a = await introspect(t.access_token);
  assert.equal(a.active, true, JSON.stringify(a));
  assert.equal(a.username, USER);
  assert.equal(a.sub, USER);
  assert.equal(a.client_id, app.client_id);
  assert.equal(a.token_type, 'bearer');
  assert.equal(a.scope, 'todo.read');
  const rt = await introspect(t.refresh_token);
  assert.equal(rt.active, true, JSON.stringify(rt));
  assert.equal(rt.token_type, 'refresh_token');
  assert.equal(rt.username, USER);
  assert.equal(rt.exp - rt.iat, 2592000);
});

test('introspect_audience_from_resource_indicator', async () => {
  const resource = `${issuer}/api/`;
  const t = await codeTokens(mcp, { resource });
  const a = await introspect(t.access_token);
  assert.equal(a.active, true, JSON.stringify(a));
  assert.equal(a.aud, resource);
  assert.equal(a.client_id, mcp.client_id);
});

test('introspect_unknown_or_malformed_token_inactive_only', async () => {
  for (const token of [`pa_at_${fakeToken()}`, `pa_rt_${fakeToken()}`, 'x', 'ü%00 not a token',
    fakeSecret(), 'a'.repeat(2000)]) {
    await assertInactive(token, `token ${token.slice(0, 20)}`);
  }
});

test('introspect_public_client_refused_invalid_client', async () => {
  const token = await clientToken(machine);
  const res = await oauth.introspectionRequest(as, o4w(mcp), oauth.None(), token, insecure);
  await assert.rejects(oauth.processIntrospectionResponse(as, o4w(mcp), res), (err) => {
    assert.ok(err instanceof oauth.ResponseBodyError, String(err));
    assert.equal(err.status, 401);
    assert.equal(err.error, 'invalid_client');
    return true;
  });
});

test('introspect_wrong_secret_basic_401_with_challenge', async () => {
  const wrong = fakeSecret();
  remember(wrong);
  const res = await post('/oauth/introspect', {
    body: { token: 'x' }, authorization: basic(rs.client_id, wrong),
  });
  assert.equal(res.status, 401, describeResponse(res));
  assert.equal(res.json?.error, 'invalid_client', describeResponse(res));
  assert.match(res.headers.get('www-authenticate') ?? '', /^Basic\b/i, describeResponse(res));
  assert.match(res.headers.get('cache-control') ?? '', /\bno-store\b/i, describeResponse(res));
  // The strict client sees the challenge too.
  const r2 = await oauth.introspectionRequest(as, o4w(rs), oauth.ClientSecretBasic(wrong), 'x', insecure);
  await assert.rejects(oauth.processIntrospectionResponse(as, o4w(rs), r2),
    oauth.WWWAuthenticateChallengeError);
});

test('introspect_wire_details', async () => {
  // No client authentication at all.
  let res = await post('/oauth/introspect', { body: { token: 'x' } });
  assert.equal(res.status, 401, describeResponse(res));
  assert.equal(res.json?.error, 'invalid_client', describeResponse(res));
  // Wrong secret in the body: 401, no Basic challenge needed.
  const wrong = fakeSecret();
  remember(wrong);
  res = await post('/oauth/introspect', { body: { token: 'x', client_id: rs.client_id, client_secret: wrong } });
  assert.equal(res.status, 401, describeResponse(res));
  assert.equal(res.json?.error, 'invalid_client', describeResponse(res));
  // token missing.
  res = await post('/oauth/introspect', { body: {}, authorization: basic(rs.client_id, rs.client_secret) });
  assert.equal(res.status, 400, describeResponse(res));
  assert.equal(res.json?.error, 'invalid_request', describeResponse(res));
  // Success: JSON, no-store.
  const token = await clientToken(machine);
  res = await post('/oauth/introspect', {
    body: { token, token_type_hint: 'refresh_token' }, authorization: basic(rs.client_id, rs.client_secret),
  });
  assert.equal(res.status, 200, describeResponse(res));
  assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/i, describeResponse(res));
  assert.match(res.headers.get('cache-control') ?? '', /\bno-store\b/i, describeResponse(res));
  assert.equal(res.json.active, true, 'token_type_hint does not change the answer');
  // Inactive: no-store as well, and nothing but active.
  res = await post('/oauth/introspect', { body: { token: 'nope' }, authorization: basic(rs.client_id, rs.client_secret) });
  assert.equal(res.status, 200, describeResponse(res));
  assert.equal(res.text, '{"active":false}');
  assert.match(res.headers.get('cache-control') ?? '', /\bno-store\b/i, describeResponse(res));
  // A JSON body works as at the token endpoint.
  res = await post('/oauth/introspect', {
    contentType: 'application/json',
    body: JSON.stringify({ token, client_id: rs.client_id, client_secret: rs.client_secret }),
  });
  assert.equal(res.status, 200, describeResponse(res));
  assert.equal(res.json.active, true, describeResponse(res));
  // GET is not allowed.
  const g = await fetch(`${issuer}/oauth/introspect`);
  await g.arrayBuffer();
  assert.equal(g.status, 405);
});

// --- revocation ---------------------------------------------------------------------------

test('revoke_access_token_then_introspection_inactive', async () => {
  const token = await clientToken(machine);
  assert.equal((await introspect(token)).active, true);
  await revoke(token, machine);
  await assertInactive(token, 'a revoked access token is inactive, with no other member');
  // Revoking it again still answers 200.
  await revoke(token, machine, secretPost);
});

test('revoke_refresh_token_revokes_family', async () => {
  const first = await codeTokens(app);
  // Refresh once: the family now has two access tokens and a rotated refresh token.
  const res = await refresh(issuer, 'form', app, first.refresh_token);
  const second = assertTokenPair(res, { seen });
  assert.equal((await introspect(second.access_token)).active, true);

  await revoke(second.refresh_token, app);

  const again = await refresh(issuer, 'form', app, second.refresh_token);
  assert.equal(again.status, 400, describeResponse(again));
  assert.equal(again.json?.error, 'invalid_grant', describeResponse(again));
  for (const t of [first.access_token, second.access_token, second.refresh_token, first.refresh_token]) {
    await assertInactive(t, 'every token of the family is inactive');
  }
});

test('revoke_access_token_leaves_refresh_token', async () => {
  const t = await codeTokens(app);
  await revoke(t.access_token, app, secretPost);
  await assertInactive(t.access_token);
  assert.equal((await introspect(t.refresh_token)).active, true, 'the refresh token lives on');
  const res = await refresh(issuer, 'basic', app, t.refresh_token);
  assertTokenPair(res, { seen });
});

test('revoke_token_of_other_client_is_not_revoked_but_answers_200', async () => {
  const token = await clientToken(machine);
  const t = await codeTokens(app);
  await revoke(token, other);
  await revoke(t.refresh_token, other, secretPost);
  const res = await post('/oauth/revoke', {
    body: { token: t.access_token }, authorization: basic(other.client_id, other.client_secret),
  });
  assert.equal(res.status, 200, describeResponse(res));
  assert.equal(res.text, '');
  assert.equal((await introspect(token)).active, true, 'another client cannot revoke it');
  assert.equal((await introspect(t.access_token)).active, true);
  assert.equal((await introspect(t.refresh_token)).active, true);
});

test('revoke_public_client_own_refresh_token', async () => {
  const t = await codeTokens(mcp);
  await revoke(t.refresh_token, mcp, () => oauth.None());
  await assertInactive(t.access_token);
  const res = await refresh(issuer, 'public', mcp, t.refresh_token);
  assert.equal(res.status, 400, describeResponse(res));
  assert.equal(res.json?.error, 'invalid_grant', describeResponse(res));
});

test('revoke_unknown_token_answers_200_empty', async () => {
  await revoke(`pa_at_${fakeToken()}`, app);
  const res = await post('/oauth/revoke', {
    body: { token: 'not-a-token', token_type_hint: 'access_token' },
    authorization: basic(app.client_id, app.client_secret),
  });
  assert.equal(res.status, 200, describeResponse(res));
  assert.equal(res.text, '');
});

test('revoke_client_authentication_errors', async () => {
  const wrong = fakeSecret();
  remember(wrong);
  const token = await clientToken(machine);
  // Wrong secret (Basic): 401 with the challenge, token untouched.
  let res = await post('/oauth/revoke', { body: { token }, authorization: basic(app.client_id, wrong) });
  assert.equal(res.status, 401, describeResponse(res));
  assert.equal(res.json?.error, 'invalid_client', describeResponse(res));
  assert.match(res.headers.get('www-authenticate') ?? '', /^Basic\b/i, describeResponse(res));
  assert.match(res.headers.get('cache-control') ?? '', /\bno-store\b/i, describeResponse(res));
  // Wrong secret in the body.
  res = await post('/oauth/revoke', { body: { token, client_id: app.client_id, client_secret: wrong } });
  assert.equal(res.status, 401, describeResponse(res));
  // No client at all.
  res = await post('/oauth/revoke', { body: { token } });
  assert.equal(res.status, 401, describeResponse(res));
  assert.equal(res.json?.error, 'invalid_client', describeResponse(res));
  // A confidential client may not pass as public by leaving its secret out.
  res = await post('/oauth/revoke', { body: { token, client_id: app.client_id } });
  assert.equal(res.status, 401, describeResponse(res));
  assert.equal((await introspect(token)).active, true, 'refused revocations change nothing');
  // token missing.
  res = await post('/oauth/revoke', { body: {}, authorization: basic(app.client_id, app.client_secret) });
  assert.equal(res.status, 400, describeResponse(res));
  assert.equal(res.json?.error, 'invalid_request', describeResponse(res));
  // oauth4webapi surfaces the 401 challenge.
  const r2 = await oauth.revocationRequest(as, o4w(app), oauth.ClientSecretBasic(wrong), token, insecure);
  await assert.rejects(oauth.processRevocationResponse(r2), oauth.WWWAuthenticateChallengeError);
});

test('revocations_are_recorded_as_events_and_log_has_no_secrets', async () => {
  assert.equal(await pa.stop(), 0, `log:\n${pa.log}`);
  const leaked = [...seen].filter((s) => pa.log.includes(s));
  assert.deepEqual(leaked, []);
  const ev = pa.cli(['events', '--client', other.client_id]);
  assert.equal(ev.status, 0, ev.stderr);
  assert.match(ev.stdout, /revoke\s+denied\s+token_of_other_client/, ev.stdout);
  const ev2 = pa.cli(['events', '--client', app.client_id]);
  assert.equal(ev2.status, 0, ev2.stderr);
  assert.match(ev2.stdout, /revoke\s+ok\s+refresh_family_revoked/, ev2.stdout);
  assert.match(ev2.stdout, /revoke\s+ok\s+access_revoked/, ev2.stdout);
  assert.match(ev2.stdout, /revoke\s+ok\s+token_unknown/, ev2.stdout);
});
