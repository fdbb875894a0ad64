// plugauth terminating TLS itself ([server] tls_cert, tls_key) under an https issuer
// (docs/design.md, Security rules: session cookie "`Secure` and the `__Host-` prefix under
// https"; RFC 9700 §2.6: authorization responses only over TLS). A throwaway
// self-signed certificate for 127.0.0.1 is made with the openssl CLI in the test's temp
// dir; every request verifies it (node:https with the certificate as the only CA), so
// the whole authorization-code flow runs over real, checked TLS. A plain-http request to
// the TLS port gets no plaintext answer.
//
// The http form of the cookie (`plugauth_session`, no Secure) is checked by
// chatgpt_flows.test.js:login_page_sets_session_cookie_and_security_headers.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { basic, describeResponse, form, FORM, freePort, readBody } from './lib/http.js';
import {
  Browser, CODE_RE, PASSWORD, SESSION_RE, addChatgptClient, addUser, assertHtmlPage,
  assertTokenPair, authorizePath, isConsentForm, isLoginForm, newState, pluginCallback, theForm,
} from './lib/flow.js';
import { createPlugauth } from './lib/server.js';
import { makeCert } from './lib/tls.js';

const HOST_COOKIE = '__Host-plugauth_session';
const PLAIN_COOKIE = 'plugauth_session';

let pa;
let base;        // https://127.0.0.1:<port>, also the issuer
let ca;          // the server's self-signed certificate (PEM)
let client;      // --chatgpt
const servers = [];
const seen = new Set([PASSWORD]);   // secrets: none may reach a log



// One request with node:http(s), no redirect followed, TLS verified against `ca` only.
// Resolves with {status, headers (a Headers, Set-Cookie lines kept apart), text, json}.
function request(url, { method = 'GET', headers = {}, body } = {}) {
  const u = new URL(url);
  const lib = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(u, {
      method,
      headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
      ca,
      agent: false,
    }, (res) => {
      const h = new Headers();
      for (let i = 0; i < res.rawHeaders.length; i += 2) h.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
      readBody(res).then((b) => resolve({ status: res.statusCode, headers: h, ...b }), reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.end(body);
  });
}

// lib/flow.js's Browser (cookie jar, forms, login and consent) over verified https.
class TlsBrowser extends Browser {
  async request(url, { method = 'GET', body, headers = {}, cookies = true } = {}) {
    const abs = new URL(url, this.base).href;
    const h = { ...headers };
    const cookie = this.jar.header();
    if (cookies && cookie) h.cookie = cookie;
    const res = await request(abs, { method, headers: h, body });
    const setCookies = cookies ? this.jar.update(res.headers) : res.headers.getSetCookie();
    for (const line of setCookies) this.remember(line.split(';')[0].split('=').slice(1).join('='));
    const location = res.headers.get('location');
    if (location) {
      try { this.remember(new URL(location).searchParams.get('code')); } catch { /* relative */ }
    }
    return { ...res, url: abs, location, setCookies };
  }
}

// Every attribute of a Set-Cookie line: {name, value, attrs (lower case)}.
function cookieParts(line) {
  const [pair, ...attrs] = line.split(';').map((s) => s.trim());
  const eq = pair.indexOf('=');
  return { name: pair.slice(0, eq), value: pair.slice(eq + 1), attrs: attrs.map((a) => a.toLowerCase()) };
}

// The one session Set-Cookie of res: `__Host-plugauth_session=pa_ss_…` with Secure,
// HttpOnly, SameSite=Lax, Path=/ and no Domain (what the __Host- prefix requires,
// RFC 6265bis §4.1.3.2), and no cookie under the http name.
function assertHostSessionCookie(res) {
  const lines = res.setCookies ?? res.headers.getSetCookie();
  assert.ok(!lines.some((l) => l.startsWith(`${PLAIN_COOKIE}=`)),
    `no ${PLAIN_COOKIE} cookie under https: ${JSON.stringify(lines)}`);
  const mine = lines.filter((l) => l.startsWith(`${HOST_COOKIE}=`));
  assert.equal(mine.length, 1, `one ${HOST_COOKIE} Set-Cookie expected: ${JSON.stringify(lines)}`);
  const c = cookieParts(mine[0]);
  assert.match(c.value, SESSION_RE, mine[0]);
  for (const a of ['secure', 'httponly', 'samesite=lax', 'path=/']) {
    assert.ok(c.attrs.includes(a), `${a} missing: ${mine[0]}`);
  }
  assert.ok(!c.attrs.some((a) => a.startsWith('domain')), `a __Host- cookie has no Domain: ${mine[0]}`);
  assert.ok(!c.attrs.some((a) => a.startsWith('path=') && a !== 'path=/'), `Path must be /: ${mine[0]}`);
  return c.value;
}

function pluginParams(redirectUri, state) {
  return [
    ['response_type', 'code'], ['client_id', client.client_id],
    ['redirect_uri', redirectUri], ['scope', ''], ['state', state],
  ];
}

// Starts p with TLS on a free port under the issuer https://127.0.0.1:<that port>. The
// port is chosen before the start (the issuer names it), so a start that lost the port
// to someone else is retried on another.
async function startTls(p, { cert, key }) {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const origin = `https://127.0.0.1:${port}`;
    try {
      const url = await p.start({
        env: {
          PLUGAUTH_SERVER_LISTEN: `127.0.0.1:${port}`,
          PLUGAUTH_SERVER_ISSUER: origin,
          PLUGAUTH_SERVER_TLS_CERT: cert,
          PLUGAUTH_SERVER_TLS_KEY: key,
        },
      });
      assert.equal(url, origin, 'serve prints its https URL');
      return url;
    } catch (err) {
      if (attempt >= 3 || !/cannot listen/.test(p.log)) throw err;
    }
  }
}

before(async () => {
  pa = createPlugauth();
  servers.push(pa);
  const files = makeCert(pa.dir);
  ca = readFileSync(files.cert);
  addUser(pa, 'alice');
  client = addChatgptClient(pa, 'TLS plugin');
  seen.add(client.client_secret);
  base = await startTls(pa, files);
});

after(async () => {
  const logs = servers.map((p) => p.log).join('\n');
  for (const p of servers) await p.cleanup();
  const leaked = [...seen].filter((s) => logs.includes(s));
  assert.deepEqual(leaked, [], 'a secret reached the server log');
});

test('tls_metadata_issuer_and_endpoints_are_https', async () => {
  const res = await request(`${base}/.well-known/oauth-authorization-server`);
  assert.equal(res.status, 200, describeResponse(res));
  assert.equal(res.json?.issuer, base, describeResponse(res));
  for (const k of ['authorization_endpoint', 'token_endpoint']) {
    assert.ok(String(res.json[k]).startsWith(`${base}/`), `${k}: ${res.json[k]}`);
  }
});

test('tls_login_page_sets_host_prefixed_secure_session_cookie', async () => {
  const b = new TlsBrowser(base, seen);
  const res = await b.get(authorizePath(pluginParams(pluginCallback(), newState())));
  assertHtmlPage(res, 200);
  assert.ok(isLoginForm(theForm(res)), describeResponse(res));
  assertHostSessionCookie(res);
});

test('tls_authorization_code_flow_end_to_end', async () => {
  const b = new TlsBrowser(base, seen);
  const redirect = pluginCallback();
  const state = newState();
  const login = await b.get(authorizePath(pluginParams(redirect, state)));
  assertHtmlPage(login, 200);
  const consent = await b.submit(login, { username: 'alice', password: PASSWORD });
  assertHtmlPage(consent, 200);
  assert.ok(isConsentForm(theForm(consent)), describeResponse(consent));
  // Signing in started a new session: its cookie is a __Host- one as well.
  assertHostSessionCookie(consent);
  const done = await b.submit(consent, {}, { button: { name: 'decision', value: 'allow' } });
  assert.ok(done.status === 302 || done.status === 303, describeResponse(done));
  assert.ok(done.location?.startsWith(`${redirect}?`), describeResponse(done));
  const params = new URL(done.location).searchParams;
  assert.equal(params.get('state'), state);
  assert.equal(params.get('iss'), base, `RFC 9207 iss is the https issuer: ${done.location}`);
  const code = params.get('code');
  assert.match(code ?? '', CODE_RE, done.location);

  // GPT Action "Basic authorization header" exchange over https.
  const tok = await request(`${base}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': FORM, authorization: basic(client.client_id, client.client_secret) },
    body: form({ grant_type: 'authorization_code', code, redirect_uri: redirect }),
  });
  const pair = assertTokenPair(tok, { seen });

  // The access token is good at this server.
  const v = await request(`${base}/oauth/verify`, { headers: { authorization: `Bearer ${pair.access_token}` } });
  assert.equal(v.status, 204, describeResponse(v));
  assert.equal(v.headers.get('x-plugauth-user'), 'alice', describeResponse(v));

  // The __Host- cookie is the one read back: the signed-in browser, who consented
  // already, is sent straight back with a new code.
  const again = await b.authorize(pluginParams(redirect, newState()));
  assert.deepEqual(again.steps, ['redirect'], 'the __Host- session cookie was not recognised');
  assert.match(again.code ?? '', CODE_RE, again.location);
});

test('tls_plain_http_to_tls_port_gets_no_plaintext_answer', async () => {
  const { port } = new URL(base);
  const got = await new Promise((resolve) => {
    const chunks = [];
    const sock = net.connect({ host: '127.0.0.1', port: Number(port) });
    const timer = setTimeout(() => { sock.destroy(); resolve({ closed: false, bytes: Buffer.concat(chunks) }); }, 5_000);
    sock.on('connect', () => sock.write(
      'GET /.well-known/oauth-authorization-server HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'));
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', () => { /* a reset is a refusal too */ });
    sock.on('close', () => { clearTimeout(timer); resolve({ closed: true, bytes: Buffer.concat(chunks) }); });
  });
  const text = got.bytes.toString('latin1');
  assert.ok(got.closed, 'the server kept a plaintext connection open for 5 s');
  assert.ok(!text.includes('HTTP/'), `plaintext answer on the TLS port: ${JSON.stringify(text.slice(0, 200))}`);
  assert.ok(!text.includes('issuer'), `metadata leaked in clear: ${JSON.stringify(text.slice(0, 200))}`);
  // node:http over the same port fails as well, and https still works after it.
  await assert.rejects(request(`http://127.0.0.1:${port}/healthz`), 'an http:// request got an answer');
  const ok = await request(`${base}/healthz`);
  assert.equal(ok.status, 200, describeResponse(ok));
});

test('https_issuer_behind_a_tls_proxy_still_gets_host_prefixed_secure_cookie', async () => {
  // TLS terminated by a proxy in front: plugauth serves plain http, but the public
  // issuer is https, so the browser only ever sees the cookie over https.
  const p = createPlugauth();
  servers.push(p);
  const plainBase = await p.start({ env: { PLUGAUTH_SERVER_ISSUER: 'https://plugin.example.com' } });
  const c = addChatgptClient(p, 'proxied plugin');
  seen.add(c.client_secret);
  const res = await request(`${plainBase}${authorizePath([
    ['response_type', 'code'], ['client_id', c.client_id],
    ['redirect_uri', pluginCallback()], ['state', newState()],
  ])}`);
  assertHtmlPage(res, 200);
  for (const l of res.headers.getSetCookie()) seen.add(cookieParts(l).value);
  assertHostSessionCookie(res);
});
