// A strict, spec-checking OAuth client (oauth4webapi) against the token endpoint:
// client_credentials with client_secret_basic and client_secret_post (RFC 6749 §4.4).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as oauth from 'oauth4webapi';

import { ACCESS_TOKEN_RE, fakeSecret } from './lib/http.js';
import { ISSUER, createPlugauth } from './lib/server.js';

let pa;
let as;
let client;
let secret;
const seen = new Set();

// The server is http on loopback: oauth4webapi refuses http unless told.
const insecure = { [oauth.allowInsecureRequests]: true };

before(async () => {
  pa = createPlugauth();
  const c = pa.addClient({ name: 'oauth4webapi' });
  secret = c.client_secret;
  seen.add(secret);
  const base = await pa.start();
  // Discovery (RFC 8414) comes later: describe the server by hand.
  as = { issuer: ISSUER, token_endpoint: `${base}/oauth/token` };
  client = { client_id: c.client_id };
});

after(async () => {
  await pa?.cleanup();
});

function checkTokens(result, scope) {
  assert.match(result.access_token, ACCESS_TOKEN_RE);
  assert.equal(result.token_type, 'bearer');
  assert.equal(result.expires_in, 3600);
  assert.equal(result.scope, scope);
  assert.equal(result.refresh_token, undefined);
  seen.add(result.access_token);
}

test('oauth4webapi_client_secret_basic', async () => {
  const res = await oauth.clientCredentialsGrantRequest(
    as, client, oauth.ClientSecretBasic(secret), new URLSearchParams(), insecure);
  checkTokens(await oauth.processClientCredentialsResponse(as, client, res), 'todo.read');
});

test('oauth4webapi_client_secret_post', async () => {
  const res = await oauth.clientCredentialsGrantRequest(
    as, client, oauth.ClientSecretPost(secret), new URLSearchParams(), insecure);
  checkTokens(await oauth.processClientCredentialsResponse(as, client, res), 'todo.read');
});

test('oauth4webapi_client_secret_basic_with_scope', async () => {
  const res = await oauth.clientCredentialsGrantRequest(
    as, client, oauth.ClientSecretBasic(secret),
    new URLSearchParams({ scope: 'todo.write' }), insecure);
  checkTokens(await oauth.processClientCredentialsResponse(as, client, res), 'todo.write');
});

test('oauth4webapi_wrong_secret_basic_gets_basic_challenge', async () => {
  const wrong = fakeSecret();
  seen.add(wrong);
  const res = await oauth.clientCredentialsGrantRequest(
    as, client, oauth.ClientSecretBasic(wrong), new URLSearchParams(), insecure);
  await assert.rejects(oauth.processClientCredentialsResponse(as, client, res), (err) => {
    assert.ok(err instanceof oauth.WWWAuthenticateChallengeError, String(err));
    assert.equal(err.status, 401);
    assert.equal(err.cause[0].scheme, 'basic');
    return true;
  });
});

test('oauth4webapi_wrong_secret_post_invalid_client', async () => {
  const wrong = fakeSecret();
  seen.add(wrong);
  const res = await oauth.clientCredentialsGrantRequest(
    as, client, oauth.ClientSecretPost(wrong), new URLSearchParams(), insecure);
  if (res.headers.has('www-authenticate')) {
    // A challenge is allowed here too; oauth4webapi then reports it first.
    await assert.rejects(oauth.processClientCredentialsResponse(as, client, res),
      oauth.WWWAuthenticateChallengeError);
    return;
  }
  await assert.rejects(oauth.processClientCredentialsResponse(as, client, res), (err) => {
    assert.ok(err instanceof oauth.ResponseBodyError, String(err));
    assert.equal(err.status, 401);
    assert.equal(err.error, 'invalid_client');
    return true;
  });
});

test('oauth4webapi_invalid_scope', async () => {
  const res = await oauth.clientCredentialsGrantRequest(
    as, client, oauth.ClientSecretBasic(secret),
    new URLSearchParams({ scope: 'no.such.scope' }), insecure);
  await assert.rejects(oauth.processClientCredentialsResponse(as, client, res), (err) => {
    assert.ok(err instanceof oauth.ResponseBodyError, String(err));
    assert.equal(err.status, 400);
    assert.equal(err.error, 'invalid_scope');
    return true;
  });
});

test('server_log_never_contains_tokens_or_secrets', async () => {
  assert.equal(await pa.stop(), 0, `log:\n${pa.log}`);
  const leaked = [...seen].filter((s) => pa.log.includes(s));
  assert.deepEqual(leaked, []);
});
