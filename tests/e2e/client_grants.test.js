// Grant types per client (RFC 6749 §5.2 unauthorized_client): a --chatgpt or --public
// client, and by default any client, gets authorization_code and refresh_token only;
// `client add --grant client_credentials` opts a confidential client in. And client names:
// no control characters in, nothing raw out.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';

import { createPlugauth, jsonLines } from './lib/server.js';
import { Browser, addUser, exchangeCode, refresh } from './lib/flow.js';
import { assertOAuthError, basic, postToken } from './lib/http.js';

const CB = 'https://client.example/cb';
const CC = { grant_type: 'client_credentials' };
let pa;
let base;

before(async () => {
  pa = createPlugauth();
  addUser(pa, 'alice');
  base = await pa.start();
});

after(async () => {
  await pa?.stop();
  await pa?.cleanup();
});

function show(r) {
  return `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

function add(args) {
  const r = pa.cli(['client', 'add', ...args, '--json']);
  assert.equal(r.status, 0, show(r));
  return JSON.parse(r.stdout);
}

function listed(id) {
  const r = pa.cli(['client', 'list', '--json']);
  assert.equal(r.status, 0, show(r));
  return jsonLines(r.stdout).find((c) => c.client_id === id);
}

const ccWith = (c) => postToken(base, { body: CC, authorization: basic(c.client_id, c.client_secret) });

// A code for client c, through the browser (sign-in and consent).
async function codeFor(c) {
  const b = new Browser(base);
  return b.code({ response_type: 'code', client_id: c.client_id, redirect_uri: CB, state: 'st' });
}

test('chatgpt_client_client_credentials_unauthorized_client', async () => {
  const c = add(['--name', 'My GPT', '--chatgpt']);
  assert.deepEqual(c.grant_types, ['authorization_code', 'refresh_token']);
  assert.deepEqual(listed(c.client_id).grant_types, ['authorization_code', 'refresh_token']);
  const j = assertOAuthError(await ccWith(c), 400, 'unauthorized_client');
  assert.ok(!('access_token' in j));
  // Secret in the body, as ChatGPT's "Default (POST request)": the same.
  assertOAuthError(await postToken(base, { body: { ...CC, client_id: c.client_id, client_secret: c.client_secret } }),
    400, 'unauthorized_client');
});

test('default_client_has_no_client_credentials', async () => {
  const c = add(['--name', 'plain', '--redirect-uri', CB]);
  assert.deepEqual(c.grant_types, ['authorization_code', 'refresh_token']);
  assertOAuthError(await ccWith(c), 400, 'unauthorized_client');
  // Its code flow works, with a refresh token that refreshes.
  const code = await codeFor(c);
  let res = await exchangeCode(base, 'basic', c, { code, redirectUri: CB });
  let j = res.json;
  assert.equal(res.status, 200, JSON.stringify(j));
  assert.ok(j.refresh_token);
  res = await refresh(base, 'basic', c, j.refresh_token);
  j = res.json;
  assert.equal(res.status, 200, JSON.stringify(j));
});

test('grant_client_credentials_opts_in_and_only_that', async () => {
  // No redirect URI needed without authorization_code.
  const c = add(['--name', 'machine', '--grant', 'client_credentials']);
  assert.deepEqual(c.grant_types, ['client_credentials']);
  const res = await ccWith(c);
  const j = res.json;
  assert.equal(res.status, 200, JSON.stringify(j));
  assert.ok(j.access_token);
  assert.ok(!('refresh_token' in j));
  // Every grant is checked: the other two are refused before the code or token is looked at.
  assertOAuthError(await exchangeCode(base, 'basic', c, { code: 'pa_ac_nothing', redirectUri: CB }),
    400, 'unauthorized_client');
  assertOAuthError(await refresh(base, 'basic', c, 'pa_rt_nothing'), 400, 'unauthorized_client');

  const all = add(['--name', 'all', '--redirect-uri', CB, '--grant', 'authorization_code',
    '--grant', 'refresh_token', '--grant', 'client_credentials']);
  assert.deepEqual(all.grant_types, ['authorization_code', 'refresh_token', 'client_credentials']);
  assert.equal((await ccWith(all)).status, 200);
  const text = pa.cli(['client', 'list']);
  assert.match(text.stdout, /^CLIENT_ID +KIND +ORIGIN +NAME +GRANTS +SCOPE +ADDED\n/);
  assert.match(text.stdout, new RegExp(`${all.client_id} .* authorization_code,refresh_token,client_credentials `));
  assert.match(text.stdout, new RegExp(`${c.client_id} .* client_credentials +todo\\.read todo\\.write `));
});

test('client_without_refresh_grant_gets_no_refresh_token', async () => {
  const c = add(['--name', 'code only', '--redirect-uri', CB, '--grant', 'authorization_code']);
  const code = await codeFor(c);
  const res = await exchangeCode(base, 'basic', c, { code, redirectUri: CB });
  const j = res.json;
  assert.equal(res.status, 200, JSON.stringify(j));
  assert.ok(j.access_token);
  assert.ok(!('refresh_token' in j), JSON.stringify(j));
});

test('client_add_grant_refusals', () => {
  const before = pa.cli(['client', 'list', '--json']).stdout;
  for (const args of [
    ['--name', 'x', '--chatgpt', '--grant', 'client_credentials'],
    ['--name', 'x', '--public', '--redirect-uri', CB, '--grant', 'client_credentials'],
    ['--name', 'x', '--redirect-uri', CB, '--grant', 'password'],
    ['--name', 'x', '--grant', 'authorization_code'],   // a code needs a redirect URI
  ]) {
    const r = pa.cli(['client', 'add', ...args]);
    assert.equal(r.status, 2, `${args.join(' ')}: ${show(r)}`);
    assert.match(r.stderr, /^plugauth: .*\n$/, show(r));
  }
  // Nothing was registered.
  assert.equal(pa.cli(['client', 'list', '--json']).stdout, before);
});

test('client_name_control_characters_refused', () => {
  for (const name of ['a\x1b[31mred', 'tab\there', 'nl\nx', 'del\x7f', 'c1\u0085x', 'bidi\u202eevil',
    'zw\u200bj', '\ufeffbom']) {
    const r = pa.cli(['client', 'add', '--name', name, '--redirect-uri', CB]);
    assert.equal(r.status, 2, `${JSON.stringify(name)}: ${show(r)}`);
    assert.match(r.stderr, /--name must be UTF-8 text without control/, show(r));
  }
  // Printable Unicode is fine, and listed as it is.
  const c = add(['--name', 'Café ☕ 東京', '--redirect-uri', CB]);
  assert.equal(c.name, 'Café ☕ 東京');
  const r = pa.cli(['client', 'list']);
  assert.match(r.stdout, new RegExp(`${c.client_id} .* Café ☕ 東京 `));
});

test('client_list_escapes_stored_control_characters', () => {
  // A name stored before names were checked (or by other means): ESC, a newline, a bidi
  // override, a backslash, and a byte that is not UTF-8.
  const c = add(['--name', 'to-be-renamed', '--redirect-uri', CB]);
  const r0 = spawnSync('sqlite3', ['-batch', '-bail', pa.db,
    `UPDATE clients SET name = CAST(X'611b5b33316d0a62e280ae5cff' AS TEXT) WHERE id = '${c.client_id}';`],
  { encoding: 'utf8' });
  assert.equal(r0.status, 0, r0.stderr);
  const r = pa.cli(['client', 'list']);
  assert.equal(r.status, 0, show(r));
  const line = r.stdout.split('\n').find((l) => l.startsWith(c.client_id));
  assert.ok(line, r.stdout);
  assert.ok(line.includes('a\\x1B[31m\\x0Ab\\xE2\\x80\\xAE\\\\\\xFF'), line);
  assert.doesNotMatch(r.stdout, /[\x00-\x08\x0b-\x1f\x7f\u202e]/);
  // --json: valid JSON naming it (escaped, since it is not UTF-8).
  const j = listed(c.client_id);
  assert.equal(j.name, 'a\\x1B[31m\\x0Ab\\xE2\\x80\\xAE\\\\\\xFF');
  // Well-formed UTF-8: the bidi override as a code point; --json keeps it as it is.
  const u = add(['--name', 'to-be-renamed-too', '--redirect-uri', CB]);
  const r1 = spawnSync('sqlite3', ['-batch', '-bail', pa.db,
    `UPDATE clients SET name = 'x' || char(8238) || 'y' || char(27) WHERE id = '${u.client_id}';`],
  { encoding: 'utf8' });
  assert.equal(r1.status, 0, r1.stderr);
  const l2 = pa.cli(['client', 'list']).stdout.split('\n').find((l) => l.startsWith(u.client_id));
  assert.ok(l2.includes(' x\\u{202E}y\\x1B '), l2);
  assert.equal(listed(u.client_id).name, 'x\u202ey\x1b');
});
