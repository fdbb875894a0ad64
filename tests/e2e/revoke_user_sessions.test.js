// `plugauth token revoke --user NAME` signs the user out as well: the next authorization
// asks for the password again instead of going through the old sign-in session.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { createPlugauth } from './lib/server.js';
import { Browser, addExactClient, addUser, isLoginForm, theForm } from './lib/flow.js';

const CB = 'http://127.0.0.1:9/cb';
let pa;
let base;

before(async () => {
  pa = createPlugauth();
  addUser(pa, 'alice');
  addUser(pa, 'bob');
  base = await pa.start();
});

after(async () => {
  await pa?.stop();
  await pa?.cleanup();
});

test('token_revoke_user_ends_sign_in_sessions', async () => {
  const c = addExactClient(pa, 'Revoke app', CB);
  const params = { response_type: 'code', client_id: c.client_id, redirect_uri: CB, state: 's1' };
  const alice = new Browser(base);
  const bob = new Browser(base);
  let r = await alice.authorize(params, { user: 'alice' });
  assert.deepEqual(r.steps, ['login', 'consent', 'redirect']);
  await bob.authorize(params, { user: 'bob' });
  // Signed in and consented: the next authorization goes straight through.
  r = await alice.authorize(params, { user: 'alice' });
  assert.deepEqual(r.steps, ['redirect']);

  const out = pa.cli(['token', 'revoke', '--user', 'alice']);
  assert.equal(out.status, 0, out.stderr);

  // The old session cookie no longer signs alice in: the login page again.
  const page = await alice.get(`/oauth/authorize?${new URLSearchParams(params)}`);
  assert.equal(page.status, 200, page.text);
  assert.ok(isLoginForm(theForm(page)), page.text);
  assert.match(out.stdout, /^revoked [0-9]+ tokens? of user alice and ended 1 sign-in session\n$/);
  r = await alice.authorize(params, { user: 'alice' });
  assert.deepEqual(r.steps, ['login', 'redirect']);
  // Only alice's: bob stays signed in.
  r = await bob.authorize(params, { user: 'bob' });
  assert.deepEqual(r.steps, ['redirect']);
});
