// Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document): with
// `[oauth] client_id_metadata_documents = on`, a client_id that is an https URL names a
// JSON document the server fetches, by the SSRF rules of docs/cimd.md. The documents
// come from a TLS server in this file (a throwaway CA given as client_metadata_ca_file);
// every refusal shows the error page, records its reason and stores nothing.

import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import { after, before, test } from 'node:test';

import {
  Browser, addUser, assertErrorPage, assertHtmlPage, hiddenValue, isConsentForm, isLoginForm,
  newState, pkce, theForm,
} from './lib/flow.js';
import { FORM, readResponse } from './lib/http.js';
import { createPlugauth, jsonLines } from './lib/server.js';
import { makeCert } from './lib/tls.js';

const CB = 'https://cimd.example/cb';
const TIMEOUT_MS = 2000;
const seen = new Set();

let docs;       // the document server
let docBase;    // https://127.0.0.1:<port>
let tls;        // its certificate (also the CA file)
const fetches = new Map();   // path -> how many times it was fetched
const held = new Set();      // responses the slow route holds open
let pa;
let base;

const url = (path) => `${docBase}${path}`;

// The documents, by path: [status, headers, body]. Bodies name their own URL.
function route(path) {
  const doc = (extra = {}) => JSON.stringify({
    client_id: url(path), client_name: 'Goody App', redirect_uris: [CB],
    token_endpoint_auth_method: 'none', ...extra,
  });
  const json = { 'content-type': 'application/json' };
  switch (path) {
    case '/good.json':
    case '/flow.json':
    case '/removed.json':
      return [200, { ...json, 'cache-control': 'public, max-age=3600' }, doc()];
    case '/phish.json':
      return [200, json, doc({ client_name: 'ChatGPT <b>official</b>' })];
    case '/redirect.json':
      return [302, { location: url('/good.json') }, ''];
    case '/big.json':
      return [200, json, doc({ software_id: 'x'.repeat(100), padding: 'y'.repeat(6000) })];
    case '/mismatch.json':
      return [200, json, doc({ client_id: url('/good.json') })];
    case '/text.json':
      return [200, { 'content-type': 'text/plain' }, doc()];
    case '/pkjwt.json':
      return [200, json, doc({ token_endpoint_auth_method: 'private_key_jwt' })];
    case '/secret.json':
      return [200, json, doc({ token_endpoint_auth_method: 'client_secret_basic' })];
    default:
      return [404, json, '{}'];
  }
}

before(async () => {
  pa = createPlugauth();
  tls = makeCert(pa.dir);
  docs = createServer({ cert: tls.pem, key: (await import('node:fs')).readFileSync(tls.key) },
    (req, res) => {
      const path = new URL(req.url, 'https://x').pathname;
      fetches.set(path, (fetches.get(path) ?? 0) + 1);
      if (path === '/slow.json') {   // answers only when the test ends
        held.add(res);
        return;
      }
      const [status, headers, body] = route(path);
      res.writeHead(status, headers);
      res.end(body);
    });
  await new Promise((r) => docs.listen(0, '127.0.0.1', r));
  docBase = `https://127.0.0.1:${docs.address().port}`;
  addUser(pa, 'alice');
  base = await pa.start({ env: cimdEnv({ PLUGAUTH_OAUTH_CLIENT_ID_METADATA_HOSTS: '127.0.0.1' }) });
});

after(async () => {
  for (const res of held) res.destroy();
  docs?.closeAllConnections?.();
  await new Promise((r) => (docs ? docs.close(r) : r()));
  if (pa) for (const s of seen) assert.ok(!pa.log.includes(s), 'a secret reached the server log');
  await pa?.cleanup();
});

function cimdEnv(extra = {}) {
  return {
    PLUGAUTH_OAUTH_CLIENT_ID_METADATA_DOCUMENTS: 'on',
    PLUGAUTH_OAUTH_CLIENT_METADATA_CA_FILE: tls.cert,
    PLUGAUTH_OAUTH_CLIENT_METADATA_TIMEOUT_MS: String(TIMEOUT_MS),
    PLUGAUTH_OAUTH_REGISTRATION_RATE: '1000',   // fetches count against it
    ...extra,
  };
}

function authzParams(clientId, challenge, state = newState()) {
  return {
    response_type: 'code', client_id: clientId, redirect_uri: CB, scope: 'todo.read',
    state, code_challenge: challenge, code_challenge_method: 'S256',
  };
}

const authorizeUrl = (b, params) => `${b}/oauth/authorize?${new URLSearchParams(params)}`;

function clients(p = pa) {
  const r = p.cli(['client', 'list', '--json']);
  assert.equal(r.status, 0, r.stderr);
  return jsonLines(r.stdout);
}

// The authorize event of the request with this state for client_id (a URL; events keep
// its first 256 bytes), polled until it is written.
async function eventReason(p, clientId, state) {
  const deadline = Date.now() + 5000;
  const kept = clientId.slice(0, 256);
  for (;;) {
    const r = p.cli(['events', '--json', '--state', state, '-n', '1000']);
    const ev = jsonLines(r.stdout)
      .filter((e) => e.kind === 'authorize' && e.client_id === kept && e.state === state);
    if (ev.length > 0) return ev[0];
    if (Date.now() > deadline) assert.fail(`no authorize event for ${clientId}: ${r.stdout}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

// An authorization with client_id that must end on the error page, store nothing and
// record `reason`.
async function refused(clientId, reason, { p = pa, b = base } = {}) {
  const { challenge } = pkce();
  const state = newState();
  const res = await new Browser(b).get(authorizeUrl(b, authzParams(clientId, challenge, state)));
  const status = { store_error: 503, cimd_busy: 503, cimd_rate_limited: 429 }[reason] ?? 400;
  assertErrorPage(res, status);
  assert.ok(!clients(p).some((c) => c.client_id === clientId), `${clientId} was stored`);
  const ev = await eventReason(p, clientId, state);
  assert.equal(ev.reason, reason, JSON.stringify(ev));
  return res;
}

test('metadata_advertises_client_id_metadata_document_supported', async () => {
  const md = await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json();
  assert.equal(md.client_id_metadata_document_supported, true);
});

test('cimd_code_flow_refresh_and_introspection_use_the_url', async () => {
  const id = url('/flow.json');
  const { verifier, challenge } = pkce();
  const state = newState();
  const browser = new Browser(base, seen);
  let res = await browser.get(authorizeUrl(base, authzParams(id, challenge, state)));
  assertHtmlPage(res, 200);
  assert.ok(isLoginForm(theForm(res)));
  res = await browser.submit(res, { username: 'alice', password: 'correct horse battery' });
  assertHtmlPage(res, 200);
  const f = theForm(res);
  assert.ok(isConsentForm(f));
  assert.equal(hiddenValue(f, 'client_id'), id);
  res = await browser.submit(res, {}, { button: { name: 'decision', value: 'allow' } });
  assert.equal(res.status, 303, 'a posted consent is answered 303');
  const loc = new URL(res.location);
  assert.ok(res.location.startsWith(`${CB}?`), res.location);
  assert.equal(loc.searchParams.get('state'), state);
  const code = loc.searchParams.get('code');

  // The token endpoint takes client_id=<URL>, no secret, PKCE.
  const tokRes = await readResponse(await fetch(`${base}/oauth/token`, {
    method: 'POST', headers: { 'content-type': FORM },
    body: new URLSearchParams({
      grant_type: 'authorization_code', code, redirect_uri: CB, code_verifier: verifier,
      client_id: id,
    }),
  }));
  assert.equal(tokRes.status, 200, tokRes.text);
  const tok = tokRes.json;
  seen.add(tok.access_token);
  seen.add(tok.refresh_token);

  const refRes = await readResponse(await fetch(`${base}/oauth/token`, {
    method: 'POST', headers: { 'content-type': FORM },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tok.refresh_token, client_id: id }),
  }));
  assert.equal(refRes.status, 200, refRes.text);
  seen.add(refRes.json.access_token);
  seen.add(refRes.json.refresh_token);

  // Introspection names the URL as client_id.
  const rs = pa.addClient({ name: 'resource server' });
  seen.add(rs.client_secret);
  const intro = await readResponse(await fetch(`${base}/oauth/introspect`, {
    method: 'POST', headers: { 'content-type': FORM },
    body: new URLSearchParams({ token: refRes.json.access_token, client_id: rs.client_id, client_secret: rs.client_secret }),
  }));
  assert.equal(intro.status, 200, intro.text);
  assert.equal(intro.json.active, true);
  assert.equal(intro.json.client_id, id);

  const row = clients().find((c) => c.client_id === id);
  assert.ok(row, 'the client is listed by its URL');
  assert.equal(row.origin, 'metadata_document');
  assert.equal(row.public, true);
  assert.deepEqual(row.redirect_uris, [CB]);
});

test('cimd_consent_page_names_the_host_not_the_claimed_name', async () => {
  const id = url('/phish.json');
  const { challenge } = pkce();
  const browser = new Browser(base, seen);
  let res = await browser.get(authorizeUrl(base, authzParams(id, challenge)));
  res = await browser.submit(res, { username: 'alice', password: 'correct horse battery' });
  assertHtmlPage(res, 200);
  assert.ok(isConsentForm(theForm(res)));
  const host = new URL(docBase).host;
  assert.ok(res.text.includes(`<h1>Allow ${host}?</h1>`), res.text);
  assert.ok(res.text.includes(`<strong>${host}</strong> wants to access`), res.text);
  // The claimed name is shown second, escaped.
  assert.ok(res.text.includes('It calls itself &ldquo;ChatGPT &lt;b&gt;official&lt;/b&gt;&rdquo;'), res.text);
  assert.ok(!res.text.includes('<b>official</b>'), res.text);
});

test('cimd_document_cached_within_max_age', async () => {
  const id = url('/good.json');
  const before0 = fetches.get('/good.json') ?? 0;
  for (let i = 0; i < 2; i++) {
    const { challenge } = pkce();
    const res = await new Browser(base).get(authorizeUrl(base, authzParams(id, challenge)));
    assertHtmlPage(res, 200);
    assert.ok(isLoginForm(theForm(res)));
  }
  assert.equal((fetches.get('/good.json') ?? 0) - before0, 1, 'fetched once for two authorizations');
});

test('cimd_client_remove_by_url_then_fetched_again', async () => {
  const id = url('/removed.json');
  const { challenge } = pkce();
  let res = await new Browser(base).get(authorizeUrl(base, authzParams(id, challenge)));
  assertHtmlPage(res, 200);
  const r = pa.cli(['client', 'remove', id]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!clients().some((c) => c.client_id === id));
  const n = fetches.get('/removed.json');
  res = await new Browser(base).get(authorizeUrl(base, authzParams(id, challenge)));
  assertHtmlPage(res, 200);
  assert.equal(fetches.get('/removed.json'), n + 1, 'a removed client is fetched again');
  assert.ok(clients().some((c) => c.client_id === id));
});

test('cimd_redirect_uri_not_in_document_refused', async () => {
  const id = url('/good.json');
  const { challenge } = pkce();
  const state = newState();
  const res = await new Browser(base).get(authorizeUrl(base, {
    ...authzParams(id, challenge, state), redirect_uri: 'https://evil.example/cb',
  }));
  assertErrorPage(res, 400);
  const ev = await eventReason(pa, id, state);
  assert.equal(ev.reason, 'redirect_uri_unregistered', JSON.stringify(ev));
});

test('cimd_redirect_refused', async () => {
  const n = fetches.get('/good.json') ?? 0;
  await refused(url('/redirect.json'), 'cimd_redirect_refused');
  assert.equal(fetches.get('/good.json') ?? 0, n, 'the redirect was not followed');
});

test('cimd_oversize_document_refused', async () => {
  await refused(url('/big.json'), 'cimd_too_large');
});

test('cimd_slow_document_refused', async () => {
  const t0 = Date.now();
  await refused(url('/slow.json'), 'cimd_timeout');
  assert.ok(Date.now() - t0 < TIMEOUT_MS + 3000, `took ${Date.now() - t0} ms`);
});

// Each fetch holds a blocking-work thread up to the timeout: at most 8 at once, then 503.
test('cimd_concurrent_fetches_capped', async () => {
  const { challenge } = pkce();
  const n0 = held.size;
  const pending = [];
  for (let i = 0; i < 8; i++) {
    pending.push(new Browser(base).get(authorizeUrl(base, authzParams(url(`/slow.json?n=${i}`), challenge))));
  }
  const deadline = Date.now() + TIMEOUT_MS;
  while (held.size < n0 + 8) {
    assert.ok(Date.now() < deadline, `only ${held.size - n0} fetches under way`);
    await new Promise((r) => setTimeout(r, 10));
  }
  await refused(url('/slow.json?n=busy'), 'cimd_busy');
  for (const res of held) res.destroy();   // the 8 end now, as fetch failures
  for (const res of await Promise.all(pending)) assertErrorPage(res, 400);
  // Then fetching works again.
  const ok = await new Browser(base).get(authorizeUrl(base, authzParams(url('/good.json'), challenge)));
  assertHtmlPage(ok, 200);
});

test('cimd_client_id_mismatch_refused', async () => {
  await refused(url('/mismatch.json'), 'cimd_client_id_mismatch');
});

test('cimd_non_json_content_type_refused', async () => {
  await refused(url('/text.json'), 'cimd_not_json');
});

test('cimd_private_key_jwt_and_secrets_refused', async () => {
  const res = await refused(url('/pkjwt.json'), 'cimd_auth_method_unsupported');
  assert.match(res.text, /private_key_jwt/);
  await refused(url('/secret.json'), 'cimd_auth_method_unsupported');
});

test('cimd_bad_urls_refused_without_fetch', async () => {
  const before0 = [...fetches.values()].reduce((a, b) => a + b, 0);
  const port = new URL(docBase).port;
  for (const bad of [
    `http://127.0.0.1:${port}/good.json`,          // not https
    `${url('/good.json')}#frag`,                    // fragment
    `https://user:pw@127.0.0.1:${port}/good.json`,  // credentials
    `https://127.0.0.1:${port}`,                    // no path
    `https://127.0.0.1:${port}/a/../good.json`,     // dot segment
    `https://127.0.0.1:${port}/a/%2e%2e/good.json`, // encoded dot segment
    `https://127.0.0.1:${port}/${'a'.repeat(2050)}`, // too long
  ]) {
    await refused(bad, 'cimd_url_invalid');
  }
  assert.equal([...fetches.values()].reduce((a, b) => a + b, 0), before0, 'nothing fetched');
});

test('cimd_host_not_listed_refused', async () => {
  await refused('https://localhost.example/client.json', 'cimd_host_not_allowed');
});

test('cimd_token_endpoint_unknown_url_refused_without_fetch', async () => {
  const id = url('/never.json');
  const res = await readResponse(await fetch(`${base}/oauth/token`, {
    method: 'POST', headers: { 'content-type': FORM },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: 'x', client_id: id, code_verifier: 'y'.repeat(43) }),
  }));
  assert.equal(res.status, 401, res.text);
  assert.equal(res.json.error, 'invalid_client');
  assert.equal(fetches.get('/never.json'), undefined);
});

// Runs body(p, base) against another server started with cimdEnv(env) (and user alice),
// then removes it.
async function withServer(env, body) {
  const p = createPlugauth();
  try {
    addUser(p, 'alice');
    await body(p, await p.start({ env: cimdEnv(env) }));
  } finally {
    await p.cleanup();
  }
}

// A server without client_id_metadata_hosts: loopback and private addresses are refused
// at connect time, before a byte is sent.
test('cimd_loopback_and_private_addresses_refused_unless_listed', async () => {
  await withServer({}, async (p, b) => {
    const n = fetches.get('/good.json');
    await refused(url('/good.json'), 'cimd_ssrf_refused', { p, b });
    assert.equal(fetches.get('/good.json'), n, 'the loopback document server was not reached');
    await refused('https://10.0.0.1/client.json', 'cimd_ssrf_refused', { p, b });
    await refused('https://[::1]/client.json', 'cimd_ssrf_refused', { p, b });
    await refused('https://[::ffff:192.168.1.1]/client.json', 'cimd_ssrf_refused', { p, b });
  });
});

// Fetches count against [oauth] registration_rate per client address; cached documents
// need no fetch and are not limited.
test('cimd_fetches_rate_limited_per_address', async () => {
  const env = { PLUGAUTH_OAUTH_CLIENT_ID_METADATA_HOSTS: '127.0.0.1', PLUGAUTH_OAUTH_REGISTRATION_RATE: '2' };
  await withServer(env, async (p, b) => {
    const { challenge } = pkce();
    const first = await new Browser(b).get(authorizeUrl(b, authzParams(url('/good.json'), challenge)));
    assertHtmlPage(first, 200);
    await refused(url('/mismatch.json'), 'cimd_client_id_mismatch', { p, b });
    const n = fetches.get('/text.json') ?? 0;
    const res = await refused(url('/text.json'), 'cimd_rate_limited', { p, b });
    assert.match(res.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/);
    assert.equal(fetches.get('/text.json') ?? 0, n, 'nothing fetched past the limit');
    const again = await new Browser(b).get(authorizeUrl(b, authzParams(url('/good.json'), challenge)));
    assertHtmlPage(again, 200);
  });
});

// A metadata-document client that never obtained a token is removed after
// registration_unused_ttl, as a registered one is; one that did stays.
test('cimd_unused_document_client_swept_used_one_kept', async () => {
  const env = { PLUGAUTH_OAUTH_CLIENT_ID_METADATA_HOSTS: '127.0.0.1', PLUGAUTH_OAUTH_REGISTRATION_UNUSED_TTL: '2' };
  await withServer(env, async (p, b) => {
    const unused = url('/removed.json');
    const used = url('/flow.json');
    const { challenge } = pkce();
    assertHtmlPage(await new Browser(b).get(authorizeUrl(b, authzParams(unused, challenge))), 200);
    const pk = pkce();
    const code = await new Browser(b, seen).code(authzParams(used, pk.challenge));
    const tok = await readResponse(await fetch(`${b}/oauth/token`, {
      method: 'POST', headers: { 'content-type': FORM },
      body: new URLSearchParams({
        grant_type: 'authorization_code', code, redirect_uri: CB, code_verifier: pk.verifier, client_id: used,
      }),
    }));
    assert.equal(tok.status, 200, tok.text);
    seen.add(tok.json.access_token);
    seen.add(tok.json.refresh_token);

    const deadline = Date.now() + 20_000;
    let ids = clients(p).map((c) => c.client_id);
    while (ids.includes(unused) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      ids = clients(p).map((c) => c.client_id);
    }
    assert.ok(!ids.includes(unused), 'the unused metadata-document client is swept');
    assert.ok(ids.includes(used), 'a client that obtained a token stays');
  });
});

test('cimd_off_by_default_url_client_id_unknown', async () => {
  const p = createPlugauth();
  try {
    const b = await p.start();
    const md = await (await fetch(`${b}/.well-known/oauth-authorization-server`)).json();
    assert.equal(md.client_id_metadata_document_supported, undefined);
    const n = fetches.get('/good.json');
    const { challenge } = pkce();
    const state = newState();
    const res = await new Browser(b).get(authorizeUrl(b, authzParams(url('/good.json'), challenge, state)));
    assertErrorPage(res, 400);
    assert.equal(fetches.get('/good.json'), n);
    assert.equal((await eventReason(p, url('/good.json'), state)).reason, 'client_unknown');
  } finally {
    await p.cleanup();
  }
});

