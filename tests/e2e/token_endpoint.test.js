// POST /oauth/token, grant_type=client_credentials (RFC 6749 §4.4, §2.3.1, §5), as
// ChatGPT plugins (JSON or form body) and GPT Actions (form body, credentials in the body
// or in HTTP Basic) send it.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  FORM, JSON_TYPE,
  assertOAuthError, assertTokenResponse, basic, describeResponse, fakeSecret, get,
  postToken, rawRequest,
} from './lib/http.js';
import { createPlugauth } from './lib/server.js';

let pa;
let base;
let conf;        // confidential client, default scopes
let narrow;      // confidential client registered with --scope todo.read
let pub;         // public client
const seen = new Set();   // every token and secret the test saw: none may reach the log

function remember(...values) {
  for (const v of values) if (typeof v === 'string' && v.length > 0) seen.add(v);
}

// Issues a token and remembers it.
function ok(res, opts) {
  const b = assertTokenResponse(res, opts);
  remember(b.access_token);
  return b;
}

const CC = { grant_type: 'client_credentials' };

before(async () => {
  pa = createPlugauth();
  conf = pa.addClient({ name: 'conf', redirectUris: ['https://chat.openai.com/aip/plugin-1234/oauth/callback'] });
  narrow = pa.addClient({ name: 'narrow', scope: 'todo.read' });
  pub = pa.addClient({ name: 'public', isPublic: true });
  remember(conf.client_secret, narrow.client_secret);
  base = await pa.start();
});

after(async () => {
  await pa?.cleanup();
});

// --- success: form or JSON body x Basic or body credentials -------------------------

test('client_credentials_form_body_post_auth', async () => {
  const res = await postToken(base, {
    body: { ...CC, client_id: conf.client_id, client_secret: conf.client_secret },
  });
  ok(res);
});

test('client_credentials_form_body_basic_auth', async () => {
  const res = await postToken(base, {
    body: CC, authorization: basic(conf.client_id, conf.client_secret),
  });
  ok(res);
});

test('client_credentials_json_body_post_auth', async () => {
  const res = await postToken(base, {
    contentType: JSON_TYPE,
    body: { ...CC, client_id: conf.client_id, client_secret: conf.client_secret },
  });
  ok(res);
});

test('client_credentials_json_body_basic_auth', async () => {
  const res = await postToken(base, {
    contentType: JSON_TYPE, body: CC, authorization: basic(conf.client_id, conf.client_secret),
  });
  ok(res);
});

test('client_credentials_json_charset_utf8', async () => {
  const res = await postToken(base, {
    contentType: 'application/json; charset=utf-8',
    body: { ...CC, client_id: conf.client_id, client_secret: conf.client_secret },
  });
  ok(res);
});

test('basic_auth_with_same_client_id_in_body', async () => {
  // GPT Actions with "Basic authorization header" still put client_id in the body.
  const res = await postToken(base, {
    body: { ...CC, client_id: conf.client_id },
    authorization: basic(conf.client_id, conf.client_secret),
  });
  ok(res);
});

test('access_tokens_are_distinct', async () => {
  const tokens = new Set();
  for (let i = 0; i < 5; i++) {
    const res = await postToken(base, { body: CC, authorization: basic(conf.client_id, conf.client_secret) });
    tokens.add(ok(res).access_token);
  }
  assert.equal(tokens.size, 5);
});

// --- scope ---------------------------------------------------------------------------

test('scope_absent_gives_default_scope', async () => {
  const res = await postToken(base, { body: CC, authorization: basic(conf.client_id, conf.client_secret) });
  ok(res, { scope: 'todo.read' });
});

test('scope_empty_gives_default_scope', async () => {
  const form = await postToken(base, {
    body: { ...CC, scope: '' }, authorization: basic(conf.client_id, conf.client_secret),
  });
  ok(form, { scope: 'todo.read' });
  const json = await postToken(base, {
    contentType: JSON_TYPE, body: { ...CC, scope: '' },
    authorization: basic(conf.client_id, conf.client_secret),
  });
  ok(json, { scope: 'todo.read' });
});

test('scope_two_known_scopes_granted', async () => {
  const res = await postToken(base, {
    body: { ...CC, scope: 'todo.read todo.write' },
    authorization: basic(conf.client_id, conf.client_secret),
  });
  ok(res, { scope: 'todo.read todo.write' });
});

test('scope_unknown_invalid_scope', async () => {
  const res = await postToken(base, {
    body: { ...CC, scope: 'todo.read admin' },
    authorization: basic(conf.client_id, conf.client_secret),
  });
  assertOAuthError(res, 400, 'invalid_scope');
});

test('scope_beyond_client_registration_invalid_scope', async () => {
  const res = await postToken(base, {
    body: { ...CC, scope: 'todo.write' },
    authorization: basic(narrow.client_id, narrow.client_secret),
  });
  assertOAuthError(res, 400, 'invalid_scope');
  // …while the scope it was registered with is granted.
  const okRes = await postToken(base, {
    body: { ...CC, scope: 'todo.read' },
    authorization: basic(narrow.client_id, narrow.client_secret),
  });
  ok(okRes, { scope: 'todo.read' });
});

// --- request errors (RFC 6749 §5.2) ----------------------------------------------------

test('missing_grant_type_invalid_request', async () => {
  const res = await postToken(base, {
    body: { client_id: conf.client_id, client_secret: conf.client_secret },
  });
  assertOAuthError(res, 400, 'invalid_request');
});

test('unknown_grant_type_unsupported_grant_type', async () => {
  const res = await postToken(base, {
    body: { grant_type: 'urn:example:magic' },
    authorization: basic(conf.client_id, conf.client_secret),
  });
  assertOAuthError(res, 400, 'unsupported_grant_type');
});

test('repeated_parameter_invalid_request', async () => {
  const res = await postToken(base, {
    body: 'grant_type=client_credentials&grant_type=client_credentials',
    authorization: basic(conf.client_id, conf.client_secret),
  });
  assertOAuthError(res, 400, 'invalid_request');
});

test('malformed_percent_encoding_invalid_request', async () => {
  const res = await postToken(base, {
    body: 'grant_type=client_credentials&scope=%zz',
    authorization: basic(conf.client_id, conf.client_secret),
  });
  assertOAuthError(res, 400, 'invalid_request');
});

test('json_body_not_an_object_invalid_request', async () => {
  for (const body of ['["grant_type","client_credentials"]', '"client_credentials"', 'null', '42']) {
    const res = await postToken(base, {
      contentType: JSON_TYPE, body, authorization: basic(conf.client_id, conf.client_secret),
    });
    assert.doesNotThrow(() => assertOAuthError(res, 400, 'invalid_request'),
      `body ${body}: ${describeResponse(res)}`);
  }
});

test('json_body_invalid_json_invalid_request', async () => {
  for (const body of ['{"grant_type":', '{grant_type: "client_credentials"}', "{'grant_type':'client_credentials'}"]) {
    const res = await postToken(base, {
      contentType: JSON_TYPE, body, authorization: basic(conf.client_id, conf.client_secret),
    });
    assert.doesNotThrow(() => assertOAuthError(res, 400, 'invalid_request'),
      `body ${body}: ${describeResponse(res)}`);
  }
});

test('json_body_non_string_value_invalid_request', async () => {
  const bodies = [
    '{"grant_type":"client_credentials","scope":["todo.read"]}',
    '{"grant_type":"client_credentials","scope":1}',
    '{"grant_type":"client_credentials","scope":null}',
    '{"grant_type":"client_credentials","scope":{"a":"b"}}',
    '{"grant_type":true}',
  ];
  for (const body of bodies) {
    const res = await postToken(base, {
      contentType: JSON_TYPE, body, authorization: basic(conf.client_id, conf.client_secret),
    });
    assert.doesNotThrow(() => assertOAuthError(res, 400, 'invalid_request'),
      `body ${body}: ${describeResponse(res)}`);
  }
});

test('json_body_duplicate_key_invalid_request', async () => {
  const body = '{"grant_type":"client_credentials","grant_type":"client_credentials"}';
  const res = await postToken(base, {
    contentType: JSON_TYPE, body, authorization: basic(conf.client_id, conf.client_secret),
  });
  assertOAuthError(res, 400, 'invalid_request');
});

test('unsupported_content_type_invalid_request', async () => {
  const res = await postToken(base, {
    contentType: 'text/plain', body: 'grant_type=client_credentials',
    authorization: basic(conf.client_id, conf.client_secret),
  });
  assertOAuthError(res, 400, 'invalid_request');
});

// --- client authentication (RFC 6749 §2.3.1, §5.2) --------------------------------------

test('no_client_credentials_invalid_client', async () => {
  const res = await postToken(base, { body: CC });
  assertOAuthError(res, 401, 'invalid_client');
});

test('wrong_secret_in_body_invalid_client', async () => {
  const wrong = fakeSecret();
  remember(wrong);
  const res = await postToken(base, {
    body: { ...CC, client_id: conf.client_id, client_secret: wrong },
  });
  assertOAuthError(res, 401, 'invalid_client');
});

test('wrong_secret_via_basic_invalid_client_with_challenge', async () => {
  const wrong = fakeSecret();
  remember(wrong);
  const res = await postToken(base, { body: CC, authorization: basic(conf.client_id, wrong) });
  assertOAuthError(res, 401, 'invalid_client', { basicChallenge: true });
});

test('unknown_client_via_basic_invalid_client_with_challenge', async () => {
  const secret = fakeSecret();
  remember(secret);
  const res = await postToken(base, { body: CC, authorization: basic('no-such-client', secret) });
  assertOAuthError(res, 401, 'invalid_client', { basicChallenge: true });
});

test('malformed_basic_not_base64_invalid_client_with_challenge', async () => {
  const res = await postToken(base, { body: CC, authorization: 'Basic !!!not*base64%%%' });
  assertOAuthError(res, 401, 'invalid_client', { basicChallenge: true });
});

test('malformed_basic_no_colon_invalid_client_with_challenge', async () => {
  const res = await postToken(base, {
    body: CC, authorization: 'Basic ' + Buffer.from(conf.client_id).toString('base64'),
  });
  assertOAuthError(res, 401, 'invalid_client', { basicChallenge: true });
});

test('secret_in_basic_and_body_invalid_request', async () => {
  // RFC 6749 §2.3: a client MUST NOT use more than one authentication method per request.
  const res = await postToken(base, {
    body: { ...CC, client_id: conf.client_id, client_secret: conf.client_secret },
    authorization: basic(conf.client_id, conf.client_secret),
  });
  assertOAuthError(res, 400, 'invalid_request');
});

test('body_client_id_differs_from_basic_invalid_request', async () => {
  const res = await postToken(base, {
    body: { ...CC, client_id: narrow.client_id },
    authorization: basic(conf.client_id, conf.client_secret),
  });
  assertOAuthError(res, 400, 'invalid_request');
});

test('public_client_client_credentials_unauthorized_client', async () => {
  assert.ok(pub.client_secret === undefined || pub.client_secret === null,
    `a --public client has no secret: ${JSON.stringify(pub)}`);
  const res = await postToken(base, { body: { ...CC, client_id: pub.client_id } });
  assertOAuthError(res, 400, 'unauthorized_client');
});

test('removed_client_invalid_client', async () => {
  const c = pa.addClient({ name: 'doomed' });
  remember(c.client_secret);
  ok(await postToken(base, { body: CC, authorization: basic(c.client_id, c.client_secret) }));

  const r = pa.cli(['client', 'remove', c.client_id]);
  assert.equal(r.status, 0, r.stderr);

  const viaBody = await postToken(base, {
    body: { ...CC, client_id: c.client_id, client_secret: c.client_secret },
  });
  assertOAuthError(viaBody, 401, 'invalid_client');
  const viaBasic = await postToken(base, { body: CC, authorization: basic(c.client_id, c.client_secret) });
  assertOAuthError(viaBasic, 401, 'invalid_client', { basicChallenge: true });
});

test('rotate_secret_old_secret_stops_working_at_once', async () => {
  const c = pa.addClient({ name: 'rotating' });
  remember(c.client_secret);
  ok(await postToken(base, { body: CC, authorization: basic(c.client_id, c.client_secret) }));

  const r = pa.cli(['client', 'rotate-secret', c.client_id, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const rotated = JSON.parse(r.stdout);
  remember(rotated.client_secret);
  assert.match(rotated.client_secret, /^pa_cs_/);
  assert.notEqual(rotated.client_secret, c.client_secret);

  const old = await postToken(base, { body: CC, authorization: basic(c.client_id, c.client_secret) });
  assertOAuthError(old, 401, 'invalid_client', { basicChallenge: true });
  const oldBody = await postToken(base, {
    body: { ...CC, client_id: c.client_id, client_secret: c.client_secret },
  });
  assertOAuthError(oldBody, 401, 'invalid_client');
  ok(await postToken(base, { body: CC, authorization: basic(c.client_id, rotated.client_secret) }));
  ok(await postToken(base, {
    body: { ...CC, client_id: c.client_id, client_secret: rotated.client_secret },
  }));
});

// --- encodings the RFCs allow ------------------------------------------------------------

test('basic_credentials_are_form_urldecoded', async () => {
  // RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic; the server decodes.
  // Over-encoding every character must therefore still authenticate.
  const enc = (s) => [...Buffer.from(s)].map((b) => '%' + b.toString(16).toUpperCase().padStart(2, '0')).join('');
  const raw = `${enc(conf.client_id)}:${enc(conf.client_secret)}`;
  const res = await postToken(base, {
    body: CC, authorization: 'Basic ' + Buffer.from(raw).toString('base64'),
  });
  ok(res);
});

test('basic_scheme_is_case_insensitive', async () => {
  // RFC 9110 §11.1: the authentication scheme is case-insensitive.
  const b64 = basic(conf.client_id, conf.client_secret).slice('Basic '.length);
  ok(await postToken(base, { body: CC, authorization: `basic ${b64}` }));
  ok(await postToken(base, { body: CC, authorization: `BASIC ${b64}` }));
});

test('form_scope_space_as_plus_or_percent20', async () => {
  for (const body of ['grant_type=client_credentials&scope=todo.read+todo.write',
    'grant_type=client_credentials&scope=todo.read%20todo.write']) {
    const res = await postToken(base, { body, authorization: basic(conf.client_id, conf.client_secret) });
    ok(res, { scope: 'todo.read todo.write' });
  }
});

test('unknown_parameters_ignored', async () => {
  // RFC 6749 §3.2: the server MUST ignore unrecognized request parameters.
  ok(await postToken(base, {
    body: { ...CC, foo: 'bar', redirect_uri: 'https://client.example/cb' },
    authorization: basic(conf.client_id, conf.client_secret),
  }));
  ok(await postToken(base, {
    contentType: JSON_TYPE,
    body: { ...CC, client_id: conf.client_id, client_secret: conf.client_secret, foo: 'bar' },
  }));
});

test('concurrent_requests_all_succeed_with_distinct_tokens', async () => {
  const reqs = [];
  for (let i = 0; i < 24; i++) {
    reqs.push(postToken(base, i % 2
      ? { body: CC, authorization: basic(conf.client_id, conf.client_secret) }
      : { contentType: JSON_TYPE, body: { ...CC, client_id: conf.client_id, client_secret: conf.client_secret } }));
  }
  const tokens = new Set((await Promise.all(reqs)).map((r) => ok(r).access_token));
  assert.equal(tokens.size, 24);
});

// --- limits ---------------------------------------------------------------------------

test('body_over_limit_413_and_server_keeps_serving', async () => {
  const body = 'grant_type=client_credentials&pad=' + 'a'.repeat(100 * 1024);
  const res = await rawRequest(base, {
    headers: {
      'content-type': FORM,
      authorization: basic(conf.client_id, conf.client_secret),
    },
    body,
  });
  assert.equal(res.status, 413, describeResponse(res));
  assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/i, describeResponse(res));
  assert.ok(res.json && typeof res.json === 'object', `413 should carry a JSON body: ${describeResponse(res)}`);

  const health = await get(base, '/healthz');
  assert.equal(health.status, 200, describeResponse(health));
  ok(await postToken(base, { body: CC, authorization: basic(conf.client_id, conf.client_secret) }));
});

test('body_under_limit_accepted', async () => {
  // 60 KB of an unknown parameter: under the default body_max_bytes (65536).
  const body = 'grant_type=client_credentials&pad=' + 'a'.repeat(60 * 1024);
  ok(await postToken(base, { body, authorization: basic(conf.client_id, conf.client_secret) }));
});

test('chunked_body_over_limit_413_and_server_keeps_serving', async () => {
  // No Content-Length: the limit must hold for a chunked upload too.
  const body = 'grant_type=client_credentials&pad=' + 'a'.repeat(100 * 1024);
  const res = await rawRequest(base, {
    headers: {
      'content-type': FORM,
      authorization: basic(conf.client_id, conf.client_secret),
    },
    body,
    chunked: true,
  });
  assert.equal(res.status, 413, describeResponse(res));
  assert.ok(res.json && typeof res.json === 'object', `413 should carry a JSON body: ${describeResponse(res)}`);
  ok(await postToken(base, { body: CC, authorization: basic(conf.client_id, conf.client_secret) }));
});

// --- last: nothing secret in the log ----------------------------------------------------

test('server_log_never_contains_tokens_or_secrets', async () => {
  const code = await pa.stop();
  assert.equal(code, 0, `SIGTERM should exit 0; log:\n${pa.log}`);
  assert.ok(seen.size > 5, 'the test should have seen tokens and secrets');
  const leaked = [...seen].filter((s) => pa.log.includes(s));
  assert.deepEqual(leaked, [], 'the server log contains tokens or secrets');
});
