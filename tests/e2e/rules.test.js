// Security rules that are in the code but that no other test would notice losing
// (docs/security.md and docs/design.md, Security rules):
// [server] connection_limit; http redirect URIs only for loopback, never a fragment;
// the 8-byte password minimum; init's 0600 files; SQL metacharacters as plain data;
// and the per-address sign-in limit end to end.

import assert from 'node:assert/strict';
import { chmodSync, readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, test } from 'node:test';

import { FORM, basic, describeResponse, form, rawRequest } from './lib/http.js';
import {
  Browser, CODE_RE, PASSWORD, addClient, addUser, assertHtmlPage, assertTokenPair,
  authorizePath, exchangeCode, isConsentForm, isLoginForm, newState, sleep, theForm,
} from './lib/flow.js';
import { Plugauth, createPlugauth, jsonLines } from './lib/server.js';

const SQL_USER = "x' OR '1'='1";
const SQL_CLIENT_NAME = '"; DROP TABLE tokens; --';
const CB = 'http://127.0.0.1:9/cb';

let pa;            // the main server
let base;
let sqlClient;     // named SQL_CLIENT_NAME, the first client of pa's database
const servers = [];
const sockets = new Set();
const seen = new Set([PASSWORD]);   // secrets: none may reach a log

before(async () => {
  pa = createPlugauth();
  servers.push(pa);
  // First client and first user of the database: what `… OR 1=1` would find first.
  sqlClient = addClient(pa, SQL_CLIENT_NAME, ['--redirect-uri', CB,
    '--grant', 'authorization_code', '--grant', 'refresh_token', '--grant', 'client_credentials']);
  seen.add(sqlClient.client_secret);
  addUser(pa, 'alice');
  base = await pa.start();
});

after(async () => {
  for (const s of sockets) s.destroy();
  const logs = servers.map((p) => p.log).join('\n');
  for (const p of servers) await p.cleanup();
  const leaked = [...seen].filter((s) => logs.includes(s));
  assert.deepEqual(leaked, [], 'a secret reached the server log');
});

// --- helpers ------------------------------------------------------------------------------

function show(r) {
  return `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

// A refused command: exit 1 or 2, one stderr line "plugauth: …".
function assertRefused(r, what) {
  assert.ok(r.status === 1 || r.status === 2, `${what} should be refused:\n${show(r)}`);
  const lines = r.stderr.replace(/\n$/, '').split('\n');
  assert.equal(lines.length, 1, `${what}: exactly one stderr line expected:\n${show(r)}`);
  assert.match(lines[0], /^plugauth: \S/, `${what}:\n${show(r)}`);
}

function clientList(p) {
  const r = p.cli(['client', 'list', '--json']);
  assert.equal(r.status, 0, show(r));
  return jsonLines(r.stdout);
}

// The names `user list --json` prints.
function userNames(p) {
  const r = p.cli(['user', 'list', '--json']);
  assert.equal(r.status, 0, show(r));
  return jsonLines(r.stdout).map((u) => u.name);
}

function exactParams(client, state = newState()) {
  return [['response_type', 'code'], ['client_id', client.client_id], ['redirect_uri', CB], ['state', state]];
}

// A fresh browser posts the login form of `client` on server `at` as user/password;
// resolves with the answer to that post.
async function signIn(at, client, user, password, browser = new Browser(at, seen)) {
  const login = await browser.get(authorizePath(exactParams(client)));
  assertHtmlPage(login, 200);
  assert.ok(isLoginForm(theForm(login)), describeResponse(login));
  seen.add(password);
  return browser.submit(login, { username: user, password });
}

// The answer to a sign-in that worked: the consent page.
function assertSignedIn(res, what) {
  assertHtmlPage(res, 200);
  assert.ok(isConsentForm(theForm(res)), `${what}: ${describeResponse(res)}`);
}

// The answer to a wrong username or password: the login form again, 400.
function assertWrongCredentials(res, what) {
  assert.equal(res.status, 400, `${what}: ${describeResponse(res)}`);
  assert.match(res.text, /Wrong username or password/, `${what}: ${describeResponse(res)}`);
  assert.ok(isLoginForm(theForm(res)), `${what}: ${describeResponse(res)}`);
}

// A raw TCP connection to base that sends `text` at once (if any). Resolves once
// connected: {sock, received, answered (a promise of the first bytes), closed (a promise),
// isClosed()}.
function connection(at, text) {
  const url = new URL(at);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: url.hostname, port: Number(url.port) });
    sockets.add(sock);
    let closed = false;
    let onData;
    let onClose;
    const c = {
      sock,
      received: '',
      answered: new Promise((res) => { onData = res; }),
      closed: new Promise((res) => { onClose = res; }),
      isClosed: () => closed,
    };
    sock.setEncoding('latin1');
    sock.on('data', (d) => { c.received += d; onData(c.received); });
    sock.on('error', () => { /* a reset is one way of being closed */ });
    sock.on('close', () => { closed = true; sockets.delete(sock); onClose(); });
    sock.once('connect', () => { if (text) sock.write(text); resolve(c); });
    sock.once('error', (err) => { if (sock.connecting) reject(err); });
  });
}

// Resolves with what p resolves with, or `fallback` after ms.
async function within(p, ms, fallback = null) {
  let timer;
  const r = await Promise.race([p, new Promise((res) => { timer = setTimeout(() => res(fallback), ms); })]);
  clearTimeout(timer);
  return r;
}

// --- [server] connection_limit --------------------------------------------------------------

const CONNECTION_LIMIT = 10;
const HEALTHZ = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';

test('connection_limit_caps_concurrent_connections', async (t) => {
  // per_address_connections = 0 (no cap): only connection_limit is at work.
  const p = createPlugauth();
  servers.push(p);
  const at = await p.start({
    env: { PLUGAUTH_SERVER_CONNECTION_LIMIT: String(CONNECTION_LIMIT), PLUGAUTH_SERVER_PER_ADDRESS_CONNECTIONS: '0' },
  });
  const held = [];
  const over = [];
  try {
    for (let i = 0; i < CONNECTION_LIMIT; i++) held.push(await connection(at));
    await sleep(200);
    // The 11th..20th each send a whole request at once. libmicrohttpd stops accepting
    // at the cap: they wait unanswered in the kernel's listen backlog (or, were they
    // closed, that would do as well) — none is served while the cap is full.
    for (let i = 0; i < CONNECTION_LIMIT; i++) over.push(await connection(at, HEALTHZ));
    await sleep(1_000);
    assert.deepEqual(over.map((c) => c.received).filter((x) => x !== ''), [],
      'connections over connection_limit were served');
    // …while each of the 10 held connections is a real, served connection.
    for (const [i, c] of held.entries()) {
      c.sock.write(HEALTHZ);
      const got = await within(c.answered, 3_000, '');
      assert.match(got, /^HTTP\/1\.1 200 /, `held connection ${i} was not served: ${JSON.stringify(got)}`);
    }
    assert.equal(held.filter((c) => c.isClosed()).length, 0, 'connections within the cap were closed');
    assert.deepEqual(over.map((c) => c.received).filter((x) => x !== ''), [],
      'connections over connection_limit were served');
  } finally {
    for (const c of held) c.sock.destroy();
  }
  // Freed slots: the waiting connections are taken in and served (or were closed),
  // none is left hanging, and a new request succeeds.
  const ends = await Promise.all(over.map((c) => within(Promise.race([c.answered, c.closed.then(() => 'closed')]), 5_000)));
  for (const c of over) c.sock.destroy();
  assert.equal(ends.filter((e) => e === null).length, 0, 'connections over the cap still hang after it was freed');
  t.diagnostic(`over the cap, once freed: ${ends.filter((e) => e !== 'closed').length} served, `
    + `${ends.filter((e) => e === 'closed').length} closed`);
  let res;
  const deadline = performance.now() + 3_000;
  for (;;) {
    try {
      res = await rawRequest(at, { method: 'GET', path: '/healthz' });
      if (res.status === 200 || performance.now() > deadline) break;
    } catch (err) {
      if (performance.now() > deadline) throw err;
    }
    await sleep(100);
  }
  assert.equal(res.status, 200, describeResponse(res));
});

// --- client add: redirect URIs --------------------------------------------------------------

test('client_add_http_redirect_uri_only_on_loopback_never_a_fragment', () => {
  const before_ = clientList(pa).length;
  for (const uri of [
    'http://example.com/cb',
    'http://127.0.0.1.example.com/cb',        // a name that starts like a loopback address
    'http://localhost.example.com/cb',
    'http://127.0.0.1@example.com/cb',        // the host is example.com
    'https://example.com/cb#frag',
    'http://127.0.0.1:9/cb#frag',
    'https://example.com/cb#',
  ]) {
    assertRefused(pa.cli(['client', 'add', '--name', 'refused', '--redirect-uri', uri]), uri);
    // …also next to a good one.
    assertRefused(pa.cli(['client', 'add', '--name', 'refused', '--redirect-uri', 'https://example.com/ok',
      '--redirect-uri', uri]), `${uri} second`);
  }
  assert.equal(clientList(pa).length, before_, 'a refused client was stored');

  for (const uri of ['http://127.0.0.1:9/cb', 'https://example.com/cb', 'http://localhost:9/cb', 'http://[::1]:9/cb']) {
    const c = addClient(pa, `accepted ${uri}`, ['--redirect-uri', uri]);
    seen.add(c.client_secret);
    assert.deepEqual(c.redirect_uris, [uri], JSON.stringify(c));
  }
  assert.equal(clientList(pa).length, before_ + 4);
});

// --- the password policy ----------------------------------------------------------------------

test('password_shorter_than_8_bytes_refused_and_nothing_stored', async () => {
  const users = userNames(pa);
  for (const short of ['', 'a', 'seven77', 'é€x']) {   // 'é€x' is 3 characters, 6 bytes
    assert.ok(Buffer.byteLength(short) < 8);
    const r = pa.cli(['user', 'add', 'shorty', '--password-stdin'], { input: `${short}\n` });
    assertRefused(r, `user add with a ${Buffer.byteLength(short)}-byte password`);
  }
  assert.deepEqual(userNames(pa), users, 'a user with a short password was stored');
  // 8 bytes is enough.
  const eight = pa.cli(['user', 'add', 'eight', '--password-stdin'], { input: 'exactly8\n' });
  assert.equal(eight.status, 0, show(eight));
  assert.deepEqual(userNames(pa).sort(), [...users, 'eight'].sort());

  // user passwd: refused, and the old password still signs in, the short one not.
  const short = 'seven77';
  const r = pa.cli(['user', 'passwd', 'alice', '--password-stdin'], { input: `${short}\n` });
  assertRefused(r, 'user passwd with a 7-byte password');
  assertSignedIn(await signIn(base, sqlClient, 'alice', PASSWORD), 'the old password after a refused passwd');
  assertWrongCredentials(await signIn(base, sqlClient, 'alice', short), 'the refused short password');
});

// --- init: private files ----------------------------------------------------------------------

function mode(path) {
  return statSync(path).mode & 0o777;
}

// Runs fn with umask 000, so that only the modes plugauth asks for count.
function withUmask0(fn) {
  const old = process.umask(0);
  try {
    return fn();
  } finally {
    process.umask(old);
  }
}

test('init_writes_config_and_database_0600', async () => {
  const p = new Plugauth();
  servers.push(p);
  withUmask0(() => p.init());
  assert.equal(mode(p.conf).toString(8), '600', 'config file mode');
  const dbFiles = readdirSync(p.dir).filter((f) => f.startsWith('plugauth.db'));
  assert.ok(dbFiles.includes('plugauth.db'), `database files: ${dbFiles}`);
  for (const f of dbFiles) assert.equal(mode(join(p.dir, f)).toString(8), '600', `${f} mode`);
});

test('init_force_over_a_readable_config_leaves_it_0600', async () => {
  const p = new Plugauth();
  servers.push(p);
  withUmask0(() => p.init());
  chmodSync(p.conf, 0o644);
  const r = withUmask0(() => p.cli(['init', '--issuer', 'http://127.0.0.1:9', '--db', `sqlite:${p.db}`,
    '--listen', '127.0.0.1:0', '--force']));
  assert.equal(r.status, 0, show(r));
  assert.equal(mode(p.conf).toString(8), '600', 'config file mode after init --force');
});

// --- SQL metacharacters are data ----------------------------------------------------------------

test('sql_metacharacters_in_names_and_credentials_are_data', async () => {
  // User names are restricted to A-Z a-z 0-9 . _ @ - (`user add --help`): a user named
  // with SQL is refused, and nothing is stored.
  const users0 = userNames(pa);
  assertRefused(pa.cli(['user', 'add', SQL_USER, '--password-stdin'], { input: `${PASSWORD}\n` }),
    `user add ${SQL_USER}`);
  assert.deepEqual(userNames(pa), users0);

  // A client named with SQL: listed under exactly that name, and used for a whole flow.
  const listed = clientList(pa).find((c) => c.client_id === sqlClient.client_id);
  assert.equal(listed?.name, SQL_CLIENT_NAME, JSON.stringify(listed));
  const b = new Browser(base, seen);
  const consent = await signIn(base, sqlClient, 'alice', PASSWORD, b);
  assertSignedIn(consent, 'alice');
  assert.ok(consent.text.includes('&quot;; DROP TABLE tokens; --'), `the consent page names the client: ${consent.text}`);
  const code = await b.code(exactParams(sqlClient));
  const pair = assertTokenPair(await exchangeCode(base, 'form', sqlClient, { code, redirectUri: CB }), { seen });
  const verify = (token) => fetch(`${base}/oauth/verify`, { headers: { authorization: `Bearer ${token}` } });
  const who = await verify(pair.access_token);
  assert.equal(who.status, 204);
  assert.equal(who.headers.get('x-plugauth-user'), 'alice');
  assert.equal(who.headers.get('x-plugauth-client'), sqlClient.client_id);

  // Sign-in: SQL typed as the username finds no one, not even with the password every
  // user here has (a query that matched any row would let these in).
  assertWrongCredentials(await signIn(base, sqlClient, SQL_USER, 'not the password'), 'SQL user, wrong password');
  for (const name of [SQL_USER, "' OR 1=1 --", "alice'--", "alice' --", 'alice" --', "alice'; --"]) {
    assertWrongCredentials(await signIn(base, sqlClient, name, PASSWORD), `username ${name}`);
  }

  // Token requests: SQL in client_id is an unknown client, with the first client's secret.
  const grant = { grant_type: 'client_credentials' };
  for (const id of ["' OR 1=1 --", "' OR '1'='1", `${sqlClient.client_id}' --`]) {
    const inBody = await fetch(`${base}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': FORM },
      body: form({ ...grant, client_id: id, client_secret: sqlClient.client_secret }),
    });
    const j = await inBody.json();
    assert.equal(inBody.status, 401, `client_id ${id}: ${JSON.stringify(j)}`);
    assert.equal(j.error, 'invalid_client', `client_id ${id}`);
    const inBasic = await fetch(`${base}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': FORM, authorization: basic(id, sqlClient.client_secret) },
      body: form(grant),
    });
    assert.equal(inBasic.status, 401, `Basic client_id ${id}`);
    assert.equal((await inBasic.json()).error, 'invalid_client', `Basic client_id ${id}`);
  }
  // …and in a code or refresh token it is an unknown grant.
  for (const fields of [
    { grant_type: 'authorization_code', code: "' OR 1=1 --", redirect_uri: CB },
    { grant_type: 'refresh_token', refresh_token: "' OR 1=1 --" },
  ]) {
    const res = await fetch(`${base}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': FORM, authorization: basic(sqlClient.client_id, sqlClient.client_secret) },
      body: form(fields),
    });
    assert.equal(res.status, 400, fields.grant_type);
    assert.equal((await res.json()).error, 'invalid_grant', fields.grant_type);
  }

  // Removing or revoking by a name or ID made of SQL touches nothing.
  const users = userNames(pa);
  const clients = clientList(pa).map((c) => c.client_id).sort();
  for (const args of [
    ['user', 'remove', "' OR '1'='1"],
    ['client', 'remove', "' OR '1'='1"],
    ['token', 'revoke', '--user', "' OR '1'='1"],
    ['token', 'revoke', '--client', "' OR '1'='1"],
  ]) {
    assertRefused(pa.cli(args), args.join(' '));
  }
  assert.deepEqual(userNames(pa), users);
  assert.deepEqual(clientList(pa).map((c) => c.client_id).sort(), clients);

  // The tokens table is still there: the earlier token is good, a new one is issued.
  assert.equal((await verify(pair.access_token)).status, 204, 'the token issued before is gone');
  const cc = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': FORM, authorization: basic(sqlClient.client_id, sqlClient.client_secret) },
    body: form(grant),
  });
  const ccBody = await cc.json();
  assert.equal(cc.status, 200, JSON.stringify(ccBody));
  seen.add(ccBody.access_token);
});

// --- the per-address sign-in limit --------------------------------------------------------------

// lib/flow.js's Browser, its requests sent from `localAddress` (another loopback address
// is another client address to the server).
class AddressBrowser extends Browser {
  constructor(at, localAddress) {
    super(at, seen);
    this.localAddress = localAddress;
  }

  request(url, { method = 'GET', body, headers = {} } = {}) {
    const abs = new URL(url, this.base);
    const h = { ...headers };
    if (this.jar.header()) h.cookie = this.jar.header();
    if (body !== undefined) h['content-length'] = String(Buffer.byteLength(body));
    return new Promise((resolve, reject) => {
      const req = http.request(abs, { method, headers: h, localAddress: this.localAddress, agent: false }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const hs = new Headers();
          for (let i = 0; i < res.rawHeaders.length; i += 2) hs.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
          const setCookies = this.jar.update(hs);
          resolve({
            status: res.statusCode, headers: hs, text: Buffer.concat(chunks).toString('utf8'),
            url: abs.href, location: hs.get('location'), setCookies,
          });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }
}

test('sign_in_limit_per_address_end_to_end', async () => {
  const PER_ADDRESS = 3;
  const p = createPlugauth();
  servers.push(p);
  const client = addClient(p, 'limited', ['--redirect-uri', CB]);
  seen.add(client.client_secret);
  for (const u of ['u1', 'u2', 'u3', 'u4']) addUser(p, u);
  const at = await p.start({
    env: {
      PLUGAUTH_AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS: String(PER_ADDRESS),
      PLUGAUTH_AUTH_LOGIN_MAX_FAILURES: '10',
    },
  });

  // Failures for u1 and u2, then u4 still signs in: 2 failures are under the limit.
  assertWrongCredentials(await signIn(at, client, 'u1', 'wrong password 1'), 'u1 wrong');
  assertWrongCredentials(await signIn(at, client, 'u2', 'wrong password 2'), 'u2 wrong');
  assertSignedIn(await signIn(at, client, 'u4', PASSWORD), 'u4 after 2 failures from the address');
  // The 3rd failure, for a 3rd user, is still judged on its password…
  assertWrongCredentials(await signIn(at, client, 'u3', 'wrong password 3'), 'u3 wrong');
  // …and now nobody signs in from this address: not u4, who never failed, nor u1, one
  // failure away from its own limit of 10, even with the right password.
  for (const u of ['u4', 'u1']) {
    const res = await signIn(at, client, u, PASSWORD);
    assert.equal(res.status, 429, `${u} with the right password after ${PER_ADDRESS} failures from the address: `
      + describeResponse(res));
    const retry = res.headers.get('retry-after');
    assert.match(retry ?? '', /^[0-9]+$/, `Retry-After: ${describeResponse(res)}`);
    assert.ok(Number(retry) > 0 && Number(retry) <= 900, `Retry-After ${retry}`);
    assert.match(res.text, /Too many failed sign-ins/);
    assert.ok(!isConsentForm(theForm(res)), `${u} was signed in: ${describeResponse(res)}`);
  }
  // The limit is this address's: from 127.0.0.2 u4 goes all the way to a code.
  const other = new AddressBrowser(at, '127.0.0.2');
  const r = await other.authorize(exactParams(client), { user: 'u4' });
  assert.deepEqual(r.steps, ['login', 'consent', 'redirect']);
  assert.match(r.code ?? '', CODE_RE, r.location);
  seen.add(r.code);
  // …and 127.0.0.1 is still limited.
  assert.equal((await signIn(at, client, 'u2', PASSWORD)).status, 429);
});
