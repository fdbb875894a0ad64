// Changing a live client without breaking its users (issue 12, item 4): `client
// rotate-secret --grace` keeps the old secret valid for a window, `client update` changes
// the name, scope and redirect URIs in place (client_id, secret and tokens stay), and
// `consent revoke` makes the consent page appear again.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { assertOAuthError, basic, postToken } from './lib/http.js';
import {
  Browser, addUser, assertTokenPair, exchangeCode, isConsentForm, newState, refresh, theForm,
} from './lib/flow.js';
import { createPlugauth, jsonLines } from './lib/server.js';

const CC = { grant_type: 'client_credentials' };
const POLL_DEADLINE_MS = 15000;

let pa;
let base;
const seen = new Set();

function remember(...values) {
  for (const v of values) if (typeof v === 'string' && v.length > 0) seen.add(v);
}

// `client rotate-secret ID [args…] --json`, parsed.
function rotate(client, args = []) {
  const r = pa.cli(['client', 'rotate-secret', client.client_id, ...args, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  remember(out.client_secret);
  assert.match(out.client_secret, /^pa_cs_/);
  return out;
}

// A client_credentials request with this secret in a Basic header.
function withSecret(client, secret) {
  return postToken(base, { body: CC, authorization: basic(client.client_id, secret) });
}

async function assertSecretWorks(client, secret, what) {
  const res = await withSecret(client, secret);
  assert.equal(res.status, 200, `${what}: ${res.status} ${res.text}`);
}

async function assertSecretRefused(client, secret) {
  assertOAuthError(await withSecret(client, secret), 401, 'invalid_client', { basicChallenge: true });
}

function authParams(client, redirectUri, scope = 'todo.read') {
  return [
    ['response_type', 'code'], ['client_id', client.client_id], ['redirect_uri', redirectUri],
    ['scope', scope], ['state', newState()],
  ];
}

// alice (signed in on first use) authorizes `client`; returns the steps and the token pair.
async function signInAndExchange(browser, client, redirectUri, scope = 'todo.read') {
  const r = await browser.authorize(authParams(client, redirectUri, scope));
  assert.ok(r.code, `no code in ${r.location}`);
  const pair = assertTokenPair(await exchangeCode(base, 'form', client, { code: r.code, redirectUri }),
    { seen, scope });
  return { steps: r.steps, pair };
}

before(async () => {
  pa = createPlugauth();
  addUser(pa, 'alice');
  addUser(pa, 'bob');
  addUser(pa, 'carol');
  base = await pa.start();
});

after(async () => {
  await pa?.cleanup();
  // No secret this file minted or saw reached the server's log.
  for (const s of seen) assert.ok(!pa.log.includes(s), 'a secret reached the server log');
});

test('rotate_secret_grace_both_secrets_work_in_window', async () => {
  const c = pa.addClient({ name: 'grace long' });
  remember(c.client_secret);
  const browser = new Browser(base, seen);
  const { pair } = await signInAndExchange(browser, c, 'https://client.example/cb');

  const out = rotate(c, ['--grace', '1h']);
  const now = Date.now() / 1000;
  assert.ok(out.old_secret_valid_until >= now + 3600 - 60 && out.old_secret_valid_until <= now + 3600 + 60,
    `old_secret_valid_until ${out.old_secret_valid_until}`);
  const fresh = { client_id: c.client_id, client_secret: out.client_secret };

  // A GPT still holding the old secret refreshes; so does one given the new secret.
  const r1 = assertTokenPair(await refresh(base, 'form', c, pair.refresh_token), { seen });
  assertTokenPair(await refresh(base, 'basic', fresh, r1.refresh_token), { seen });
  await assertSecretWorks(c, c.client_secret, 'old secret within the window');
  await assertSecretWorks(c, out.client_secret, 'new secret');
  await assertSecretRefused(c, `${out.client_secret}x`);
});

test('rotate_secret_grace_old_secret_stops_after_window', async () => {
  const GRACE_S = 3;
  const c = pa.addClient({ name: 'grace short' });
  remember(c.client_secret);
  const t0 = Date.now();
  const out = rotate(c, ['--grace', `${GRACE_S}s`]);

  // Poll with the old secret until it is refused.
  let stoppedAt = null;
  while (Date.now() - t0 < POLL_DEADLINE_MS) {
    const res = await withSecret(c, c.client_secret);
    if (res.status === 401) {
      stoppedAt = Date.now();
      assertOAuthError(res, 401, 'invalid_client', { basicChallenge: true });
      break;
    }
    assert.equal(res.status, 200, `old secret in the window: ${res.status} ${res.text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(stoppedAt !== null, `the old secret still worked ${POLL_DEADLINE_MS} ms after the rotation`);
  // Never before the window ends (whole seconds: at most one early).
  assert.ok(stoppedAt - t0 >= (GRACE_S - 1) * 1000, `old secret refused after ${stoppedAt - t0} ms`);
  await assertSecretWorks(c, out.client_secret, 'new secret after the window');
  await assertSecretRefused(c, c.client_secret);
});

test('rotate_secret_second_rotation_keeps_one_previous_secret', async () => {
  const c = pa.addClient({ name: 'twice' });
  remember(c.client_secret);
  const s2 = rotate(c, ['--grace', '1h']).client_secret;
  const s3 = rotate(c, ['--grace', '1h']).client_secret;
  await assertSecretRefused(c, c.client_secret);
  await assertSecretWorks(c, s2, 'previous secret');
  await assertSecretWorks(c, s3, 'current secret');
});

test('rotate_secret_without_grace_ends_old_secrets_at_once', async () => {
  const c = pa.addClient({ name: 'no grace' });
  remember(c.client_secret);
  const s2 = rotate(c, ['--grace', '1h']).client_secret;
  await assertSecretWorks(c, c.client_secret, 'first secret in its window');
  const s3 = rotate(c).client_secret;
  await assertSecretRefused(c, c.client_secret);
  await assertSecretRefused(c, s2);
  await assertSecretWorks(c, s3, 'current secret');

  const text = pa.cli(['client', 'rotate-secret', c.client_id]);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /old secret no longer works/);
  remember(/client_secret:\s+(\S+)/.exec(text.stdout)?.[1]);
});

test('rotate_secret_bad_grace_is_usage_error', async () => {
  const c = pa.addClient({ name: 'bad grace' });
  remember(c.client_secret);
  for (const g of ['31d', '10x', '-5', '', 'h', '99999999999999999999']) {
    const r = pa.cli(['client', 'rotate-secret', c.client_id, '--grace', g]);
    assert.equal(r.status, 2, `--grace ${JSON.stringify(g)}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /--grace/);
  }
  const h = pa.cli(['client', 'rotate-secret', '--help']);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /--grace DURATION/);
  await assertSecretWorks(c, c.client_secret, 'secret after refused rotations');
});

test('client_update_keeps_tokens_and_changes_name_and_redirects', async () => {
  const oldUri = 'https://before.example/cb';
  const newUri = 'https://after.example/cb';
  const c = pa.addClient({ name: 'Before Name', redirectUris: [oldUri] });
  remember(c.client_secret);
  const both = 'todo.read todo.write';
  const { pair } = await signInAndExchange(new Browser(base, seen), c, oldUri, both);

  const r = pa.cli(['client', 'update', c.client_id, '--name', 'After Name',
    '--add-redirect-uri', newUri, '--remove-redirect-uri', oldUri, '--scope', 'todo.read', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const shown = JSON.parse(r.stdout);
  assert.equal(shown.client_id, c.client_id);
  assert.equal(shown.name, 'After Name');
  assert.equal(shown.scope, 'todo.read');
  assert.deepEqual(shown.redirect_uris, [newUri]);
  assert.equal(shown.client_secret, undefined, 'update never prints a secret');

  // The live refresh token and the secret still work; the narrower scope does not change
  // what was granted before.
  assertTokenPair(await refresh(base, 'form', c, pair.refresh_token), { seen, scope: both });

  // bob has not consented yet: the consent page names the client by its new name.
  const bob = new Browser(base, seen);
  let res = await bob.get(`/oauth/authorize?${new URLSearchParams(authParams(c, newUri))}`);
  res = await bob.submit(res, { username: 'bob', password: 'correct horse battery' });
  assert.equal(res.status, 200, res.text);
  assert.ok(isConsentForm(theForm(res)), 'a consent page');
  assert.match(res.text, /After Name/);
  assert.doesNotMatch(res.text, /Before Name/);

  // The removed redirect URI gets an error page, never a redirect.
  const gone = await bob.get(`/oauth/authorize?${new URLSearchParams(authParams(c, oldUri))}`);
  assert.equal(gone.status, 400, gone.text);
  assert.equal(gone.location, null);
});

test('client_update_refuses_bad_changes', async () => {
  const c = pa.addClient({ name: 'strict', redirectUris: ['https://only.example/cb'] });
  remember(c.client_secret);
  const id = c.client_id;
  const usage = [
    [],
    ['--name', ''],
    ['--name', 'bad\u0007name'],
    ['--add-redirect-uri', 'http://example.com/cb'],
    ['--add-redirect-uri', 'https://x.example/cb#frag'],
    ['--bogus'],
  ];
  for (const args of usage) {
    const r = pa.cli(['client', 'update', id, ...args]);
    assert.equal(r.status, 2, `${JSON.stringify(args)}: ${r.stderr}`);
  }
  assert.equal(pa.cli(['client', 'update', '--name', 'x']).status, 2, 'no client ID');
  const fail = [
    [['--remove-redirect-uri', 'https://only.example/cb'], /last redirect URI/],
    [['--remove-redirect-uri', 'https://other.example/cb'], /does not have/],
    [['--scope', 'todo.read nope'], /unknown scope/],
  ];
  for (const [args, re] of fail) {
    const r = pa.cli(['client', 'update', id, ...args]);
    assert.equal(r.status, 1, `${JSON.stringify(args)}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
  assert.equal(pa.cli(['client', 'update', 'no-such-client', '--name', 'x']).status, 1);

  // Nothing changed; a client_credentials-only client may lose its last URI.
  const list = jsonLines(pa.cli(['client', 'list', '--json']).stdout);
  const now = list.find((x) => x.client_id === id);
  assert.equal(now.name, 'strict');
  assert.deepEqual(now.redirect_uris, ['https://only.example/cb']);
  const m2m = pa.addClient({ name: 'm2m', grants: ['client_credentials'] });
  remember(m2m.client_secret);
  const r = pa.cli(['client', 'update', m2m.client_id, '--remove-redirect-uri', 'https://client.example/cb']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(pa.cli(['client', 'update', '--help']).stdout, /--add-redirect-uri/);
});

test('consent_revoke_shows_consent_page_again', async () => {
  const uri = 'https://consent.example/cb';
  const c = pa.addClient({ name: 'Consent app', redirectUris: [uri] });
  const other = pa.addClient({ name: 'Other app', redirectUris: [uri] });
  remember(c.client_secret, other.client_secret);
  const as = { user: 'carol' };
  const carol = new Browser(base, seen);   // has consented to nothing else

  assert.deepEqual((await carol.authorize(authParams(c, uri), as)).steps, ['login', 'consent', 'redirect']);
  assert.deepEqual((await carol.authorize(authParams(other, uri), as)).steps, ['consent', 'redirect']);
  assert.deepEqual((await carol.authorize(authParams(c, uri), as)).steps, ['redirect'], 'consent remembered');

  let r = pa.cli(['consent', 'revoke', '--user', 'carol', '--client', c.client_id]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /removed 1 consent\b/);
  assert.deepEqual((await carol.authorize(authParams(c, uri), as)).steps, ['consent', 'redirect']);
  assert.deepEqual((await carol.authorize(authParams(other, uri), as)).steps, ['redirect'], 'the other client kept');

  r = pa.cli(['consent', 'revoke', '--user', 'carol']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /removed 2 consents\b/);
  assert.deepEqual((await carol.authorize(authParams(other, uri), as)).steps, ['consent', 'redirect']);

  r = pa.cli(['consent', 'revoke', '--user', 'nobody']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no user 'nobody'/);
  assert.equal(pa.cli(['consent', 'revoke', '--user', 'carol', '--client', 'nope']).status, 1);
  assert.equal(pa.cli(['consent', 'revoke']).status, 2);
  assert.equal(pa.cli(['consent', 'forget', '--user', 'carol']).status, 2);
  assert.equal(pa.cli(['consent', 'revoke', '--user']).status, 2);
  const h = pa.cli(['consent', '--help']);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /consent revoke --user NAME/);
});
