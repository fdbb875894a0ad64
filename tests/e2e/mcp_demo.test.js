// What `plugauth demo` prints about its MCP server, and the server at the wire: POST /mcp as JSON-RPC 2.0 over Streamable HTTP,
// stateless, JSON answers. The 401 that starts discovery, protocol version negotiation,
// every JSON-RPC error (-32700, -32600, -32601, -32602), batches per protocol version,
// notifications (202), GET/DELETE (405), the body limit, the content type, a token
// without the scope a tool needs (403 insufficient_scope) or without a user (403).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';

import { Browser, assertTokenPair, exchangeCode, newState, pkce } from './lib/flow.js';
import { describeResponse, get } from './lib/http.js';
import { DEMO_CLIENT_ID, DEMO_PASSWORD, DEMO_USER, PLAYGROUND_CLIENT_ID, startDemo } from './lib/demo.js';
import { BIN } from './lib/server.js';

let demo;
let base;
let token;      // todo.read todo.write, as the demo user
const seen = new Set();

// A user token through the real authorization-code flow, as the playground's public
// client with PKCE, for the demo's resource (RFC 8707).
async function userToken(scope) {
  const b = new Browser(base, seen);
  const { verifier, challenge } = pkce();
  const redirectUri = `${base}/demo/callback`;
  const code = await b.code({
    response_type: 'code', client_id: PLAYGROUND_CLIENT_ID, redirect_uri: redirectUri, scope,
    state: newState(), code_challenge: challenge, code_challenge_method: 'S256', resource: base,
  }, { user: DEMO_USER, password: DEMO_PASSWORD });
  const res = await exchangeCode(base, 'public', { client_id: PLAYGROUND_CLIENT_ID },
    { code, redirectUri, verifier, extra: { resource: base } });
  return assertTokenPair(res, { scope, seen }).access_token;
}

before(async () => {
  demo = await startDemo();
  base = demo.base;
  token = await userToken('todo.read todo.write');
});

after(async () => {
  await demo?.stop();
});

// POST /mcp with body (an object is sent as JSON), the token, and headers.
function mcp(body, { bearer = token, headers = {}, method = 'POST' } = {}) {
  const h = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers };
  if (bearer) h.authorization = `Bearer ${bearer}`;
  const init = { method, headers: h };
  if (method === 'POST') init.body = typeof body === 'string' ? body : JSON.stringify(body);
  return get(base, '/mcp', init);
}

const rpc = (method, params, id = 1) => ({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) });

function assertRpcError(res, status, code, id = null) {
  assert.equal(res.status, status, describeResponse(res));
  assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/, describeResponse(res));
  assert.equal(res.json?.jsonrpc, '2.0', describeResponse(res));
  assert.equal(res.json.id, id, describeResponse(res));
  assert.equal(res.json.error?.code, code, describeResponse(res));
  assert.equal(typeof res.json.error.message, 'string');
}

test('demo_prints_the_mcp_url_to_paste_into_an_mcp_client', () => {
  const out = demo.stdout;
  assert.ok(out.split('\n').includes(`  ${base}/mcp`), out);
  assert.match(out, /Connect an MCP client .* by pasting the MCP server URL:/s);
  assert.match(out, /it registers itself, you sign in as demo \/ demo/);
  const help = spawnSync(BIN, ['demo', '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /an MCP server with\nTODO tools \(\/mcp;/);
});

test('mcp_without_a_token_gets_the_gateway_challenge_naming_the_metadata', async () => {
  const res = await mcp(rpc('initialize', { protocolVersion: '2025-06-18' }), { bearer: null });
  assert.equal(res.status, 401, describeResponse(res));
  const h = res.headers.get('www-authenticate') ?? '';
  const m = /resource_metadata="([^"]+)"/.exec(h);
  assert.ok(h.startsWith('Bearer ') && m, `WWW-Authenticate: ${h}`);
  const prm = await get(m[1], '');
  assert.equal(prm.status, 200, describeResponse(prm));
  assert.deepEqual(prm.json.authorization_servers, [base]);
  assert.equal(prm.json.resource, base);
  assert.ok(prm.json.scopes_supported.includes('todo.write'));
  const as = await get(base, '/.well-known/oauth-authorization-server');
  assert.equal(as.json.registration_endpoint, `${base}/oauth/register`, 'the demo has open registration');
  assert.deepEqual(as.json.code_challenge_methods_supported, ['S256']);

  const bad = await mcp(rpc('ping'), { bearer: 'pa_at_' + 'A'.repeat(43) });
  assert.equal(bad.status, 401, describeResponse(bad));
  assert.match(bad.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
});

test('mcp_initialize_negotiates_the_protocol_version', async () => {
  for (const v of ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05']) {
    const res = await mcp(rpc('initialize', {
      protocolVersion: v, capabilities: {}, clientInfo: { name: 'e2e', version: '0' },
    }));
    assert.equal(res.status, 200, describeResponse(res));
    assert.equal(res.json.id, 1);
    assert.equal(res.json.result.protocolVersion, v, 'the client\'s version, supported');
    assert.deepEqual(res.json.result.capabilities, { tools: { listChanged: false } });
    assert.equal(res.json.result.serverInfo.name, 'plugauth-demo');
    assert.equal(res.headers.get('mcp-session-id'), null, 'stateless: no session');
    assert.match(res.headers.get('cache-control') ?? '', /no-store/);
  }
  const other = await mcp(rpc('initialize', { protocolVersion: '1999-01-01' }, 'a'));
  assert.equal(other.json.id, 'a');
  assert.equal(other.json.result.protocolVersion, '2025-11-25', 'unknown: the newest');
  assertRpcError(await mcp(rpc('initialize', {}, 7)), 200, -32602, 7);
  // Later requests name the version in a header; an unknown one is 400.
  assertRpcError(await mcp(rpc('ping'), { headers: { 'mcp-protocol-version': '2099-01-01' } }), 400, -32600);
  const ok = await mcp(rpc('ping'), { headers: { 'mcp-protocol-version': '2025-06-18' } });
  assert.deepEqual(ok.json, { jsonrpc: '2.0', id: 1, result: {} });
});

test('mcp_bad_json_rpc_gets_its_error_codes', async () => {
  assertRpcError(await mcp('{"jsonrpc": "2.0", "id": 1, "method": '), 400, -32700);
  assertRpcError(await mcp(''), 400, -32700);
  assertRpcError(await mcp('"just a string"'), 400, -32600);
  assertRpcError(await mcp({ id: 1, method: 'ping' }), 400, -32600);
  assertRpcError(await mcp({ jsonrpc: '1.0', id: 1, method: 'ping' }), 400, -32600);
  assertRpcError(await mcp({ jsonrpc: '2.0', id: null, method: 'ping' }), 400, -32600);
  assertRpcError(await mcp({ jsonrpc: '2.0', id: { x: 1 }, method: 'ping' }), 400, -32600);
  assertRpcError(await mcp({ jsonrpc: '2.0', id: 1, method: 42 }), 400, -32600);
  assertRpcError(await mcp('{"jsonrpc": "2.0", "id": 1, "id": 2, "method": "ping"}'), 400, -32700);
  assertRpcError(await mcp(rpc('resources/list', {}, 3)), 200, -32601, 3);
  assertRpcError(await mcp({ jsonrpc: '2.0', id: 4, method: 'tools/list', params: [1] }), 200, -32602, 4);
  assertRpcError(await mcp(rpc('tools/call', {}, 5)), 200, -32602, 5);
  assertRpcError(await mcp(rpc('tools/call', { name: 'rm_rf' }, 6)), 200, -32602, 6);
  assertRpcError(await mcp(rpc('tools/call', { name: 'add_todo', arguments: 'x' }, 8)), 200, -32602, 8);
  // The server is still fine.
  const ok = await mcp(rpc('ping', undefined, 9));
  assert.deepEqual(ok.json, { jsonrpc: '2.0', id: 9, result: {} });
});

test('mcp_notifications_and_responses_get_202_without_a_body', async () => {
  for (const msg of [
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } },
    { jsonrpc: '2.0', id: 'srv-1', result: {} },
  ]) {
    const res = await mcp(msg);
    assert.equal(res.status, 202, describeResponse(res));
    assert.equal(res.text, '');
  }
});

test('mcp_batches_are_taken_under_2025_03_26_and_refused_after', async () => {
  const batch = [rpc('ping', undefined, 1), { jsonrpc: '2.0', method: 'notifications/x' }, rpc('nope', undefined, 2),
    { bad: true }];
  const old = await mcp(batch, { headers: { 'mcp-protocol-version': '2025-03-26' } });
  assert.equal(old.status, 200, describeResponse(old));
  assert.equal(old.json.length, 3, describeResponse(old));
  assert.deepEqual(old.json[0], { jsonrpc: '2.0', id: 1, result: {} });
  assert.equal(old.json[1].error.code, -32601);
  assert.equal(old.json[2].error.code, -32600);
  const notes = await mcp([{ jsonrpc: '2.0', method: 'notifications/initialized' }]);
  assert.equal(notes.status, 202, 'a batch of notifications (no version header: 2025-03-26)');
  assertRpcError(await mcp([]), 400, -32600);
  assertRpcError(await mcp(Array.from({ length: 33 }, (_, i) => rpc('ping', undefined, i))), 400, -32600);
  const init = await mcp([rpc('initialize', { protocolVersion: '2025-03-26' })]);
  assert.equal(init.json[0].error.code, -32600, 'initialize may not be batched');
  for (const v of ['2025-06-18', '2025-11-25']) {
    assertRpcError(await mcp([rpc('ping')], { headers: { 'mcp-protocol-version': v } }), 400, -32600);
  }
});

test('mcp_get_and_delete_are_405_and_the_body_is_bounded', async () => {
  for (const method of ['GET', 'DELETE']) {
    const res = await mcp(undefined, { method });
    assert.equal(res.status, 405, describeResponse(res));
    assert.equal(res.headers.get('allow'), 'POST');
  }
  const big = await mcp(JSON.stringify(rpc('tools/call', { name: 'add_todo', arguments: { text: 'x'.repeat(70_000) } })));
  assert.equal(big.status, 413, describeResponse(big));
  const type = await mcp(rpc('ping'), { headers: { 'content-type': 'text/plain' } });
  assert.equal(type.status, 415, describeResponse(type));
  assert.equal(type.json.error, 'invalid_request');
  const acc = await mcp(rpc('ping'), { headers: { accept: 'text/event-stream' } });
  assert.equal(acc.status, 406, describeResponse(acc));
});

test('mcp_tools_check_scope_user_and_arguments', async () => {
  const readOnly = await userToken('todo.read');
  const list = await mcp(rpc('tools/call', { name: 'list_todos' }), { bearer: readOnly });
  assert.equal(list.status, 200, describeResponse(list));
  assert.equal(list.json.result.isError, false);
  const add = await mcp(rpc('tools/call', { name: 'add_todo', arguments: { text: 'no' } }), { bearer: readOnly });
  assert.equal(add.status, 403, describeResponse(add));
  assert.equal(add.json.error, 'insufficient_scope');
  assert.match(add.headers.get('www-authenticate') ?? '',
    /^Bearer error="insufficient_scope", scope="todo.write", resource_metadata="/);

  const cc = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic '
      + Buffer.from(`${DEMO_CLIENT_ID}:${demo.clientSecret}`).toString('base64') },
    body: 'grant_type=client_credentials',
  }).then((r) => r.json());
  const noUser = await mcp(rpc('tools/list'), { bearer: cc.access_token });
  assert.equal(noUser.status, 403, JSON.stringify(noUser.json));
  assert.equal(noUser.json.error, 'user_required');

  // jansson refuses \u0000 in any string: a parse error, never a cut-short text.
  assertRpcError(await mcp(rpc('tools/call', { name: 'add_todo', arguments: { text: 'a\u0000b' } })), 400, -32700);
  for (const args of [{}, { text: '' }, { text: 42 }, { text: 'y'.repeat(501) }]) {
    const r = await mcp(rpc('tools/call', { name: 'add_todo', arguments: args }));
    assert.equal(r.status, 200, describeResponse(r));
    assert.equal(r.json.result.isError, true, JSON.stringify(args));
    assert.match(r.json.result.content[0].text, /"text" must be/);
  }
  const ok = await mcp(rpc('tools/call', { name: 'add_todo', arguments: { text: 'é'.repeat(500) } }));
  assert.equal(ok.json.result.isError, false, describeResponse(ok));
  const id = ok.json.result.structuredContent.id;
  const num = await mcp(rpc('tools/call', { name: 'complete_todo', arguments: { id: Number(id) } }));
  assert.deepEqual(num.json.result.structuredContent, { id, completed: true }, 'a numeric id works too');
  const again = await mcp(rpc('tools/call', { name: 'complete_todo', arguments: { id } }));
  assert.equal(again.json.result.isError, true);
  for (const bad of [{}, { id: 'x'.repeat(100) }, { id: [] }]) {
    const r = await mcp(rpc('tools/call', { name: 'complete_todo', arguments: bad }));
    assert.equal(r.json.result.isError, true, JSON.stringify(bad));
  }
});
