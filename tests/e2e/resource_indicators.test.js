// RFC 8707 resource indicators and the token's audience. A token may only be bound to a
// resource plugauth issues tokens for: the gateway (named by the issuer, or the issuer
// and [gateway] path) or one of [oauth] resources (an MCP server that checks tokens
// itself). Anything else is invalid_target, at the authorization request and at the
// token endpoint; a token request may narrow an unbound grant to a resource, never move
// a bound one elsewhere. The gateway refuses a token bound to another resource. RFC 9728
// metadata for the gateway is also served at the path-inserted well-known URL.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import * as oauth from 'oauth4webapi';

import { basic, describeResponse, form, postToken, readResponse } from './lib/http.js';
import {
  Browser, MCP_CALLBACK, PASSWORD, addMcpClient, addUser, assertTokenPair,
  authorizePath, exchangeCode, newState, pkce, refresh,
} from './lib/flow.js';
import { createPlugauth, startWithIssuer } from './lib/server.js';

const insecure = { [oauth.allowInsecureRequests]: true };
const USER = 'alice';
const MCP_SERVER = 'https://mcp.example.com/mcp';   // in [oauth] resources

let pa;
let issuer;
let gatewayResource;   // issuer + [gateway] path
let upstream;
let mcp;               // public MCP client (PKCE)
let machine;           // confidential, client_credentials
let rs;                // a confidential client that introspects
let browser;
const seen = new Set([PASSWORD]);

before(async () => {
  upstream = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ user: req.headers['x-plugauth-user'] ?? null }));
    });
  });
  await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  pa = createPlugauth();
  addUser(pa, USER);
  mcp = addMcpClient(pa, 'mcp-app');
  machine = pa.addClient({ name: 'machine', grants: ['client_credentials'] });
  rs = pa.addClient({ name: 'resource-server', grants: ['client_credentials'] });
  issuer = await startWithIssuer(pa, {
    PLUGAUTH_GATEWAY_UPSTREAM: `http://127.0.0.1:${upstream.address().port}`,
    PLUGAUTH_OAUTH_RESOURCES: MCP_SERVER,
  });
  gatewayResource = `${issuer}/api/`;
  browser = new Browser(issuer, seen);
});

after(async () => {
  await pa?.cleanup();
  await new Promise((resolve) => (upstream ? upstream.close(resolve) : resolve()));
});

function authzParams(resource, p) {
  const q = [
    ['response_type', 'code'], ['client_id', mcp.client_id], ['redirect_uri', MCP_CALLBACK],
    ['scope', 'todo.read'], ['state', newState()],
    ['code_challenge', p.challenge], ['code_challenge_method', 'S256'],
  ];
  if (resource !== undefined) q.push(['resource', resource]);
  return q;
}

// A code for the MCP client, bound to `resource` (or to none); resolves {code, verifier}.
async function mcpCode(resource) {
  const p = pkce();
  const code = await browser.code(authzParams(resource, p), { user: USER });
  return { code, verifier: p.verifier };
}

async function exchange({ code, verifier }, extra = {}) {
  return exchangeCode(issuer, 'public', mcp, { code, redirectUri: MCP_CALLBACK, verifier, extra });
}

async function introspect(token) {
  const r = await fetch(`${issuer}/oauth/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(rs.client_id, rs.client_secret) },
    body: form({ token }),
  });
  return r.json();
}

async function api(token) {
  return readResponse(await fetch(`${issuer}/api/todos`, { headers: { authorization: `Bearer ${token}` } }));
}

function assertInvalidTarget(res, what) {
  assert.equal(res.status, 400, `${what}: ${describeResponse(res)}`);
  assert.equal(res.json?.error, 'invalid_target', `${what}: ${describeResponse(res)}`);
}

test('authorize_refuses_a_resource_it_does_not_issue_for', async () => {
  for (const resource of ['https://evil.example/api/', `${issuer}/other/`, `${issuer}/api/x`, 'not a url']) {
    const state = newState();
    const q = authzParams(resource, pkce()).map(([k, v]) => (k === 'state' ? [k, state] : [k, v]));
    const res = await browser.get(authorizePath(q));
    assert.equal(res.status, 302, `${resource}: ${describeResponse(res)}`);
    const back = new URL(res.location);
    assert.equal(`${back.origin}${back.pathname}`, MCP_CALLBACK);
    assert.equal(back.searchParams.get('error'), 'invalid_target', res.location);
    assert.equal(back.searchParams.get('state'), state);
    assert.equal(back.searchParams.get('iss'), issuer);
    assert.equal(back.searchParams.get('code'), null);
  }
});

test('code_bound_to_the_gateway_reaches_the_api_and_introspects_with_aud', async () => {
  // Issued through oauth4webapi, resource sent on authorize and on the token request.
  const as = {
    issuer,
    token_endpoint: `${issuer}/oauth/token`,
  };
  const client = { client_id: mcp.client_id, token_endpoint_auth_method: 'none' };
  const c = await mcpCode(gatewayResource);
  const cb = new URL(`${MCP_CALLBACK}?code=${encodeURIComponent(c.code)}&iss=${encodeURIComponent(issuer)}`);
  const params = oauth.validateAuthResponse(as, client, cb, oauth.skipStateCheck);
  const res = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, MCP_CALLBACK,
    c.verifier, { additionalParameters: { resource: gatewayResource }, ...insecure });
  const t = await oauth.processAuthorizationCodeResponse(as, client, res);
  seen.add(t.access_token);
  const a = await introspect(t.access_token);
  assert.equal(a.active, true, JSON.stringify(a));
  assert.equal(a.aud, gatewayResource);
  const r = await api(t.access_token);
  assert.equal(r.status, 200, describeResponse(r));
});

test('token_request_naming_another_resource_than_the_code_is_invalid_target', async () => {
  const c = await mcpCode(gatewayResource);
  assertInvalidTarget(await exchange(c, { resource: MCP_SERVER }), 'other known resource');
  // The refused attempt spent the code.
  const again = await exchange(c, { resource: gatewayResource });
  assert.equal(again.json?.error, 'invalid_grant', describeResponse(again));
  const d = await mcpCode(gatewayResource);
  assertInvalidTarget(await exchange(d, { resource: 'https://evil.example/' }), 'unknown resource');
});

test('token_request_may_narrow_an_unbound_code_and_the_gateway_refuses_another_audience', async () => {
  const c = await mcpCode(undefined);
  const pair = assertTokenPair(await exchange(c, { resource: MCP_SERVER }), { seen });
  const a = await introspect(pair.access_token);
  assert.equal(a.aud, MCP_SERVER);
  // A token for the MCP server is not one for the gateway.
  const r = await api(pair.access_token);
  assert.equal(r.status, 401, describeResponse(r));
  assert.match(r.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  // The refresh token stays bound to the grant (no audience): a refresh without
  // resource gives an access token without audience, which the gateway takes.
  const next = assertTokenPair(await refresh(issuer, 'public', mcp, pair.refresh_token), { seen });
  const n = await introspect(next.access_token);
  assert.equal(n.aud, undefined, JSON.stringify(n));
  assert.equal((await api(next.access_token)).status, 200);
});

test('refresh_cannot_move_a_bound_grant_to_another_resource', async () => {
  const c = await mcpCode(gatewayResource);
  const pair = assertTokenPair(await exchange(c), { seen });
  assert.equal((await introspect(pair.access_token)).aud, gatewayResource);
  assertInvalidTarget(await refresh(issuer, 'public', mcp, pair.refresh_token, { resource: MCP_SERVER }),
    'refresh to another resource');
  assertInvalidTarget(await refresh(issuer, 'public', mcp, pair.refresh_token, { resource: 'https://evil.example/' }),
    'refresh to an unknown resource');
  // The same resource (trailing '/' aside) is fine, and the token was not spent above.
  const next = assertTokenPair(await refresh(issuer, 'public', mcp, pair.refresh_token,
    { resource: gatewayResource.replace(/\/$/, '') }), { seen });
  assert.equal((await introspect(next.access_token)).aud, gatewayResource);
});

test('client_credentials_resource_checked_and_bound', async () => {
  const cc = (resource) => postToken(issuer, {
    body: form({ grant_type: 'client_credentials', resource }),
    authorization: basic(machine.client_id, machine.client_secret),
  });
  const bad = await readResponse(await fetch(`${issuer}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(machine.client_id, machine.client_secret) },
    body: form({ grant_type: 'client_credentials', resource: 'https://evil.example/' }),
  }));
  assertInvalidTarget(bad, 'client_credentials, unknown resource');
  const mcpTok = await cc(MCP_SERVER);
  assert.equal(mcpTok.status, 200, describeResponse(mcpTok));
  assert.equal((await introspect(mcpTok.json.access_token)).aud, MCP_SERVER);
  assert.equal((await api(mcpTok.json.access_token)).status, 401);
  const gwTok = await cc(issuer);
  assert.equal(gwTok.status, 200, describeResponse(gwTok));
  assert.equal((await api(gwTok.json.access_token)).status, 200);
});

test('protected_resource_metadata_at_the_path_inserted_url', async () => {
  const rid = new URL(gatewayResource);
  const res = await oauth.resourceDiscoveryRequest(rid, insecure);
  assert.equal(new URL(res.url).pathname, '/.well-known/oauth-protected-resource/api/');
  const pr = await oauth.processResourceDiscoveryResponse(rid, res);
  assert.equal(pr.resource, gatewayResource);
  assert.deepEqual(pr.authorization_servers, [issuer]);
  assert.deepEqual(pr.scopes_supported, ['todo.read', 'todo.write']);
  // An MCP server under the gateway path finds the same document; a longer name does not.
  const under = await fetch(`${issuer}/.well-known/oauth-protected-resource/api/mcp`);
  assert.equal((await under.json()).resource, gatewayResource);
  const longer = await fetch(`${issuer}/.well-known/oauth-protected-resource/apix`);
  await longer.arrayBuffer();
  assert.equal(longer.status, 404);
});

test('bad_oauth_resources_value_stops_start_up', () => {
  for (const v of ['http://mcp.example.com/mcp', 'https://mcp.example.com/mcp#x', 'ftp://x.example/', 'https://u:p@x.example/']) {
    const r = pa.cli(['user', 'list'], { env: { PLUGAUTH_OAUTH_RESOURCES: v } });
    assert.notEqual(r.status, 0, `${v}: ${r.stdout}`);
    assert.match(r.stderr, /\[oauth\] resources|PLUGAUTH_OAUTH_RESOURCES/, `${v}: ${r.stderr}`);
  }
});
