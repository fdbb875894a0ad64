// The official MCP TypeScript SDK client identifying itself with a client ID metadata
// document (draft-ietf-oauth-client-id-metadata-document, the SDK's `clientMetadataUrl`)
// instead of registering: the demo runs with `client_id_metadata_documents = on`, the
// document is served here over TLS (a throwaway CA given as client_metadata_ca_file), and
// the SDK's own OAuth code sees `client_id_metadata_document_supported` in the metadata,
// uses the document's URL as its client_id, signs in through the real pages with PKCE and
// `resource`, and calls a tool. No registration request is made.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

import { DEMO_PASSWORD, DEMO_USER, startDemo } from './lib/demo.js';
import { SignInProvider } from './lib/mcp.js';
import { makeCert } from './lib/tls.js';

const REDIRECT = 'http://127.0.0.1:9/mcp-cimd/callback';

let dir;
let docs;          // the TLS server holding the client's metadata document
let docUrl;        // its URL: the client_id
let fetched = 0;   // how often plugauth fetched it
let demo;
let base;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'plugauth-mcp-cimd-'));
  const tls = makeCert(dir);
  docs = createServer({ cert: tls.pem, key: readFileSync(tls.key) }, (req, res) => {
    fetched++;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
    res.end(JSON.stringify({
      client_id: docUrl,
      client_name: 'MCP SDK e2e (metadata document)',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }));
  });
  await new Promise((r) => docs.listen(0, '127.0.0.1', r));
  docUrl = `https://127.0.0.1:${docs.address().port}/mcp-client.json`;
  demo = await startDemo({
    env: {
      PLUGAUTH_OAUTH_CLIENT_ID_METADATA_DOCUMENTS: 'on',
      PLUGAUTH_OAUTH_CLIENT_ID_METADATA_HOSTS: '127.0.0.1',
      PLUGAUTH_OAUTH_CLIENT_METADATA_CA_FILE: tls.cert,
    },
  });
  base = demo.base;
});

after(async () => {
  await demo?.stop();
  docs?.closeAllConnections?.();
  await new Promise((r) => (docs ? docs.close(r) : r()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('mcp_sdk_client_with_a_metadata_document_signs_in_and_calls_a_tool', async () => {
  const requests = [];
  const fetchLogged = async (url, init = {}) => {
    const res = await fetch(url, init);
    requests.push({ url: String(url), status: res.status });
    return res;
  };
  const provider = new SignInProvider({
    base, redirectUrl: REDIRECT, user: DEMO_USER, password: DEMO_PASSWORD, clientMetadataUrl: docUrl,
  });
  const mcpUrl = new URL(`${base}/mcp`);
  const first = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider, fetch: fetchLogged });
  await assert.rejects(new Client({ name: 'e2e', version: '0' }).connect(first), UnauthorizedError);
  assert.equal(provider.client?.client_id, docUrl, 'the SDK used its metadata document URL as client_id');
  assert.equal(provider.authorizeUrl.searchParams.get('client_id'), docUrl);
  assert.ok(fetched >= 1, 'plugauth fetched the document');
  assert.ok(!requests.some((r) => r.url.endsWith('/oauth/register')), 'no dynamic registration');
  await first.finishAuth(provider.code);
  await first.close();

  const client = new Client({ name: 'e2e', version: '0' });
  await client.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider, fetch: fetchLogged }));
  try {
    const added = await client.callTool({ name: 'add_todo', arguments: { text: 'via a metadata document' } });
    assert.equal(added.isError, false, JSON.stringify(added));
    const listed = await client.callTool({ name: 'list_todos', arguments: {} });
    assert.ok(listed.structuredContent.todos.some((t) => t.text === 'via a metadata document'), JSON.stringify(listed));
  } finally {
    await client.close();
  }
});
