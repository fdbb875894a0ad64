// The authorization code grant (RFC 6749 §4.1) with PKCE (RFC 7636), the issuer in the
// authorization response (RFC 9207) and refresh token rotation (§6, RFC 9700 §4.14),
// checked by a strict OAuth client: oauth4webapi does everything OAuth (PKCE, state,
// the authorization URL, validating the callback, the token requests and responses).
// The person in between (login page, consent page) is played by plain fetch with a
// small cookie jar, filling in the HTML forms the way a browser would.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as oauth from 'oauth4webapi';

import { ACCESS_TOKEN_RE, FORM, describeResponse } from './lib/http.js';
import { ISSUER, createPlugauth } from './lib/server.js';

const REFRESH_TOKEN_RE = /^pa_rt_[A-Za-z0-9_-]{43}$/;
const CODE_RE = /^pa_ac_[A-Za-z0-9_-]{43}$/;
const USER = 'alice';
const PASSWORD = 'correct horse battery';
const COOKIE = 'plugauth_session';

let pa;
let base;
let as;
const clients = {};        // name -> { client, auth(), redirectUri }
const seen = new Set([PASSWORD]);   // every secret the test saw: none may reach the log

// The server is http on loopback: oauth4webapi refuses http unless told.
const insecure = { [oauth.allowInsecureRequests]: true };

function remember(...values) {
  for (const v of values) if (typeof v === 'string' && v.length > 0) seen.add(v);
}

before(async () => {
  pa = createPlugauth();
  const u = pa.cli(['user', 'add', USER, '--password-stdin'], { input: `${PASSWORD}\n` });
  assert.equal(u.status, 0, `user add: ${u.stderr}`);

  // One client per scenario, so each one starts without a remembered consent.
  const add = (name, { isPublic = false, redirectUri = `https://${name}.client.example/cb` } = {}) => {
    const c = pa.addClient({ name, redirectUris: [redirectUri], isPublic });
    if (isPublic) {
      assert.equal(c.client_secret ?? null, null, `a public client has no secret: ${JSON.stringify(c)}`);
    } else {
      assert.equal(typeof c.client_secret, 'string');
      remember(c.client_secret);
    }
    return { id: c.client_id, secret: c.client_secret, redirectUri, client: { client_id: c.client_id } };
  };
  clients.pub = add('public-pkce', { isPublic: true, redirectUri: 'http://127.0.0.1:53682/callback' });
  clients.pub.auth = () => oauth.None();
  clients.basic = add('conf-basic');
  clients.basic.auth = () => oauth.ClientSecretBasic(clients.basic.secret);
  clients.post = add('conf-post');
  clients.post.auth = () => oauth.ClientSecretPost(clients.post.secret);
  clients.deny = add('denied');
  clients.state = add('state-check');
  clients.again = add('remembered');
  clients.again.auth = () => oauth.ClientSecretBasic(clients.again.secret);
  clients.quirky = add('quirky-state');
  clients.quirky.auth = () => oauth.ClientSecretPost(clients.quirky.secret);

  base = await pa.start();
  // Discovery (RFC 8414) comes later, and the configured issuer is not the address we
  // listen on: describe the server by hand.
  as = {
    issuer: ISSUER,
    authorization_endpoint: `${base}/oauth/authorize`,
    token_endpoint: `${base}/oauth/token`,
    code_challenge_methods_supported: ['S256'],
    authorization_response_iss_parameter_supported: true,
  };
});

after(async () => {
  await pa?.cleanup();
});

// --- the person: a cookie jar and HTML forms ------------------------------------------

// Only what the pages need: cookies by name, for one host, no expiry handling beyond
// Max-Age=0 deleting the cookie.
class CookieJar {
  constructor() {
    this.cookies = new Map();
    this.setCookies = []; // every Set-Cookie line seen, for attribute checks
  }

  store(res) {
    for (const line of res.headers.getSetCookie()) {
      this.setCookies.push(line);
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const gone = attrs.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a));
      if (gone) this.cookies.delete(name); else this.cookies.set(name, value);
    }
  }

  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

// One request as a browser would make it: cookies in and out, no redirects followed.
async function browse(jar, url, { method = 'GET', form } = {}) {
  const headers = { accept: 'text/html' };
  const cookie = jar.header();
  if (cookie) headers.cookie = cookie;
  let body;
  if (form) {
    headers['content-type'] = FORM;
    body = new URLSearchParams(form).toString();
  }
  const res = await fetch(url, { method, headers, body, redirect: 'manual' });
  jar.store(res);
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, url };
}

const ENTITIES = { amp: '&', quot: '"', lt: '<', gt: '>', apos: "'" };

// HTML character references in attribute values: the named ones the server writes
// (&amp; &quot; &lt; &gt;) and numeric ones (&#39; &#96; …), decoded in one pass.
function decodeEntities(s) {
  return s.replace(/&(#[xX][0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (whole, ref) => {
    if (ref[0] === '#') {
      const cp = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return String.fromCodePoint(cp);
    }
    return ENTITIES[ref.toLowerCase()] ?? whole;
  });
}

function attributes(tag) {
  const attrs = {};
  const re = /([^\s"'<>\/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  const inner = tag.replace(/^<[a-zA-Z]+/, '').replace(/\/?>$/, '');
  let m;
  while ((m = re.exec(inner)) !== null) {
    const v = m[2] ?? m[3] ?? m[4] ?? '';
    attrs[m[1].toLowerCase()] = decodeEntities(v);
  }
  return attrs;
}

// The first form of a page: its action, method, inputs (by name) and submit buttons.
function parseForm(page) {
  const html = page.text;
  const start = html.search(/<form\b/i);
  assert.ok(start >= 0, `no <form> in the page: ${describeResponse(page)}`);
  const end = html.indexOf('</form>', start);
  assert.ok(end > start, `unterminated <form>: ${describeResponse(page)}`);
  const body = html.slice(start, end);
  const formTag = body.match(/^<form\b[^>]*>/i)[0];
  const fa = attributes(formTag);
  const inputs = [];
  for (const m of body.matchAll(/<input\b[^>]*>/gi)) inputs.push(attributes(m[0]));
  const buttons = [];
  for (const m of body.matchAll(/<button\b[^>]*>([\s\S]*?)<\/button>/gi)) {
    buttons.push({ ...attributes(m[0].match(/^<button\b[^>]*>/i)[0]), text: m[1].trim() });
  }
  const hidden = {};
  for (const i of inputs) {
    if ((i.type ?? '').toLowerCase() === 'hidden' && i.name) hidden[i.name] = i.value ?? '';
  }
  return {
    action: new URL(fa.action ?? '', page.url).href,
    method: (fa.method ?? 'get').toLowerCase(),
    inputs,
    hidden,
    buttons,
  };
}

function assertHtml(page, status = 200) {
  assert.equal(page.status, status, describeResponse(page));
  assert.match(page.headers.get('content-type') ?? '', /^text\/html\b/i, describeResponse(page));
}

function assertSessionCookie(jar) {
  const line = jar.setCookies.find((l) => l.startsWith(`${COOKIE}=`));
  assert.ok(line, `no ${COOKIE} cookie set; Set-Cookie seen: ${JSON.stringify(jar.setCookies)}`);
  const attrs = line.split(';').slice(1).map((a) => a.trim().toLowerCase());
  assert.ok(attrs.includes('httponly'), `${COOKIE} must be HttpOnly: ${line}`);
  assert.ok(attrs.includes('samesite=lax'), `${COOKIE} must be SameSite=Lax: ${line}`);
  assert.ok(attrs.includes('path=/'), `${COOKIE} must be Path=/: ${line}`);
}

// Opens the authorization URL, signs in and answers the consent page with `decision`
// (or expects no consent page when `decision` is null). Returns the callback URL from
// the final redirect's Location, and the pages seen.
async function signInAndDecide(authUrl, { jar = new CookieJar(), decision = 'allow', redirectUri } = {}) {
  const login = await browse(jar, authUrl);
  assertHtml(login);
  assertSessionCookie(jar);
  const lf = parseForm(login);
  assert.equal(lf.method, 'post', 'login form method');
  assert.equal(lf.action, `${base}/oauth/authorize`, 'login form action');
  const names = lf.inputs.map((i) => i.name);
  assert.ok(names.includes('username') && names.includes('password'),
    `login form needs username and password fields: ${JSON.stringify(lf.inputs)}`);
  assert.ok(lf.hidden.csrf, `login form has no csrf field: ${JSON.stringify(lf.hidden)}`);
  assert.notEqual(lf.hidden.csrf, jar.cookies.get(COOKIE), 'the CSRF token must not be the session cookie');

  const afterLogin = await browse(jar, lf.action, {
    method: 'POST', form: { ...lf.hidden, username: USER, password: PASSWORD },
  });
  let final = afterLogin;
  let consent = null;
  if (decision !== null) {
    assertHtml(afterLogin);
    consent = afterLogin;
    const cf = parseForm(consent);
    assert.equal(cf.method, 'post', 'consent form method');
    assert.equal(cf.action, `${base}/oauth/authorize`, 'consent form action');
    assert.ok(cf.hidden.csrf, `consent form has no csrf field: ${JSON.stringify(cf.hidden)}`);
    for (const v of ['allow', 'deny']) {
      assert.ok(cf.buttons.some((b) => b.name === 'decision' && b.value === v),
        `consent form needs a decision=${v} button: ${JSON.stringify(cf.buttons)}`);
    }
    final = await browse(jar, cf.action, { method: 'POST', form: { ...cf.hidden, decision } });
  }
  assert.ok([302, 303].includes(final.status), `expected a redirect to the client: ${describeResponse(final)}`);
  if (decision !== null) assert.equal(final.status, 303, `a POST answers 303 See Other: ${describeResponse(final)}`);
  const location = final.headers.get('location');
  assert.ok(location, describeResponse(final));
  const callback = new URL(location);
  if (redirectUri) {
    assert.equal(callback.origin + callback.pathname, redirectUri, `redirect target: ${location}`);
  }
  return { callback, login, consent, jar };
}

// --- the client: oauth4webapi ---------------------------------------------------------

// An authorization request as oauth4webapi's docs build it.
async function authorizationRequest(c, { scope = 'todo.read', state } = {}) {
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const codeChallenge = await oauth.calculatePKCECodeChallenge(codeVerifier);
  state ??= oauth.generateRandomState();
  const url = new URL(as.authorization_endpoint);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', c.client.client_id);
  url.searchParams.set('redirect_uri', c.redirectUri);
  url.searchParams.set('scope', scope);
  url.searchParams.set('state', state);
  url.searchParams.set('code_challenge', codeChallenge);
  url.searchParams.set('code_challenge_method', 'S256');
  return { url, codeVerifier, state, scope };
}

function checkTokens(result, scope) {
  assert.match(result.access_token, ACCESS_TOKEN_RE);
  assert.equal(result.token_type, 'bearer');
  assert.equal(result.expires_in, 3600);
  assert.deepEqual(result.scope.split(' ').sort(), scope.split(' ').sort());
  assert.match(result.refresh_token ?? '', REFRESH_TOKEN_RE, 'a refresh token is always issued');
  remember(result.access_token, result.refresh_token);
}

// The whole flow for one client: authorize, exchange, refresh. Returns the tokens.
async function codeFlow(c, { scope = 'todo.read' } = {}) {
  const req = await authorizationRequest(c, { scope });
  const { callback } = await signInAndDecide(req.url.href, { redirectUri: c.redirectUri });
  assert.equal(callback.searchParams.get('iss'), ISSUER, `RFC 9207 iss: ${callback}`);

  const params = oauth.validateAuthResponse(as, c.client, callback, req.state);
  assert.match(params.get('code'), CODE_RE);
  remember(params.get('code'));

  const res = await oauth.authorizationCodeGrantRequest(
    as, c.client, c.auth(), params, c.redirectUri, req.codeVerifier, insecure);
  assert.match(res.headers.get('cache-control') ?? '', /\bno-store\b/i, 'token response Cache-Control');
  const tokens = await oauth.processAuthorizationCodeResponse(as, c.client, res);
  checkTokens(tokens, scope);

  const rres = await oauth.refreshTokenGrantRequest(
    as, c.client, c.auth(), tokens.refresh_token, insecure);
  const refreshed = await oauth.processRefreshTokenResponse(as, c.client, rres);
  checkTokens(refreshed, scope);
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token, 'the refresh token must rotate');
  assert.notEqual(refreshed.access_token, tokens.access_token, 'a new access token');
  return { tokens, refreshed, params };
}

// --- tests ----------------------------------------------------------------------------

test('public_client_pkce_code_flow_and_refresh_rotation', async () => {
  await codeFlow(clients.pub);
});

test('confidential_client_secret_basic_code_flow_and_refresh_rotation', async () => {
  await codeFlow(clients.basic, { scope: 'todo.read todo.write' });
});

test('confidential_client_secret_post_code_flow_and_refresh_rotation', async () => {
  await codeFlow(clients.post);
});

test('signed_in_user_who_consented_is_redirected_at_once', async () => {
  const c = clients.again;
  const first = await authorizationRequest(c);
  const { jar } = await signInAndDecide(first.url.href, { redirectUri: c.redirectUri });
  // Same browser (session cookie), same client and scope: no page, straight back.
  const again = await authorizationRequest(c);
  const res = await browse(jar, again.url.href);
  assert.equal(res.status, 302, describeResponse(res));
  const params = oauth.validateAuthResponse(as, c.client, new URL(res.headers.get('location')), again.state);
  remember(params.get('code'));
  const tres = await oauth.authorizationCodeGrantRequest(
    as, c.client, c.auth(), params, c.redirectUri, again.codeVerifier, insecure);
  checkTokens(await oauth.processAuthorizationCodeResponse(as, c.client, tres), 'todo.read');
});

test('validate_auth_response_rejects_wrong_state', async () => {
  const c = clients.state;
  const req = await authorizationRequest(c);
  const { callback } = await signInAndDecide(req.url.href, { redirectUri: c.redirectUri });
  remember(callback.searchParams.get('code'));
  assert.equal(callback.searchParams.get('state'), req.state, `state comes back unchanged: ${callback}`);

  // The client expected another state (a forged or mixed-up response).
  assert.throws(() => oauth.validateAuthResponse(as, c.client, callback, oauth.generateRandomState()),
    (err) => {
      assert.ok(err instanceof oauth.OperationProcessingError, String(err));
      assert.equal(err.code, oauth.INVALID_RESPONSE);
      assert.match(err.message, /state/);
      return true;
    });
  // The response's state was tampered with.
  const tampered = new URL(callback);
  tampered.searchParams.set('state', `${req.state}x`);
  assert.throws(() => oauth.validateAuthResponse(as, c.client, tampered, req.state),
    oauth.OperationProcessingError);
  // A response from another issuer (RFC 9207 mix-up defence).
  assert.throws(() => oauth.validateAuthResponse(
    { ...as, issuer: 'https://other.example' }, c.client, callback, req.state),
  (err) => err instanceof oauth.OperationProcessingError && /iss/.test(err.message));
  // The genuine one passes.
  oauth.validateAuthResponse(as, c.client, callback, req.state);
});

test('consent_deny_redirects_access_denied_surfaced_by_oauth4webapi', async () => {
  const c = clients.deny;
  const req = await authorizationRequest(c);
  const { callback } = await signInAndDecide(req.url.href, { decision: 'deny', redirectUri: c.redirectUri });
  assert.equal(callback.searchParams.get('code'), null, `no code after deny: ${callback}`);
  assert.equal(callback.searchParams.get('error'), 'access_denied', `${callback}`);
  assert.equal(callback.searchParams.get('iss'), ISSUER, `${callback}`);
  assert.throws(() => oauth.validateAuthResponse(as, c.client, callback, req.state), (err) => {
    assert.ok(err instanceof oauth.AuthorizationResponseError, String(err));
    assert.equal(err.error, 'access_denied');
    assert.equal(err.cause.get('state'), req.state);
    return true;
  });
});

test('state_with_html_special_characters_round_trips', async () => {
  // Hidden fields carry the state through two forms: every character that HTML escapes
  // must come back byte for byte (and the form parser must decode the entities).
  const c = clients.quirky;
  const state = `a&b"c'd<e>f\`g h+i%20j=k/l?m#n;&amp;ü`;
  const req = await authorizationRequest(c, { state });
  const { callback, login } = await signInAndDecide(req.url.href, { redirectUri: c.redirectUri });
  assert.equal(parseForm(login).hidden.state, state, 'state in the login form');
  assert.doesNotMatch(login.text, /<e>/, 'the state must be escaped in the page');
  const params = oauth.validateAuthResponse(as, c.client, callback, state);
  remember(params.get('code'));
  const res = await oauth.authorizationCodeGrantRequest(
    as, c.client, c.auth(), params, c.redirectUri, req.codeVerifier, insecure);
  checkTokens(await oauth.processAuthorizationCodeResponse(as, c.client, res), 'todo.read');
});

test('server_log_never_contains_tokens_codes_secrets_or_passwords', async () => {
  assert.equal(await pa.stop(), 0, `log:\n${pa.log}`);
  const leaked = [...seen].filter((s) => pa.log.includes(s));
  assert.deepEqual(leaked, []);
});
