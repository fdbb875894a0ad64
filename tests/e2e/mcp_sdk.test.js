// The demo's MCP server driven by the official MCP TypeScript SDK client
// (@modelcontextprotocol/sdk), with the SDK's own OAuth client code: from the 401 it
// finds the protected-resource metadata and the authorization server, registers itself
// dynamically (RFC 7591), sends the user through the real sign-in and consent pages
// (lib/flow.js Browser plays the user), exchanges the code with PKCE and `resource`
// (RFC 8707), lists and calls the TODO tools, and refreshes when its access token is
// revoked. The todo it adds is the user's: the demo TODO API shows it with the same token.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

import { FORM, describeResponse, form, get } from './lib/http.js';
import { DEMO_PASSWORD, DEMO_USER, startDemo } from './lib/demo.js';
import { SignInProvider } from './lib/mcp.js';

let demo;
let base;
const seen = new Set();

before(async () => {
  demo = await startDemo();
  base = demo.base;
});

after(async () => {
  await demo?.stop();
});

// The SDK's OAuthClientProvider, signing in through the real pages (lib/mcp.js).
class TestProvider extends SignInProvider {
  constructor(redirectUrl, user = DEMO_USER, password = DEMO_PASSWORD) {
    super({ base, redirectUrl, user, password, seen });
  }
}

// A fetch that records each request (method, URL, form body) for the test to read.
function recordingFetch(log) {
  return async (url, init = {}) => {
    const body = typeof init.body === 'string' ? init.body
      : init.body instanceof URLSearchParams ? init.body.toString() : undefined;
    const res = await fetch(url, init);
    log.push({ method: init.method ?? 'GET', url: String(url), body, status: res.status });
    return res;
  };
}

function newClient() {
  return new Client({ name: 'plugauth-e2e', version: '0.0.0' });
}

// Connects as the SDK user would: the first connect ends in UnauthorizedError after the
// sign-in, finishAuth() exchanges the code, and a second transport connects with the token.
async function connectWithSignIn(provider, log) {
  const mcpUrl = new URL(`${base}/mcp`);
  const first = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider, fetch: recordingFetch(log) });
  await assert.rejects(newClient().connect(first), UnauthorizedError);
  assert.ok(provider.code, 'the SDK sent the user to sign in');
  await first.finishAuth(provider.code);
  await first.close();
  const transport = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider, fetch: recordingFetch(log) });
  const client = newClient();
  await client.connect(transport);
  return { client, transport };
}

const textOf = (result) => result.content.find((c) => c.type === 'text')?.text;

test('mcp_sdk_client_discovers_registers_signs_in_calls_tools_and_refreshes', async () => {
  const log = [];
  const provider = new TestProvider('http://127.0.0.1:9/mcp-sdk/callback');
  const { client } = await connectWithSignIn(provider, log);
  try {
    // Discovery went the MCP way: 401 on /mcp, then the metadata it named.
    const first = log[0];
    assert.equal(first.method, 'POST');
    assert.equal(first.url, `${base}/mcp`);
    assert.equal(first.status, 401);
    assert.ok(log.some((r) => r.url === `${base}/.well-known/oauth-protected-resource` && r.status === 200),
      `protected-resource metadata fetched: ${JSON.stringify(log.map((r) => r.url))}`);
    assert.ok(log.some((r) => r.url.startsWith(`${base}/.well-known/oauth-authorization-server`) && r.status === 200),
      'authorization server metadata fetched');
    const reg = log.find((r) => r.url === `${base}/oauth/register`);
    assert.equal(reg?.status, 201, 'dynamic registration');
    assert.ok(provider.client?.client_id, 'the SDK saved its registered client');
    assert.equal(provider.client.client_secret, undefined, 'a public client: no secret');

    // The authorization request and the token request named the resource (RFC 8707),
    // with PKCE S256.
    const az = provider.authorizeUrl.searchParams;
    assert.equal(az.get('client_id'), provider.client.client_id);
    assert.equal(az.get('code_challenge_method'), 'S256');
    assert.equal(new URL(az.get('resource')).origin, base, `resource ${az.get('resource')}`);
    const tok = log.find((r) => r.url === `${base}/oauth/token` && r.status === 200);
    const tokBody = new URLSearchParams(tok?.body ?? '');
    assert.equal(tokBody.get('grant_type'), 'authorization_code');
    assert.equal(tokBody.get('resource'), az.get('resource'));
    assert.ok(tokBody.get('code_verifier'));

    // The server said who it is, and lists the three TODO tools with input schemas.
    assert.equal(client.getServerVersion()?.name, 'plugauth-demo');
    assert.ok(client.getServerCapabilities()?.tools, 'tools capability');
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ['add_todo', 'complete_todo', 'list_todos']);
    for (const t of tools) assert.equal(t.inputSchema.type, 'object', t.name);
    assert.deepEqual(tools.find((t) => t.name === 'add_todo').inputSchema.required, ['text']);

    // add_todo, then list_todos shows it; the TODO API shows it to the same token: it is
    // the signed-in user's list.
    const added = await client.callTool({ name: 'add_todo', arguments: { text: 'water the plants via MCP' } });
    assert.equal(added.isError, false, JSON.stringify(added));
    assert.equal(added.structuredContent.text, 'water the plants via MCP');
    assert.deepEqual(JSON.parse(textOf(added)), added.structuredContent);
    const listed = await client.callTool({ name: 'list_todos', arguments: {} });
    assert.ok(listed.structuredContent.todos.some((t) => t.id === added.structuredContent.id
      && t.text === 'water the plants via MCP'), JSON.stringify(listed));
    const token = provider.tokens().access_token;
    const viaApi = await get(base, '/api/todos', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(viaApi.status, 200, describeResponse(viaApi));
    assert.ok(viaApi.json.todos.some((t) => t.id === added.structuredContent.id), describeResponse(viaApi));

    // A tool's own failure is a result the model can read, not a protocol error.
    const bad = await client.callTool({ name: 'complete_todo', arguments: { id: 'no-such' } });
    assert.equal(bad.isError, true);
    assert.match(textOf(bad), /no such item/);

    // Refresh: revoke the access token (RFC 7009, as the public client); the next call
    // gets 401, the SDK refreshes with its refresh token and the call succeeds, with a
    // rotated refresh token.
    const before = provider.tokens();
    const rv = await get(base, '/oauth/revoke', {
      method: 'POST',
      headers: { 'content-type': FORM },
      body: form({ token: before.access_token, token_type_hint: 'access_token', client_id: provider.client.client_id }),
    });
    assert.equal(rv.status, 200, describeResponse(rv));
    const nTokens = provider.savedTokens.length;
    const done = await client.callTool({ name: 'complete_todo', arguments: { id: added.structuredContent.id } });
    assert.equal(done.isError, false, JSON.stringify(done));
    assert.deepEqual(done.structuredContent, { id: added.structuredContent.id, completed: true });
    assert.equal(provider.savedTokens.length, nTokens + 1, 'the SDK refreshed once');
    const after = provider.tokens();
    assert.notEqual(after.access_token, before.access_token);
    assert.ok(after.refresh_token && after.refresh_token !== before.refresh_token, 'the refresh token rotated');
    const ref = log.filter((r) => r.url === `${base}/oauth/token`).at(-1);
    assert.equal(new URLSearchParams(ref.body).get('grant_type'), 'refresh_token');
    assert.equal(ref.status, 200);
    const empty = await get(base, '/api/todos', { headers: { authorization: `Bearer ${after.access_token}` } });
    assert.equal(empty.status, 200, describeResponse(empty));
    assert.ok(!empty.json.todos.some((t) => t.id === added.structuredContent.id), 'completed: gone from the list');
  } finally {
    await client.close();
  }
  // Nothing secret reached the log (but the demo's password, which is also its user name).
  seen.delete(DEMO_PASSWORD);
  for (const s of seen) assert.ok(!demo.log.includes(s), `a secret in the server log: ${s}\n${demo.log.split('\n').filter((l) => l.includes(s)).join('\n')}`);
});

test('mcp_sdk_two_users_see_their_own_lists', async () => {
  demo.addUser('carol', 'carol password 42');
  seen.add('carol password 42');
  const a = await connectWithSignIn(new TestProvider('http://127.0.0.1:9/a/callback'), []);
  const c = await connectWithSignIn(new TestProvider('http://127.0.0.1:9/c/callback', 'carol', 'carol password 42'), []);
  try {
    const added = await c.client.callTool({ name: 'add_todo', arguments: { text: 'carol only' } });
    assert.equal(added.isError, false, JSON.stringify(added));
    const mine = await c.client.callTool({ name: 'list_todos', arguments: {} });
    assert.ok(mine.structuredContent.todos.some((t) => t.text === 'carol only'));
    const theirs = await a.client.callTool({ name: 'list_todos', arguments: {} });
    assert.ok(!theirs.structuredContent.todos.some((t) => t.text === 'carol only'), JSON.stringify(theirs));
  } finally {
    await a.client.close();
    await c.client.close();
  }
});
