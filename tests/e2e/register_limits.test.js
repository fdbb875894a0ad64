// The abuse limits of dynamic client registration: a per-address rate limit
// ([oauth] registration_rate), a cap on registered clients
// ([oauth] registration_max_clients) and the sweep of registered clients that never
// obtained a token ([oauth] registration_unused_ttl). Each refusal stores nothing.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { FORM, describeResponse, readResponse } from './lib/http.js';
import { assertRegError, assertRegistered, clientList, register } from './lib/register.js';
import { createPlugauth } from './lib/server.js';

const started = [];

after(async () => {
  for (const pa of started) await pa.cleanup();
});

async function serve(env) {
  const pa = createPlugauth();
  started.push(pa);
  const base = await pa.start({ env: { PLUGAUTH_OAUTH_REGISTRATION: 'open', ...env } });
  return { pa, base };
}

const good = (i) => ({ redirect_uris: [`https://limits${i}.example/cb`], token_endpoint_auth_method: 'none' });

test('registration_rate_limited_per_address', async () => {
  const { pa, base } = await serve({ PLUGAUTH_OAUTH_REGISTRATION_RATE: '3' });
  // Refused requests count too: a flood of bad ones is a flood.
  assertRegError(await register(base, { redirect_uris: ['http://x.example/'] }), 400, 'invalid_redirect_uri');
  assertRegistered(await register(base, good(1)));
  assertRegistered(await register(base, good(2)));
  const before = clientList(pa).length;
  const res = await register(base, good(3));
  assertRegError(res, 429, 'invalid_request');
  const retry = Number(res.headers.get('retry-after'));
  assert.ok(retry >= 1 && retry <= 60, describeResponse(res));
  assert.equal(clientList(pa).length, before, 'nothing stored');
  // Other endpoints are not limited by it.
  const md = await fetch(`${base}/.well-known/oauth-authorization-server`);
  await md.arrayBuffer();
  assert.equal(md.status, 200);
});

test('registration_capped_by_registration_max_clients', async () => {
  const { pa, base } = await serve({ PLUGAUTH_OAUTH_REGISTRATION_MAX_CLIENTS: '2' });
  pa.addClient({ name: 'cli clients do not count' });
  assertRegistered(await register(base, good(1)));
  assertRegistered(await register(base, good(2)));
  const before = clientList(pa).length;
  const res = await register(base, good(3));
  const err = assertRegError(res, 400, 'invalid_request');
  assert.match(err.error_description, /registration_max_clients/);
  assert.equal(clientList(pa).length, before, 'nothing stored');
});

test('unused_registered_client_swept_used_one_kept', async () => {
  const { pa, base } = await serve({ PLUGAUTH_OAUTH_REGISTRATION_UNUSED_TTL: '2' });
  const cli = pa.addClient({ name: 'cli client, never used' });
  const unused = assertRegistered(await register(base, good(1)));
  const used = assertRegistered(await register(base, {
    grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_post',
  }));
  const tok = await readResponse(await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': FORM },
    body: new URLSearchParams({
      grant_type: 'client_credentials', client_id: used.client_id, client_secret: used.client_secret,
    }),
  }));
  assert.equal(tok.status, 200, describeResponse(tok));

  // The sweep runs at least every registration_unused_ttl seconds: poll for it.
  const deadline = Date.now() + 20_000;
  let ids = clientList(pa).map((c) => c.client_id);
  while (ids.includes(unused.client_id) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    ids = clientList(pa).map((c) => c.client_id);
  }
  assert.ok(!ids.includes(unused.client_id), 'the unused registered client is swept');
  assert.ok(ids.includes(used.client_id), 'a client that obtained a token stays');
  assert.ok(ids.includes(cli.client_id), 'an administrator\'s client stays');
  // The log line is written after the sweep's commit: wait for it too.
  while (!/event=registered_clients_swept deleted=1\b/.test(pa.log) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.match(pa.log, /event=registered_clients_swept deleted=1\b/);
});
