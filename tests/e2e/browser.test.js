// A real browser through the real pages: Playwright drives Debian's Chromium (headless)
// through the login and consent pages of the authorization endpoint (RFC 6749 §4.1),
// back to a client's redirect_uri served by a tiny local HTTP server, then the client
// exchanges the code. The pages must work under their own Content-Security-Policy
// (form-action must let the final redirect through), show no error and log nothing to
// the console. Screenshots land in tests/e2e/output/browser/ (git-ignored).

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { ACCESS_TOKEN_RE, basic, describeResponse, postToken } from './lib/http.js';
import {
  assertNoProblems as assertNoPageProblems, launchChromium, openPage as openPlaygroundPage,
} from './lib/playground.js';
import { ISSUER, createPlugauth } from './lib/server.js';

const here = dirname(fileURLToPath(import.meta.url));
const OUT = join(here, 'output', 'browser');
const REFRESH_TOKEN_RE = /^pa_rt_[A-Za-z0-9_-]{43}$/;
const USER = 'alice';
const PASSWORD = 'correct horse battery';

let pa;
let base;
let browser;
let cb;           // the client's callback server: { server, url, hits[] }
let clientA;      // one client per test, so each sees the consent page
let clientB;
const seen = new Set([PASSWORD]);

function remember(...values) {
  for (const v of values) if (typeof v === 'string' && v.length > 0) seen.add(v);
}

// The client's redirect_uri: answers /cb with a plain page and records each hit.
function startCallbackServer() {
  const hits = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (url.pathname === '/cb') {
      hits.push({ url: req.url, headers: req.headers });
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>callback</title>'
        + '<link rel="icon" href="data:,"></head><body><p>Signed in. You can close this window.</p></body></html>');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({ server, hits, url: `http://127.0.0.1:${port}/cb` });
    });
  });
}

before(async () => {
  mkdirSync(OUT, { recursive: true });
  cb = await startCallbackServer();
  pa = createPlugauth();
  const u = pa.cli(['user', 'add', USER, '--password-stdin'], { input: `${PASSWORD}\n` });
  assert.equal(u.status, 0, `user add: ${u.stderr}`);
  clientA = pa.addClient({ name: 'Browser Test App', redirectUris: [cb.url] });
  clientB = pa.addClient({ name: 'Second Browser App', redirectUris: [cb.url] });
  remember(clientA.client_secret, clientB.client_secret);
  base = await pa.start();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => (cb?.server ? cb.server.close(resolve) : resolve()));
  await pa?.cleanup();
});

// A fresh browser profile (no cookies) with everything that can go wrong recorded
// (lib/playground.js).
const openPage = () => openPlaygroundPage(browser, { width: 800, height: 760 });

function assertNoProblems(problems, log, where) {
  assertNoPageProblems(problems, log, `${where} (plugauth ${base}, callback ${cb.url})`);
}

// Neither an inline alert nor the error page.
async function assertNoErrorElement(page, where) {
  const errors = page.locator('.alert, [role=alert], .mark.bad');
  const n = await errors.count();
  const texts = n > 0 ? await errors.allInnerTexts() : [];
  assert.equal(n, 0, `${where} shows an error: ${JSON.stringify(texts)} (title ${JSON.stringify(await page.title())})`);
}

function s256(verifier) {
  return createHash('sha256').update(verifier).digest('base64url');
}

function authorizeUrl(client, { state, challenge, scope = 'todo.read todo.write' }) {
  const u = new URL('/oauth/authorize', base);
  u.searchParams.set('response_type', 'code');
  u.searchParams.set('client_id', client.client_id);
  u.searchParams.set('redirect_uri', cb.url);
  u.searchParams.set('scope', scope);
  u.searchParams.set('state', state);
  u.searchParams.set('code_challenge', challenge);
  u.searchParams.set('code_challenge_method', 'S256');
  return u.href;
}

// Clicks a submit button and resolves with the main-frame response to the POST.
async function submit(page, name) {
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST'
      && r.request().isNavigationRequest() && r.frame() === page.mainFrame()),
    page.getByRole('button', { name, exact: true }).click(),
  ]);
  await page.waitForLoadState('load');
  return res;
}

async function fillLogin(page, username, password) {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
}

async function assertLoginPage(page, res) {
  assert.equal(res.status(), 200, `GET authorize: ${res.status()} ${await res.text()}`);
  const csp = res.headers()['content-security-policy'] ?? '';
  assert.match(csp, /frame-ancestors 'none'/, `CSP: ${csp}`);
  await assert.doesNotReject(page.locator('form[method=post] input[name=csrf]').waitFor({ state: 'attached' }));
  assert.equal(await page.locator('input[name=username]').count(), 1);
  assert.equal(await page.locator('input[name=password][type=password]').count(), 1);
  const cookies = await page.context().cookies(base);
  const session = cookies.find((c) => c.name === 'plugauth_session');
  assert.ok(session, `plugauth_session cookie: ${JSON.stringify(cookies.map((c) => c.name))}`);
  assert.equal(session.httpOnly, true, 'plugauth_session must be HttpOnly');
  assert.equal(session.sameSite, 'Lax', 'plugauth_session must be SameSite=Lax');
}

async function assertConsentPage(page, res, clientName) {
  assert.equal(res.status(), 200, `POST login: ${res.status()}`);
  await page.getByRole('button', { name: 'Allow', exact: true }).waitFor();
  await page.getByRole('button', { name: 'Deny', exact: true }).waitFor();
  const text = await page.locator('main').innerText();
  assert.ok(text.includes(clientName), `consent page names the client: ${JSON.stringify(text)}`);
  assert.ok(text.includes(USER), `consent page names the user: ${JSON.stringify(text)}`);
}

// Clicks Allow and waits for the browser to land on the callback; checks what came back.
// If the browser does not get there (a CSP form-action block aborts the redirect),
// the error says what the page reported.
async function allowAndLand(page, state, problems, log) {
  const hitsBefore = cb.hits.length;
  try {
    await Promise.all([
      page.waitForURL((u) => u.href.startsWith(`${cb.url}?`), { waitUntil: 'load' }),
      page.getByRole('button', { name: 'Allow', exact: true }).click(),
    ]);
  } catch (err) {
    await new Promise((r) => setTimeout(r, 250)); // let the violation reports arrive
    assertNoProblems(problems, log, `after Allow (${err.message.split('\n')[0]})`);
    throw new Error(`after Allow the browser did not reach ${cb.url} (at ${page.url()}): ${err.message}`);
  }
  const landed = new URL(page.url());
  assert.equal(cb.hits.length, hitsBefore + 1, 'the callback server saw one request');
  const hit = cb.hits.at(-1);
  assert.equal(new URL(hit.url, cb.url).href, landed.href, 'the callback server saw the browser\'s URL');
  assert.equal(hit.headers.referer, undefined, `Referrer-Policy: no-referrer, got Referer ${hit.headers.referer}`);
  const code = landed.searchParams.get('code');
  assert.match(code ?? '', /^pa_ac_[A-Za-z0-9_-]{43}$/, `code in ${landed}`);
  assert.equal(landed.searchParams.get('state'), state, `state in ${landed}`);
  assert.equal(landed.searchParams.get('iss'), ISSUER, `iss in ${landed}`);
  assert.equal(landed.searchParams.get('error'), null, `no error in ${landed}`);
  remember(code);
  return code;
}

async function exchange(client, code, verifier) {
  const res = await postToken(base, {
    body: { grant_type: 'authorization_code', code, redirect_uri: cb.url, code_verifier: verifier },
    authorization: basic(client.client_id, client.client_secret),
  });
  assert.equal(res.status, 200, describeResponse(res));
  assert.match(res.headers.get('cache-control') ?? '', /\bno-store\b/i, describeResponse(res));
  const b = res.json;
  assert.match(b?.access_token ?? '', ACCESS_TOKEN_RE, describeResponse(res));
  assert.equal(b.token_type.toLowerCase(), 'bearer', describeResponse(res));
  assert.equal(b.expires_in, 3600, describeResponse(res));
  assert.match(b.refresh_token ?? '', REFRESH_TOKEN_RE, describeResponse(res));
  assert.deepEqual(b.scope.split(' ').sort(), ['todo.read', 'todo.write'], describeResponse(res));
  remember(b.access_token, b.refresh_token);
  return b;
}

test('browser_signs_in_consents_and_lands_on_callback_with_code_state_iss', async () => {
  const { context, page, problems, log } = await openPage();
  try {
    const state = randomBytes(16).toString('hex');
    const verifier = randomBytes(32).toString('base64url');

    const res = await page.goto(authorizeUrl(clientA, { state, challenge: s256(verifier) }));
    await assertLoginPage(page, res);
    await assertNoErrorElement(page, 'login page');
    await fillLogin(page, USER, PASSWORD);
    await page.screenshot({ path: join(OUT, 'login.png'), fullPage: true });

    const consent = await submit(page, 'Sign in');
    await assertConsentPage(page, consent, 'Browser Test App');
    await assertNoErrorElement(page, 'consent page');
    await page.screenshot({ path: join(OUT, 'consent.png'), fullPage: true });

    const code = await allowAndLand(page, state, problems, log);
    await page.screenshot({ path: join(OUT, 'callback.png') });
    assertNoProblems(problems, log, 'sign-in flow');

    await exchange(clientA, code, verifier);
  } finally {
    await context.close();
  }
});

test('browser_wrong_password_shows_inline_error_then_right_one_proceeds', async () => {
  const { context, page, problems, log } = await openPage();
  try {
    const state = randomBytes(16).toString('hex');
    const verifier = randomBytes(32).toString('base64url');

    const res = await page.goto(authorizeUrl(clientB, { state, challenge: s256(verifier) }));
    await assertLoginPage(page, res);
    await fillLogin(page, USER, 'wrong horse battery');
    const wrong = await submit(page, 'Sign in');
    const wrongStatus = wrong.status();
    assert.ok(wrongStatus === 200 || (wrongStatus >= 400 && wrongStatus < 500),
      `POST wrong password: the login page again, got ${wrongStatus}`);

    const alert = page.locator('.alert[role=alert]');
    await alert.waitFor();
    assert.match(await alert.innerText(), /wrong username or password/i);
    assert.equal(await page.locator('.mark.bad').count(), 0, 'still the login page, not the error page');
    assert.equal(await page.getByLabel('Username').inputValue(), USER, 'the username is kept');
    assert.equal(await page.getByLabel('Password').inputValue(), '', 'the password is not echoed back');
    assert.equal(await page.locator('input[name=password]').evaluate((e) => e === document.activeElement), true,
      'focus is on the password field');
    await page.screenshot({ path: join(OUT, 'login-wrong-password.png'), fullPage: true });

    await page.getByLabel('Password').fill(PASSWORD);
    const consent = await submit(page, 'Sign in');
    await assertConsentPage(page, consent, 'Second Browser App');
    await assertNoErrorElement(page, 'consent page after a failed attempt');

    const code = await allowAndLand(page, state, problems, log);
    // Chromium logs a document answered with a 4xx as a failed resource load: that one
    // line (the wrong-password page itself) is expected; anything else is a problem.
    const expected = `status of ${wrongStatus} `;
    problems.console = problems.console.filter(
      (t) => !(t.includes(expected) && t.endsWith(`(${base}/oauth/authorize)`)));
    assertNoProblems(problems, log, 'wrong-password flow');

    await exchange(clientB, code, verifier);
  } finally {
    await context.close();
  }
});

test('server_log_never_contains_tokens_codes_secrets_or_passwords', async () => {
  assert.equal(await pa.stop(), 0, `log:\n${pa.log}`);
  const leaked = [...seen].filter((s) => pa.log.includes(s));
  assert.deepEqual(leaked, []);
});
