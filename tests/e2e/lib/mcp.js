// An OAuthClientProvider (the MCP TypeScript SDK's interface) for tests: keeps everything
// in memory and, when the SDK sends the user to the authorization endpoint, signs in as
// `user` through plugauth's real pages (lib/flow.js Browser) and keeps the code the
// redirect carries. With `clientMetadataUrl`, the SDK identifies itself with that client
// ID metadata document instead of registering.

import assert from 'node:assert/strict';

import { Browser, CODE_RE, newState } from './flow.js';

export class SignInProvider {
  constructor({ base, redirectUrl, user, password, seen = new Set(), clientMetadataUrl }) {
    this.base = base;
    this._redirectUrl = redirectUrl;
    this.user = user;
    this.password = password;
    this.seen = seen;
    this._clientMetadataUrl = clientMetadataUrl;
    this.client = undefined;
    this._tokens = undefined;
    this.verifier = undefined;
    this.lastState = undefined;
    this.authorizeUrl = undefined;
    this.code = undefined;
    this.savedTokens = [];
  }

  get redirectUrl() { return this._redirectUrl; }
  get clientMetadataUrl() { return this._clientMetadataUrl; }

  get clientMetadata() {
    return {
      client_name: 'MCP SDK e2e',
      redirect_uris: [this._redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  state() {
    this.lastState = newState();
    return this.lastState;
  }

  clientInformation() { return this.client; }
  saveClientInformation(info) { this.client = info; }
  tokens() { return this._tokens; }
  saveTokens(t) {
    this._tokens = t;
    this.savedTokens.push(t);
    for (const v of [t.access_token, t.refresh_token]) if (v) this.seen.add(v);
  }
  saveCodeVerifier(v) { this.verifier = v; }
  codeVerifier() { return this.verifier; }

  async redirectToAuthorization(url) {
    this.authorizeUrl = new URL(url);
    const b = new Browser(this.base, this.seen);
    const r = await b.authorize([...this.authorizeUrl.searchParams],
      { user: this.user, password: this.password });
    assert.ok(r.location.startsWith(`${this._redirectUrl}?`), `redirect to ${r.location}`);
    assert.equal(r.params.get('state'), this.lastState, 'state comes back');
    assert.equal(r.params.get('iss'), this.base, 'iss is the issuer (RFC 9207)');
    assert.match(r.code ?? '', CODE_RE);
    this.code = r.code;
  }
}
