// GET /oauth/authorize when something is wrong (RFC 6749 §4.1.2.1, RFC 9700 §4.1.3).
// A request whose client or redirect_uri cannot be trusted gets an HTML error page and
// never a redirect; every other error goes back to the client's redirect_uri with
// `error`, the unchanged `state` and `iss`.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { describeResponse } from './lib/http.js';
import {
  Browser, MCP_CALLBACK, actionCallback, addChatgptClient, addExactClient, addMcpClient,
  assertErrorPage, assertHtmlPage, assertRedirectError, authorizePath, hex, isLoginForm,
  newState, pkce, pluginCallback, theForm,
} from './lib/flow.js';
import { createPlugauth } from './lib/server.js';

let pa;
let base;
let plugin;   // --chatgpt
let mcp;      // --public, exact https://chatgpt.com/connector/oauth/abc123
let exact;    // confidential, exact http://127.0.0.1:9/cb
const seen = new Set();

const browser = () => new Browser(base, seen);

function params(client, redirectUri, extra = []) {
  return [
    ['response_type', 'code'], ['client_id', client.client_id],
    ['redirect_uri', redirectUri], ['scope', ''], ['state', newState()], ...extra,
  ];
}

before(async () => {
  pa = createPlugauth();
  plugin = addChatgptClient(pa);
  mcp = addMcpClient(pa);
  exact = addExactClient(pa);
  seen.add(plugin.client_secret);
  seen.add(exact.client_secret);
  base = await pa.start();
});

after(async () => {
  await pa?.cleanup();
});

async function expectErrorPage(path, what) {
  const res = await browser().get(path);
  assert.doesNotThrow(() => assertErrorPage(res, 400), `${what}: ${describeResponse(res)}`);
  assert.doesNotThrow(() => assertHtmlPage(res, 400), `${what}: ${describeResponse(res)}`);
  return res;
}

// --- error page, no redirect ------------------------------------------------------------

test('unknown_client_id_error_page', async () => {
  await expectErrorPage(authorizePath([
    ['response_type', 'code'], ['client_id', `no-such-client-${hex(8)}`],
    ['redirect_uri', pluginCallback()], ['state', newState()],
  ]), 'unknown client_id');
});

test('missing_client_id_error_page', async () => {
  await expectErrorPage(authorizePath([
    ['response_type', 'code'], ['redirect_uri', pluginCallback()], ['scope', ''], ['state', newState()],
  ]), 'no client_id');
  await expectErrorPage(authorizePath([
    ['response_type', 'code'], ['client_id', ''], ['redirect_uri', pluginCallback()], ['state', newState()],
  ]), 'empty client_id');
});

test('unregistered_redirect_uri_error_page', async () => {
  const cases = [
    [exact, 'http://127.0.0.1:9/cb2'],
    [exact, 'http://127.0.0.1:9/cb/'],
    [exact, 'http://127.0.0.1:9/cb?x=1'],
    [exact, 'http://localhost:9/cb'],
    [exact, pluginCallback()],                          // exact client: no callback family
    [mcp, 'https://chatgpt.com/connector/oauth/abc1234'],
    [mcp, 'https://chatgpt.com/connector/oauth/other'],
    [mcp, 'https://chatgpt.com/connector/oauth/abc123/'],
    [plugin, 'https://client.example/cb'],
  ];
  for (const [client, uri] of cases) {
    await expectErrorPage(authorizePath(params(client, uri)), `${client.name} ${uri}`);
  }
});

test('chatgpt_callback_lookalikes_error_page', async () => {
  const g = `g-${hex(20)}`;
  const lookalikes = [
    'https://chat.openai.com.evil.example/aip/plugin-abc/oauth/callback',
    `https://chatgpt.com.evil.example/aip/${g}/oauth/callback`,
    `http://chatgpt.com/aip/${g}/oauth/callback`,
    'http://chat.openai.com/aip/plugin-abc/oauth/callback',
    `https://chatgpt.com/aip/${g}/oauth/callback/extra`,
    `https://chatgpt.com/aip/x/${g}/oauth/callback`,
    'https://chat.openai.com/aip/plugin-abc/extra/oauth/callback',
    'https://chat.openai.com/aip/plugin-abc%2F..%2Fevil/oauth/callback',
    `https://chatgpt.com/aip/${g}%2Foauth%2Fcallback`,
    `https://chatgpt.com/aip/g-${hex(20).toUpperCase()}/oauth/callback`,
    `https://chatgpt.com/aip/g-${hex(20).slice(1)}/oauth/callback`,
    `https://chatgpt.com/aip/g-${hex(21)}/oauth/callback`,
    'https://chat.openai.com/aip/plugin-ABC/oauth/callback',
    'https://chat.openai.com/aip/plugin-/oauth/callback',
    `https://chatgpt.com/aip/${g}/oauth/callback?x=1`,
    `https://chatgpt.com/aip/${g}/oauth/callback#frag`,
    `https://evil.example@chatgpt.com/aip/${g}/oauth/callback`,
    `https://chatgpt.com:8443/aip/${g}/oauth/callback`,
    `https://evil.example/aip/${g}/oauth/callback`,
    // ChatGPT app (MCP connector) look-alikes.
    'https://chatgpt.com/connector/oauth/',
    'https://chatgpt.com/connector/oauth/abc/',
    'https://chatgpt.com/connector/oauth/abc?x=1',
    'https://chatgpt.com/connector/oauth/a.b',
    'https://chatgpt.com/connector/oauth/a%2F..%2Fevil',
    `https://chatgpt.com/connector/oauth/${'a'.repeat(129)}`,
    'https://chat.openai.com/connector/oauth/abc',
    'https://chatgpt.com.evil.example/connector/oauth/abc',
    'http://chatgpt.com/connector/oauth/abc',
    'https://chatgpt.com/connector_platform_oauth_redirect/',
    'https://chatgpt.com/connector_platform_oauth_redirect?x=1',
  ];
  for (const uri of lookalikes) {
    await expectErrorPage(authorizePath(params(plugin, uri)), uri);
  }
});

test('chatgpt_callback_family_members_accepted', async () => {
  // The positive control for the look-alikes: each gets the login page.
  const members = [
    pluginCallback('chat.openai.com'),
    pluginCallback('chatgpt.com'),
    actionCallback('chat.openai.com'),
    actionCallback('chatgpt.com'),
    'https://chat.openai.com/aip/plugin-abc/oauth/callback',
    'https://chatgpt.com/connector/oauth/AbC_1-x',
    `https://chatgpt.com/connector/oauth/${'a'.repeat(128)}`,
    'https://chatgpt.com/connector_platform_oauth_redirect',
  ];
  for (const uri of members) {
    const res = await browser().get(authorizePath(params(plugin, uri)));
    assert.doesNotThrow(() => assertHtmlPage(res, 200), `${uri}: ${describeResponse(res)}`);
    assert.ok(isLoginForm(theForm(res)), `${uri}: ${describeResponse(res)}`);
  }
});

test('repeated_parameter_error_page', async () => {
  const redirect = pluginCallback();
  const id = plugin.client_id;
  const cases = {
    client_id: [['response_type', 'code'], ['client_id', id], ['client_id', id], ['redirect_uri', redirect], ['state', newState()]],
    redirect_uri: [['response_type', 'code'], ['client_id', id], ['redirect_uri', redirect], ['redirect_uri', redirect], ['state', newState()]],
    response_type: [['response_type', 'code'], ['response_type', 'code'], ['client_id', id], ['redirect_uri', redirect], ['state', newState()]],
    state: [['response_type', 'code'], ['client_id', id], ['redirect_uri', redirect], ['state', newState()], ['state', newState()]],
    scope: [['response_type', 'code'], ['client_id', id], ['redirect_uri', redirect], ['scope', 'todo.read'], ['scope', 'todo.read'], ['state', newState()]],
  };
  for (const [what, p] of Object.entries(cases)) {
    await expectErrorPage(authorizePath(p), `repeated ${what}`);
  }
});

// --- redirect back with error, state and iss -----------------------------------------------

async function expectRedirectError(p, redirectUri, error, what) {
  const state = p.find(([k]) => k === 'state')?.[1];
  const res = await browser().get(authorizePath(p));
  assert.equal(res.status, 302, `${what}: ${describeResponse(res)}`);
  assertRedirectError(res, redirectUri, error, state);
}

test('client_without_code_grant_unauthorized_client', async () => {
  // RFC 6749 §4.1.2.1: a client registered for client_credentials only gets no
  // authorization code (it could not redeem it); the error goes back to its URI.
  const redirect = 'http://127.0.0.1:9/cc-only';
  const cc = pa.addClient({ name: 'cc-only', redirectUris: [redirect], grants: ['client_credentials'] });
  seen.add(cc.client_secret);
  await expectRedirectError([
    ['response_type', 'code'], ['client_id', cc.client_id], ['redirect_uri', redirect],
    ['state', newState()],
  ], redirect, 'unauthorized_client', 'client_credentials-only client');
});

test('response_type_token_unsupported_response_type', async () => {
  const redirect = pluginCallback();
  await expectRedirectError([
    ['response_type', 'token'], ['client_id', plugin.client_id], ['redirect_uri', redirect],
    ['scope', ''], ['state', newState()],
  ], redirect, 'unsupported_response_type', 'response_type=token');
});

test('missing_response_type_invalid_request', async () => {
  const redirect = actionCallback();
  await expectRedirectError([
    ['client_id', plugin.client_id], ['redirect_uri', redirect], ['scope', ''], ['state', newState()],
  ], redirect, 'invalid_request', 'no response_type');
});

test('unknown_scope_invalid_scope', async () => {
  const redirect = pluginCallback();
  for (const scope of ['admin', 'todo.read admin']) {
    await expectRedirectError(params(plugin, redirect).map(([k, v]) => [k, k === 'scope' ? scope : v]),
      redirect, 'invalid_scope', `scope=${scope}`);
  }
});

test('public_client_without_code_challenge_invalid_request', async () => {
  await expectRedirectError(params(mcp, MCP_CALLBACK), MCP_CALLBACK, 'invalid_request',
    'public client, no PKCE');
});

test('code_challenge_method_plain_invalid_request', async () => {
  const { verifier } = pkce();
  // RFC 7636 plain: the challenge is the verifier itself.
  await expectRedirectError(params(mcp, MCP_CALLBACK, [
    ['code_challenge', verifier], ['code_challenge_method', 'plain'],
  ]), MCP_CALLBACK, 'invalid_request', 'public client, plain');
  const redirect = pluginCallback();
  await expectRedirectError(params(plugin, redirect, [
    ['code_challenge', verifier], ['code_challenge_method', 'plain'],
  ]), redirect, 'invalid_request', 'confidential client, plain');
});

// --- last: nothing secret in the log -------------------------------------------------------

test('server_log_never_contains_secrets', async () => {
  const code = await pa.stop();
  assert.equal(code, 0, `SIGTERM should exit 0; log:\n${pa.log}`);
  const leaked = [...seen].filter((s) => pa.log.includes(s));
  assert.deepEqual(leaked, [], 'the server log contains secrets');
});
