// The demo playground's GPT Action mode and the hand-run code flow that `plugauth demo`
// prints, in Debian's Chromium through playwright-core.
//
// GPT Action mode does ChatGPT's exchange for a GPT Action: the confidential client
// demo-client, no PKCE, a form-encoded token request with the client secret in an HTTP
// Basic header or (the GPT editor's "Default (POST request)") in the body. What goes on
// the wire is read from the browser's own requests; what the page shows must mask the
// secret. The scope the page asks for is the manifest's auth.scope.
//
// The hand-run flow: the authorization URL `plugauth demo` prints, opened with a state
// carrying markup, lands on /demo/callback, which shows the code and the state as text;
// the printed curl command then exchanges that code.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { DEMO_CLIENT_ID, DEMO_PASSWORD, DEMO_USER, startDemo } from './lib/demo.js';
import { basic, describeResponse, get } from './lib/http.js';
import {
  assertNoProblems, clickAndLog, launchChromium, newest, openPage, pageText, ready, signInAndAllow,
} from './lib/playground.js';

const OUT = join(dirname(fileURLToPath(import.meta.url)), 'output', 'playground');
const FORM_RE = /^application\/x-www-form-urlencoded\b/;
const CODE_RE = /^pa_ac_[A-Za-z0-9_-]{43}$/;
const ACCESS_RE = /^pa_at_[A-Za-z0-9_-]{43}$/;
const MARKUP_STATE = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'&amp;';

let demo;
let base;
let browser;
let manifestScope;

before(async () => {
  mkdirSync(OUT, { recursive: true });
  demo = await startDemo();
  base = demo.base;
  browser = await launchChromium();
  const m = await get(base, '/.well-known/ai-plugin.json');
  assert.equal(m.status, 200, describeResponse(m));
  manifestScope = m.json.auth.scope;
});

after(async () => {
  await browser?.close();
  await demo?.stop();
});

// The token requests the page sends, as they leave the browser.
function recordTokenRequests(page) {
  const seen = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname === '/oauth/token') {
      seen.push({ headers: r.headers(), body: new URLSearchParams(r.postData() ?? '') });
    }
  });
  return seen;
}

// /demo in GPT Action mode with the demo client's secret and the given token exchange
// method, then Sign in: resolves on the authorization request's URL.
async function startActionSignIn(page, method) {
  await page.goto(`${base}/demo`);
  await ready(page);
  await page.getByLabel('GPT Action: confidential client, no PKCE').check();
  const signIn = page.getByRole('button', { name: 'Sign in with TODO List', exact: true });
  assert.equal(await signIn.isDisabled(), true, 'no sign-in before a secret is entered');
  assert.equal(await page.getByLabel('Client ID').inputValue(), DEMO_CLIENT_ID);
  await page.getByLabel('Client Secret').fill(demo.clientSecret);
  await page.getByLabel(method === 'post' ? 'Default (POST request)' : 'Basic authorization header').check();
  await page.screenshot({ path: join(OUT, `10-action-${method}-settings.png`), fullPage: true });
  await Promise.all([page.waitForURL((u) => u.pathname === '/oauth/authorize'), signIn.click()]);
  const authz = new URL(page.url()).searchParams;
  assert.equal(authz.get('response_type'), 'code');
  assert.equal(authz.get('client_id'), DEMO_CLIENT_ID);
  assert.equal(authz.get('redirect_uri'), `${base}/demo/callback`);
  assert.equal(authz.get('scope'), manifestScope, 'the scope asked for is the manifest\'s');
  assert.match(authz.get('state') ?? '', /^[A-Za-z0-9_-]{22}$/);
  assert.equal(authz.get('code_challenge'), null, 'no PKCE');
  assert.equal(authz.get('code_challenge_method'), null, 'no PKCE');
}

// After the exchange: the one token request on the wire and the page's log entry of it.
async function exchanged(page, wire) {
  await page.locator('#tokens').waitFor({ state: 'visible' });
  assert.equal(wire.length, 1, 'one token request');
  const sent = wire[0];
  assert.match(sent.headers['content-type'] ?? '', FORM_RE);
  assert.equal(sent.body.get('grant_type'), 'authorization_code');
  assert.match(sent.body.get('code') ?? '', CODE_RE);
  assert.equal(sent.body.get('redirect_uri'), `${base}/demo/callback`);
  assert.equal(sent.body.get('code_verifier'), null, 'no PKCE');
  const e = await newest(page, 'li.http');
  assert.equal(e.status, '200', e.response);
  assert.match(e.request, /^POST \/oauth\/token HTTP\/1\.1$/m);
  assert.match(e.request, /^Content-Type: application\/x-www-form-urlencoded$/m);
  assert.doesNotMatch(e.request, /code_verifier/);
  assert.match(e.response, /"access_token": "pa_at_[A-Za-z0-9_-]{4}\u2026"/);
  assert.match(e.response, /"refresh_token": "pa_rt_[A-Za-z0-9_-]{4}\u2026"/);
  assert.equal(await page.locator('#token-scope').innerText(), manifestScope);
  return { sent, e };
}

// No whole secret, code or token on the page, nor in what it keeps in sessionStorage
// besides the secret typed in (the log and the tokens are kept masked or as tokens).
async function assertSecretHidden(page) {
  assert.ok(!(await pageText(page)).includes(demo.clientSecret), 'the secret is not shown');
  const b64 = basic(DEMO_CLIENT_ID, demo.clientSecret).slice('Basic '.length);
  assert.ok(!(await pageText(page)).includes(b64), 'the Basic credentials are not shown');
  const log = await page.evaluate(() => sessionStorage.getItem('plugauth.playground.log'));
  assert.ok(!log.includes(demo.clientSecret) && !log.includes(b64), 'the kept log masks the secret');
}

test('manifest_scope_is_the_one_the_playground_asks_for', async () => {
  assert.equal(manifestScope, 'todo.read todo.write', 'the demo manifest names both scopes');
  const { context, page, problems, log } = await openPage(browser);
  try {
    await page.goto(`${base}/demo`);
    await ready(page);
    assert.match(await page.locator('#manifest').innerText(), new RegExp(`auth\\.scope\\s+${manifestScope}`));
    await Promise.all([page.waitForURL((u) => u.pathname === '/oauth/authorize'),
      page.getByRole('button', { name: 'Sign in with TODO List', exact: true }).click()]);
    assert.equal(new URL(page.url()).searchParams.get('scope'), manifestScope);
    assertNoProblems(problems, log, 'manifest scope');
  } finally {
    await context.close();
  }
});

test('gpt_action_basic_signs_in_without_pkce_exchanges_with_basic_and_calls_the_api', async () => {
  const { context, page, problems, log } = await openPage(browser);
  try {
    const wire = recordTokenRequests(page);
    await startActionSignIn(page, 'basic');
    await signInAndAllow(page, DEMO_USER, DEMO_PASSWORD);
    const { sent, e } = await exchanged(page, wire);
    assert.equal(sent.headers.authorization, basic(DEMO_CLIENT_ID, demo.clientSecret));
    assert.equal(sent.body.get('client_secret'), null, 'the secret only in the header');
    assert.equal(sent.body.get('client_id'), null);
    assert.match(e.label, /GPT Action: HTTP Basic header/);
    assert.match(e.request, /^Authorization: Basic [A-Za-z0-9+/=]{10}\u2026$/m);

    let r = await clickAndLog(page, 'List todos');
    assert.equal(r.status, '200', r.response);
    await page.getByLabel('New todo').fill('From a GPT Action');
    r = await clickAndLog(page, 'Add todo');
    assert.equal(r.status, '201', `todo.write granted: ${r.response}`);

    r = await clickAndLog(page, 'Refresh token');
    assert.equal(r.status, '200', r.response);
    assert.equal(wire.length, 2);
    assert.equal(wire[1].headers.authorization, basic(DEMO_CLIENT_ID, demo.clientSecret), 'refresh with Basic too');
    assert.equal(wire[1].body.get('grant_type'), 'refresh_token');
    assert.match(r.request, /^Authorization: Basic [A-Za-z0-9+/=]{10}\u2026$/m);
    r = await clickAndLog(page, 'List todos');
    assert.equal(r.status, '200', r.response);

    await assertSecretHidden(page);
    await page.screenshot({ path: join(OUT, '11-action-basic-signed-in.png'), fullPage: true });
    assertNoProblems(problems, log, 'GPT Action, Basic');
  } finally {
    await context.close();
  }
});

test('gpt_action_post_method_sends_the_secret_in_the_form_body_masked_in_the_page', async () => {
  const user = 'action-post';
  const password = 'action post password 1';
  demo.addUser(user, password);
  const { context, page, problems, log } = await openPage(browser);
  try {
    const wire = recordTokenRequests(page);
    await startActionSignIn(page, 'post');
    await signInAndAllow(page, user, password);
    const { sent, e } = await exchanged(page, wire);
    assert.equal(sent.headers.authorization, undefined, 'no Authorization header');
    assert.equal(sent.body.get('client_id'), DEMO_CLIENT_ID);
    assert.equal(sent.body.get('client_secret'), demo.clientSecret);
    assert.match(e.label, /GPT Action: client_id and client_secret in the form body/);
    assert.match(e.request, /client_secret=pa_cs_[A-Za-z0-9_-]{4}\u2026/);

    const r = await clickAndLog(page, 'List todos');
    assert.equal(r.status, '200', r.response);
    // Revocation as the confidential client, with its secret in the body.
    await clickAndLog(page, 'Revoke', 2);
    const revs = await page.locator('#log > li.http').evaluateAll((els) => els.slice(0, 2).map((el) => ({
      status: el.getAttribute('data-status'), req: el.querySelector('pre').innerText,
    })));
    for (const rv of revs) {
      assert.equal(rv.status, '200', JSON.stringify(rv));
      assert.match(rv.req, /client_secret=pa_cs_[A-Za-z0-9_-]{4}\u2026/);
    }
    await assertSecretHidden(page);
    assertNoProblems(problems, log, 'GPT Action, POST');
  } finally {
    await context.close();
  }
});

test('hand_run_code_flow_lands_on_a_demo_page_showing_code_and_state_as_text', async () => {
  // Step 1 as printed, with a state full of markup.
  const printed = /^\s*(http:\/\/\S+\/oauth\/authorize\?\S+)\s*$/m.exec(demo.stdout)?.[1];
  assert.ok(printed, demo.stdout);
  const url = new URL(printed);
  assert.equal(url.searchParams.get('client_id'), DEMO_CLIENT_ID);
  assert.equal(url.searchParams.get('redirect_uri'), `${base}/demo/callback`);
  assert.equal(url.searchParams.get('scope'), manifestScope);
  url.searchParams.set('state', MARKUP_STATE);
  const user = 'hand-run';
  const password = 'hand run password 1';
  demo.addUser(user, password);
  const { context, page, problems, log } = await openPage(browser);
  try {
    await page.goto(url.href);
    await signInAndAllow(page, user, password);
    await page.locator('#handrun').waitFor({ state: 'visible' });
    const kv = await page.locator('#handrun-kv dd').allInnerTexts();
    const dt = await page.locator('#handrun-kv dt').allInnerTexts();
    const shown = Object.fromEntries(dt.map((k, i) => [k, kv[i]]));
    assert.match(shown.code, CODE_RE);
    assert.equal(shown.state, MARKUP_STATE, 'the state as text');
    assert.equal(shown.iss, base);
    assert.equal(await page.locator('#handrun img, #handrun script').count(), 0, 'no markup from the state');
    assert.equal(await page.locator('script').count(), 1, 'only the page\'s own script');
    assert.equal(await page.locator('#log > li.http .verb.post').count(), 0, 'the page exchanges nothing');
    assert.equal(await page.locator('#signin-error .alert').count(), 0);
    await page.screenshot({ path: join(OUT, '12-hand-run.png'), fullPage: true });

    // Step 2 as printed, CODE replaced: a token. The page's command is the same one.
    const curl = /^\s*(curl -s -u \S+ -d grant_type=authorization_code .*)$/m.exec(demo.stdout)?.[1];
    assert.ok(curl && curl.includes(' code=CODE '), demo.stdout);
    const pageCurl = await page.locator('#handrun-curl').innerText();
    assert.equal(pageCurl.replace('CLIENT_SECRET', demo.clientSecret), curl.replace('CODE', shown.code));
    const r = spawnSync('sh', ['-c', curl.replace('CODE', shown.code)], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, `curl exited ${r.status}: ${r.stderr}`);
    const body = JSON.parse(r.stdout);
    assert.match(body.access_token ?? '', ACCESS_RE, r.stdout);
    assert.equal(body.scope, manifestScope, r.stdout);
    assertNoProblems(problems, log, 'hand-run callback');
  } finally {
    await context.close();
  }
});

test('demo_callback_puts_no_odd_code_in_a_shell_command', async () => {
  const { context, page, problems, log } = await openPage(browser);
  try {
    const u = new URL('/demo/callback', base);
    u.searchParams.set('code', "x'; touch /tmp/pwned; '$(id)");
    u.searchParams.set('state', 's');
    await page.goto(u.href);
    await ready(page);
    await page.locator('#handrun').waitFor({ state: 'visible' });
    assert.match(await page.locator('#handrun-curl').innerText(), /^No command: the code has characters a code never has\.$/);
    assert.ok((await page.locator('#handrun-kv').innerText()).includes("x'; touch /tmp/pwned; '$(id)"));
    assertNoProblems(problems, log, 'odd code');
  } finally {
    await context.close();
  }
});
