// The demo playground (/demo) in a real browser: Playwright drives Debian's Chromium
// through what a person does there: sign in with the plugin (the real login and consent
// pages, PKCE S256 as the public client demo-playground), list and add todos, refresh
// the token, revoke it, and see the API refuse it once the gateway's cache time has
// passed. The page must run under its own CSP (a script nonce, connect-src 'self'),
// never show a whole token, and log no console error besides the API's expected 401s.
// Screenshots land in tests/e2e/output/playground/ (git-ignored).

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { DEMO_PASSWORD, DEMO_USER, startDemo } from './lib/demo.js';
import {
  assertNoProblems, clickAndLog, dropExpected, launchChromium, newest, openPage as open, pageText, ready,
} from './lib/playground.js';

const here = dirname(fileURLToPath(import.meta.url));
const OUT = join(here, 'output', 'playground');
const MASKED_ACCESS_RE = /^pa_at_[A-Za-z0-9_-]{4}\u2026$/;
const MASKED_REFRESH_RE = /^pa_rt_[A-Za-z0-9_-]{4}\u2026$/;
const WHOLE_TOKEN_RE = /pa_(?:at|rt|ac|cs|ss)_[A-Za-z0-9_-]{43}/;

let demo;
let base;
let browser;

before(async () => {
  mkdirSync(OUT, { recursive: true });
  demo = await startDemo();
  base = demo.base;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await demo?.stop();
});

const openPage = (opts) => open(browser, opts);

test('playground_signs_in_calls_the_api_refreshes_and_revokes', async () => {
  const { context, page, problems, log } = await openPage();
  try {
    // 1. The page and its manifest.
    const res = await page.goto(demo.playgroundUrl);
    assert.equal(res.status(), 200);
    assert.match(res.headers()['content-security-policy'] ?? '', /script-src 'nonce-[0-9a-f]{32}'/);
    await ready(page);
    const manifest = await page.locator('#manifest').innerText();
    assert.match(manifest, /TODO List/);
    assert.ok(manifest.includes(`${base}/oauth/authorize`), manifest);
    assert.ok(manifest.includes(`${base}/oauth/token`), manifest);
    const first = await newest(page);
    assert.equal(first.method, 'GET');
    assert.equal(first.status, '200');
    assert.match(first.response, /"schema_version": "v1"/);
    const signIn = page.getByRole('button', { name: 'Sign in with TODO List', exact: true });
    assert.equal(await signIn.isEnabled(), true);
    for (const name of ['List todos', 'Add todo', 'Refresh token', 'Revoke']) {
      assert.equal(await page.getByRole('button', { name, exact: true }).isDisabled(), true, name);
    }
    await page.screenshot({ path: join(OUT, '01-start.png'), fullPage: true });

    // 2. Sign in: the real pages, then back to /demo/callback.
    await Promise.all([page.waitForURL((u) => u.pathname === '/oauth/authorize'), signIn.click()]);
    const authz = new URL(page.url());
    assert.equal(authz.searchParams.get('client_id'), 'demo-playground');
    assert.equal(authz.searchParams.get('code_challenge_method'), 'S256');
    assert.match(authz.searchParams.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.equal(authz.searchParams.get('redirect_uri'), `${base}/demo/callback`);
    assert.equal(authz.searchParams.get('scope'), 'todo.read todo.write');
    await page.getByLabel('Username').fill(DEMO_USER);
    await page.getByLabel('Password').fill(DEMO_PASSWORD);
    await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
    await page.getByRole('button', { name: 'Allow', exact: true }).waitFor();
    assert.match(await page.locator('main').innerText(), /Demo playground/);
    await page.screenshot({ path: join(OUT, '02-consent.png'), fullPage: true });
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/demo/callback' || u.pathname === '/demo'),
      page.getByRole('button', { name: 'Allow', exact: true }).click(),
    ]);
    await ready(page);
    await page.locator('#tokens').waitFor({ state: 'visible' });
    assert.equal(new URL(page.url()).pathname, '/demo', 'the code is gone from the address bar');
    assert.equal(new URL(page.url()).search, '');

    const exch = await newest(page);
    assert.match(exch.label, /^Exchange the code for tokens/);
    assert.equal(exch.status, '200', exch.response);
    assert.match(exch.request, /^POST \/oauth\/token HTTP\/1\.1$/m);
    assert.match(exch.request, /grant_type=authorization_code/);
    assert.match(exch.request, /client_id=demo-playground/);
    assert.match(exch.request, /code=pa_ac_[A-Za-z0-9_-]{4}\u2026/);
    assert.match(exch.request, /code_verifier=[A-Za-z0-9_-]{10}\u2026/);
    assert.match(exch.response, /"access_token": "pa_at_[A-Za-z0-9_-]{4}\u2026"/);
    assert.match(exch.response, /"refresh_token": "pa_rt_[A-Za-z0-9_-]{4}\u2026"/);
    assert.match(exch.response, /^cache-control: no-store$/mi);
    const cb = (await page.locator('#log > li').nth(1).locator('.checks li').allInnerTexts()).join('\n');
    assert.match(cb, /state matches the one sent/);
    assert.ok(cb.includes(`iss=${base} is the issuer`), cb);

    const access1 = await page.locator('#access-token').innerText();
    assert.match(access1, MASKED_ACCESS_RE);
    assert.match(await page.locator('#refresh-token').innerText(), MASKED_REFRESH_RE);
    assert.match(await page.locator('#token-scope').innerText(), /todo\.read todo\.write/);
    await page.screenshot({ path: join(OUT, '03-signed-in.png'), fullPage: true });

    // 3. The API.
    let e = await clickAndLog(page, 'List todos');
    assert.equal(e.status, '200', e.response);
    assert.match(e.request, /^GET \/api\/todos HTTP\/1\.1$/m);
    assert.match(e.request, /^Authorization: Bearer pa_at_[A-Za-z0-9_-]{4}\u2026$/m);
    assert.match(e.response, /"todos": \[\]/);
    assert.match(await page.locator('#todos').innerText(), /The list is empty/);

    for (const text of ['Buy milk', 'Try the playground in dark mode']) {
      await page.getByLabel('New todo').fill(text);
      e = await clickAndLog(page, 'Add todo');
      assert.equal(e.status, '201', e.response);
      assert.match(e.request, /^POST \/api\/todos HTTP\/1\.1$/m);
      assert.match(e.request, /^Content-Type: application\/json$/m);
      assert.ok(e.request.endsWith(JSON.stringify({ text })), e.request);
      assert.ok(e.response.includes(`"text": "${text}"`), e.response);
    }
    e = await clickAndLog(page, 'List todos');
    assert.equal(e.status, '200', e.response);
    const items = await page.locator('#todos li .text').allInnerTexts();
    assert.deepEqual(items, ['Buy milk', 'Try the playground in dark mode']);
    e = await clickAndLog(page, 'Delete Try the playground in dark mode');
    assert.equal(e.status, '204', e.response);
    assert.match(e.request, /^DELETE \/api\/todos\/[^ ]+ HTTP\/1\.1$/m);
    assert.deepEqual(await page.locator('#todos li .text').allInnerTexts(), ['Buy milk']);
    await page.screenshot({ path: join(OUT, '04-api.png'), fullPage: true });

    // Refresh: new tokens, the API takes the new one.
    e = await clickAndLog(page, 'Refresh token');
    assert.equal(e.status, '200', e.response);
    assert.match(e.request, /grant_type=refresh_token/);
    assert.match(e.request, /refresh_token=pa_rt_[A-Za-z0-9_-]{4}\u2026/);
    const access2 = await page.locator('#access-token').innerText();
    assert.match(access2, MASKED_ACCESS_RE);
    assert.notEqual(access2, access1, 'a new access token');
    e = await clickAndLog(page, 'List todos');
    assert.equal(e.status, '200', e.response);
    assert.ok(e.request.includes(`Bearer ${access2}`), e.request);

    // Revoke: both tokens, each answered 200 (RFC 7009); then the API refuses.
    e = await clickAndLog(page, 'Revoke', 2);
    const revs = await page.locator('#log > li.http').evaluateAll((els) => els.slice(0, 2).map((el) => ({
      status: el.getAttribute('data-status'), label: el.querySelector('.ex-label').innerText,
      req: el.querySelector('pre').innerText,
    })));
    for (const r of revs) {
      assert.equal(r.status, '200', JSON.stringify(r));
      assert.match(r.req, /^POST \/oauth\/revoke HTTP\/1\.1$/m);
      assert.match(r.req, /client_id=demo-playground/);
      assert.match(r.req, /token=pa_(?:at|rt)_[A-Za-z0-9_-]{4}\u2026/);
    }
    await page.locator('#access-pill .pill.bad').waitFor();
    assert.match(await pageText(page), /Revocation takes effect at once/);
    // The server that revoked the token drops it from its cache: the very
    // next call is refused.
    e = await clickAndLog(page, 'List todos');
    assert.equal(e.status, '401', `the revoked token still works: ${e.response}`);
    assert.match(e.response, /^www-authenticate: Bearer .*error="invalid_token"/mi);
    await page.screenshot({ path: join(OUT, '05-revoked.png'), fullPage: true });

    // No whole token anywhere on the page.
    assert.doesNotMatch(await pageText(page), WHOLE_TOKEN_RE);
    dropExpected(problems, 401, `${base}/api/todos`);
    assertNoProblems(problems, log, 'playground flow');

    // The same page, dark and narrow.
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: join(OUT, '06-dark.png'), fullPage: true });
    await page.setViewportSize({ width: 420, height: 900 });
    await page.screenshot({ path: join(OUT, '07-narrow.png'), fullPage: true });
  } finally {
    await context.close();
  }
});

test('playground_callback_with_a_foreign_state_shows_an_error_and_exchanges_nothing', async () => {
  const { context, page, problems, log } = await openPage();
  try {
    // A sign-in started from this tab (its state kept), then a response with another state.
    await page.goto(demo.playgroundUrl);
    await ready(page);
    await Promise.all([page.waitForURL((u) => u.pathname === '/oauth/authorize'),
      page.getByRole('button', { name: 'Sign in with TODO List', exact: true }).click()]);
    const u = new URL('/demo/callback', base);
    u.searchParams.set('code', `pa_ac_${'A'.repeat(43)}`);
    u.searchParams.set('state', 'not-from-this-tab');
    u.searchParams.set('iss', base);
    await page.goto(u.href);
    await ready(page);
    const alert = page.locator('#signin-error .alert[role=alert]');
    await alert.waitFor();
    assert.match(await alert.innerText(), /Sign-in failed: state does not match the one sent/);
    assert.equal(new URL(page.url()).pathname, '/demo');
    const n = await newest(page);
    assert.equal(n.method, 'CALLBACK');
    assert.ok(n.checks.some((c) => /state does not match/.test(c)), JSON.stringify(n.checks));
    const posts = await page.locator('#log > li.http .verb.post').count();
    assert.equal(posts, 0, 'no token request');
    assert.equal(await page.locator('#tokens').isHidden(), true);
    assert.equal(await page.locator('#handrun').isHidden(), true);
    assert.doesNotMatch(await pageText(page), WHOLE_TOKEN_RE);
    await page.screenshot({ path: join(OUT, '08-bad-state.png'), fullPage: true });
    assertNoProblems(problems, log, 'foreign state');
  } finally {
    await context.close();
  }
});

test('playground_opened_on_another_origin_says_where_to_open_it', async () => {
  const { context, page, problems, log } = await openPage();
  try {
    const other = base.replace('127.0.0.1', 'localhost');
    await page.goto(`${other}/demo`);
    await ready(page);
    const alert = page.locator('#signin-error .alert[role=alert]');
    await alert.waitFor();
    assert.ok((await alert.innerText()).includes(`${base}/demo`), await alert.innerText());
    assert.equal(await page.getByRole('button', { name: 'Sign in with TODO List', exact: true }).isDisabled(), true);
    assertNoProblems(problems, log, 'other origin');
  } finally {
    await context.close();
  }
});
