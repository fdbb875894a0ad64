// JWT access tokens (RFC 9068, docs/jwt.md) with [oauth] access_token_format = jwt: the
// npm `jose` library verifies them against /oauth/jwks.json as an MCP server would,
// before and after `plugauth keys rotate`; the gateway, /oauth/verify and introspection
// check them, refuse forgeries (tampered, alg none, HS256 keyed with the public key,
// unknown kid, expired, another audience) and see revocations (refresh reuse, RFC 7009,
// `token revoke --client`). Opaque tokens issued before the switch keep working.
//
// The expired and wrong-audience tokens are signed with the server's own private key,
// read from the database as an attacker who had stolen it could not: that shows the
// refusal comes from the claim check, not from the signature.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';

import {
  SignJWT, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair,
  jwtVerify,
} from 'jose';

import { basic, describeResponse, postToken, readResponse } from './lib/http.js';
import {
  ACCESS_RE, Browser, REFRESH_RE, addChatgptClient, addUser, exchangeCode, newState,
  pluginCallback, refresh, sleep,
} from './lib/flow.js';
import { ISSUER, createPlugauth, jsonLines } from './lib/server.js';
import { startUpstream } from './lib/upstream.js';

const RESOURCE = 'https://mcp.example/mcp';  // [oauth] resources: an MCP server of its own
const JWT_RE = /^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{86}$/;
const DEADLINE_MS = 10_000;
const POLL_MS = 50;

let up;
let pa;
let base;
let plugin;   // ChatGPT plugin client (code flow)
let cc;       // confidential client with client_credentials
let alice;
let opaqueBefore;  // an opaque token issued before the switch to jwt
const seen = new Set();  // every token the test got: none may reach the log

const env = (format) => ({
  PLUGAUTH_GATEWAY_UPSTREAM: up.url,
  PLUGAUTH_OAUTH_ACCESS_TOKEN_FORMAT: format,
  PLUGAUTH_OAUTH_RESOURCES: RESOURCE,
  PLUGAUTH_OAUTH_REFRESH_REUSE_GRACE: '0',
});

async function ccToken(extra = {}) {
  const res = await postToken(base, {
    body: { grant_type: 'client_credentials', ...extra },
    authorization: basic(cc.client_id, cc.client_secret),
  });
  assert.equal(res.status, 200, describeResponse(res));
  seen.add(res.json.access_token);
  return res.json.access_token;
}

before(async () => {
  up = await startUpstream();
  pa = createPlugauth();
  addUser(pa, 'alice');
  plugin = addChatgptClient(pa);
  cc = pa.addClient({ name: 'cc', grants: ['client_credentials'] });
  base = await pa.start({ env: env('opaque') });
  opaqueBefore = await ccToken();
  assert.match(opaqueBefore, ACCESS_RE);
  await pa.stop();
  base = await pa.start({ env: env('jwt') });
  alice = new Browser(base);
});

after(async () => {
  await pa?.cleanup();
  await up?.close();
});

async function call(path, token, init = {}) {
  const res = await fetch(`${base}${path}`, {
    ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) },
  });
  return readResponse(res);
}
const gateway = (token) => call('/api/items', token);
const verify = (token) => call('/oauth/verify', token);

// jose, as an MCP server verifying the token itself; a fresh JWK Set each time, so that
// a key published since is found.
function joseVerify(token, audience = ISSUER) {
  const jwks = createRemoteJWKSet(new URL(`${base}/oauth/jwks.json`));
  return jwtVerify(token, jwks, {
    issuer: ISSUER, audience, typ: 'at+jwt', algorithms: ['ES256'],
  });
}

async function assertInvalidToken(token, what, reason) {
  for (const [where, check] of [['gateway', gateway], ['verify', verify]]) {
    const res = await check(token);
    assert.equal(res.status, 401, `${what} at ${where}: ${describeResponse(res)}`);
    assert.equal(res.json?.error, 'invalid_token', `${what} at ${where}: ${describeResponse(res)}`);
    assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/,
      `${what} at ${where}`);
    if (reason) assert.match(res.json?.error_description ?? '', reason, `${what} at ${where}`);
  }
}

// Polls check() until it returns true or the deadline passes.
async function until(check, what) {
  const end = Date.now() + DEADLINE_MS;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) assert.fail(`${what}: not within ${DEADLINE_MS} ms`);
    await sleep(POLL_MS);
  }
}

// POST /oauth/introspect as the cc client.
async function introspectJson(token) {
  const res = await fetch(`${base}/oauth/introspect`, {
    method: 'POST',
    headers: {
      authorization: basic(cc.client_id, cc.client_secret),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token }).toString(),
  });
  const r = await readResponse(res);
  assert.equal(r.status, 200, describeResponse(r));
  return r.json;
}

// A code-flow grant of alice to the plugin: {access_token, refresh_token, ...}.
async function codeGrant() {
  const redirect = pluginCallback();
  const code = await alice.code([
    ['response_type', 'code'], ['client_id', plugin.client_id], ['redirect_uri', redirect],
    ['scope', ''], ['state', newState()],
  ], { user: 'alice' });
  const res = await exchangeCode(base, 'form', plugin, { code, redirectUri: redirect });
  assert.equal(res.status, 200, describeResponse(res));
  seen.add(res.json.access_token);
  seen.add(res.json.refresh_token);
  return res.json;
}

// The server's signing key, from the database (PKCS#8 DER), and its kid.
function serverKey() {
  const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', pa.db,
    'SELECT kid, hex(private_key) FROM signing_keys WHERE retired_at = 0'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const [kid, hex] = r.stdout.trim().split('|');
  const key = createPrivateKey({ key: Buffer.from(hex, 'hex'), format: 'der', type: 'pkcs8' });
  return { kid, key };
}

function signWith({ kid, key }, claims, header = {}) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid, ...header })
    .sign(key);
}

// The claims a client_credentials token of cc has, lasting `ttl` seconds from now.
function ccClaims(over = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: ISSUER, sub: cc.client_id, aud: ISSUER, exp: now + 600, iat: now,
    jti: `pa_cc_${randomBytes(32).toString('base64url')}`, client_id: cc.client_id,
    scope: 'todo.read', ...over,
  };
}

test('jwks_and_metadata_publish_public_keys_only', async () => {
  const meta = await readResponse(await fetch(`${base}/.well-known/oauth-authorization-server`));
  assert.equal(meta.json?.jwks_uri, `${ISSUER}/oauth/jwks.json`, describeResponse(meta));
  const res = await readResponse(await fetch(`${base}/oauth/jwks.json`));
  assert.equal(res.status, 200, describeResponse(res));
  assert.match(res.headers.get('cache-control') ?? '', /\bpublic\b.*\bmax-age=\d+/);
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  assert.ok(Array.isArray(res.json?.keys) && res.json.keys.length >= 1, describeResponse(res));
  for (const k of res.json.keys) {
    assert.deepEqual(Object.keys(k).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    assert.equal(k.alg, 'ES256');
    assert.equal(k.crv, 'P-256');
  }
  assert.doesNotMatch(res.text, /"d"/, 'no private key part');
});

test('client_credentials_jwt_verifies_with_jose_and_at_gateway', async () => {
  const tok = await ccToken();
  assert.match(tok, JWT_RE);
  const hdr = decodeProtectedHeader(tok);
  assert.equal(hdr.alg, 'ES256');
  assert.equal(hdr.typ, 'at+jwt');
  const { payload } = await joseVerify(tok);
  assert.equal(payload.iss, ISSUER);
  assert.equal(payload.sub, cc.client_id, 'RFC 9068 §2.2: sub is the client without a user');
  assert.equal(payload.aud, ISSUER);
  assert.equal(payload.client_id, cc.client_id);
  assert.equal(payload.scope, 'todo.read');
  assert.equal(payload.exp - payload.iat, 3600);
  assert.equal(typeof payload.jti, 'string');
  const g = await gateway(tok);
  assert.equal(g.status, 200, describeResponse(g));
  const v = await verify(tok);
  assert.equal(v.status, 204, describeResponse(v));
  assert.equal(v.headers.get('x-plugauth-client'), cc.client_id);
  assert.equal(v.headers.get('x-plugauth-grant'), 'client_credentials');
});

test('opaque_token_from_before_the_switch_still_accepted', async () => {
  const g = await gateway(opaqueBefore);
  assert.equal(g.status, 200, describeResponse(g));
});

test('code_flow_jwt_names_the_user_refresh_token_stays_opaque', async () => {
  const t = await codeGrant();
  assert.match(t.access_token, JWT_RE);
  assert.match(t.refresh_token, REFRESH_RE);
  const { payload } = await joseVerify(t.access_token);
  assert.equal(payload.sub, 'alice');
  assert.equal(payload.client_id, plugin.client_id);
  const v = await verify(t.access_token);
  assert.equal(v.status, 204, describeResponse(v));
  assert.equal(v.headers.get('x-plugauth-user'), 'alice');
  const i = await introspectJson(t.access_token);
  assert.equal(i.active, true);
  assert.equal(i.username, 'alice');
  assert.equal(i.client_id, plugin.client_id);
  // Refreshed: a new JWT.
  const r = await refresh(base, 'form', plugin, t.refresh_token);
  assert.equal(r.status, 200, describeResponse(r));
  assert.match(r.json.access_token, JWT_RE);
  assert.equal((await gateway(r.json.access_token)).status, 200);
});

test('resource_jwt_has_its_audience_and_is_refused_at_the_gateway', async () => {
  const tok = await ccToken({ resource: RESOURCE });
  const { payload } = await joseVerify(tok, RESOURCE);
  assert.equal(payload.aud, RESOURCE);
  await assertInvalidToken(tok, 'token for another resource', /another resource/);
});

test('gateway_refuses_forged_jwts', async () => {
  const good = await ccToken();
  const [h, p, s] = good.split('.');
  const kid = decodeProtectedHeader(good).kid;
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const claims = decodeJwt(good);

  // Tampered: a wider scope in the payload, the signature kept.
  const wider = b64({ ...claims, scope: 'todo.read todo.write' });
  await assertInvalidToken(`${h}.${wider}.${s}`, 'tampered payload');
  // alg none, no signature.
  await assertInvalidToken(`${b64({ alg: 'none', typ: 'at+jwt', kid })}.${p}.`, 'alg none');
  // HS256 keyed with the public key as published (the algorithm confusion attack).
  const jwks = (await readResponse(await fetch(`${base}/oauth/jwks.json`))).json;
  const pub = jwks.keys.find((k) => k.kid === kid);
  for (const secret of [JSON.stringify(pub), Buffer.from(pub.x + pub.y)]) {
    const hs = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid })
      .sign(typeof secret === 'string' ? new TextEncoder().encode(secret) : secret);
    await assertInvalidToken(hs, 'HS256 with the public key');
  }
  // Signed by a key of our own, under an unknown kid and under the server's kid.
  const mine = await generateKeyPair('ES256');
  assert.ok(await exportJWK(mine.publicKey));
  await assertInvalidToken(await signWith({ kid: 'ffffffffffffffff', key: mine.privateKey },
    ccClaims()), 'unknown kid');
  await assertInvalidToken(await signWith({ kid, key: mine.privateKey }, ccClaims()),
    'another key under the server kid');
});

test('gateway_refuses_expired_and_wrong_audience_jwts_signed_with_the_real_key', async () => {
  const key = serverKey();
  // The control: the same recipe with good claims passes, so the refusals below come
  // from the claims.
  const control = await signWith(key, ccClaims());
  assert.equal((await gateway(control)).status, 200, 'control token signed with the server key');
  const now = Math.floor(Date.now() / 1000);
  await assertInvalidToken(await signWith(key, ccClaims({ iat: now - 4000, exp: now - 5 })),
    'expired', /expired/);
  await assertInvalidToken(await signWith(key, ccClaims({ aud: 'https://evil.example/' })),
    'wrong audience', /another resource/);
  await assertInvalidToken(await signWith(key, ccClaims({ iss: 'https://evil.example' })),
    'wrong issuer');
  await assertInvalidToken(await signWith(key, ccClaims(), { typ: 'JWT' }), 'typ JWT');
});

test('keys_rotate_old_token_still_verifies_new_token_has_new_kid', async () => {
  const old = await ccToken();
  const oldKid = decodeProtectedHeader(old).kid;
  const r = pa.cli(['keys', 'rotate']);
  assert.equal(r.status, 0, r.stderr);
  let fresh;
  await until(async () => {
    fresh = await ccToken();
    return decodeProtectedHeader(fresh).kid !== oldKid;
  }, 'a token signed by the new key');
  const newKid = decodeProtectedHeader(fresh).kid;
  const list = jsonLines(pa.cli(['keys', 'list', '--json']).stdout);
  assert.deepEqual(list.map((k) => [k.kid, k.state]).slice(0, 2),
    [[newKid, 'signing'], [oldKid, 'verifying']]);
  assert.doesNotMatch(JSON.stringify(list), /private|"d"/);
  // Both verify through the JWK Set and at the gateway; the old one was never used
  // before, so no cache answers for it.
  await joseVerify(fresh);
  await joseVerify(old);
  assert.equal((await gateway(old)).status, 200, 'old token after rotate');
  assert.equal((await gateway(fresh)).status, 200, 'new token');
});

test('refresh_reuse_revokes_code_flow_jwt_at_gateway_and_introspection', async () => {
  const t0 = await codeGrant();
  const r1 = await refresh(base, 'form', plugin, t0.refresh_token);
  assert.equal(r1.status, 200, describeResponse(r1));
  const t1 = r1.json.access_token;
  assert.equal((await gateway(t1)).status, 200);
  assert.equal((await gateway(t1)).status, 200);  // a cache hit
  const reuse = await refresh(base, 'form', plugin, t0.refresh_token);
  assert.equal(reuse.status, 400, describeResponse(reuse));
  await assertInvalidToken(t1, 'JWT of a revoked family', /revoked/);
  assert.equal((await introspectJson(t1)).active, false);
});

test('rfc7009_revoke_of_a_code_flow_jwt_is_refused_at_gateway', async () => {
  const t = await codeGrant();
  assert.equal((await gateway(t.access_token)).status, 200);
  const res = await fetch(`${base}/oauth/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      token: t.access_token, client_id: plugin.client_id, client_secret: plugin.client_secret,
    }).toString(),
  });
  assert.equal(res.status, 200);
  await assertInvalidToken(t.access_token, 'revoked JWT', /revoked/);
});

test('introspection_of_client_credentials_jwt_and_forgeries', async () => {
  const tok = await ccToken();
  const i = await introspectJson(tok);
  assert.equal(i.active, true);
  assert.equal(i.client_id, cc.client_id);
  assert.equal(i.sub, cc.client_id);
  assert.equal(i.scope, 'todo.read');
  assert.equal(i.iss, ISSUER);
  const [h, , s] = tok.split('.');
  const forged = `${h}.${Buffer.from(JSON.stringify(ccClaims({ scope: 'todo.write' }))).toString('base64url')}.${s}`;
  assert.deepEqual(await introspectJson(forged), { active: false });
});

// Last: it cuts the cc client off.
test('token_revoke_client_refuses_its_unstored_jwts', async () => {
  const tok = await ccToken();
  assert.equal((await gateway(tok)).status, 200);
  // iat has one-second resolution: a revocation in the token's own second covers it.
  const r = pa.cli(['token', 'revoke', '--client', cc.client_id]);
  assert.equal(r.status, 0, r.stderr);
  await until(async () => (await gateway(tok)).status === 401, 'revoked cc JWT refused');
  await assertInvalidToken(tok, 'cc JWT after token revoke --client', /revoked/);
  assert.equal((await introspectJson(tok)).active, false);
});

test('no_jwt_nor_signing_key_in_the_log', async () => {
  const key = spawnSync('sqlite3', ['-cmd', '.timeout 5000', pa.db,
    'SELECT hex(private_key) FROM signing_keys'], { encoding: 'utf8' });
  assert.equal(key.status, 0, key.stderr);
  const keys = key.stdout.trim().split('\n').filter(Boolean);
  assert.ok(keys.length >= 1 && seen.size >= 5, 'the test saw tokens and keys');
  assert.match(pa.log, /event=/, 'the server logged the run');
  for (const tok of seen) {
    for (const part of [tok, ...tok.split('.').filter((p) => p.length >= 40)]) {
      assert.ok(!pa.log.includes(part), 'a token (or a part of one) is in the server log');
    }
  }
  for (const hex of keys) {
    for (const v of [hex, hex.toLowerCase(), Buffer.from(hex, 'hex').toString('base64')]) {
      assert.ok(!pa.log.includes(v), 'a private key is in the server log');
    }
  }
});
