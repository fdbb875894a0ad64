// The browser side of the authorization-code flow, as ChatGPT's user goes through it:
// a tiny cookie jar, a generic HTML form reader (hidden fields, visible fields, submit
// buttons), a browser that follows nothing by itself (`redirect: 'manual'`), and the
// token requests of the three dialects (plugin, GPT Action, MCP public client).
//
// Every secret the browser sees (session cookies, CSRF tokens, codes) goes into the
// `seen` set it was given, so a test file can check at the end that none of them
// reached the server log.

import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';

import { FORM, JSON_TYPE, basic, describeResponse, formUrlEncode, postToken } from './http.js';
import { ISSUER } from './server.js';

export const PASSWORD = 'correct horse battery';
export const SESSION_COOKIE = 'plugauth_session';
export const CODE_RE = /^pa_ac_[A-Za-z0-9_-]{43}$/;
export const ACCESS_RE = /^pa_at_[A-Za-z0-9_-]{43}$/;
export const REFRESH_RE = /^pa_rt_[A-Za-z0-9_-]{43}$/;
export const SESSION_RE = /^pa_ss_[A-Za-z0-9_-]+$/;

// --- ChatGPT's callbacks and request values ------------------------------------------------

export function hex(nbytes) {
  return randomBytes(nbytes).toString('hex');
}

// `https://chat.openai.com/aip/plugin-<uuid>/oauth/callback` (plugin IDs are lowercase hex
// groups with dashes).
export function pluginCallback(host = 'chat.openai.com') {
  return `https://${host}/aip/plugin-${randomUUID()}/oauth/callback`;
}

// `https://chatgpt.com/aip/g-<40 hex>/oauth/callback`.
export function actionCallback(host = 'chatgpt.com') {
  return `https://${host}/aip/g-${hex(20)}/oauth/callback`;
}

export const MCP_CALLBACK = 'https://chatgpt.com/connector/oauth/abc123';

// RFC 7636: a 43-char verifier and its S256 challenge.
export function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

// `/oauth/authorize?…` from [name, value] pairs (in that order; a value of undefined
// leaves the parameter out) or from an object.
export function authorizePath(params) {
  const pairs = Array.isArray(params) ? params : Object.entries(params);
  const q = pairs.filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${formUrlEncode(k)}=${formUrlEncode(v)}`).join('&');
  return `/oauth/authorize?${q}`;
}

// --- CLI set-up -----------------------------------------------------------------------------

// `user add NAME --password-stdin`.
export function addUser(pa, name, password = PASSWORD) {
  const r = pa.cli(['user', 'add', name, '--password-stdin'], { input: `${password}\n` });
  if (r.status !== 0) throw new Error(`plugauth user add ${name} exited ${r.status}: ${r.stderr.trim()}`);
}

// `client add --name NAME <args…> --json`, parsed.
export function addClient(pa, name, args = []) {
  const r = pa.cli(['client', 'add', '--name', name, ...args, '--json']);
  if (r.status !== 0) throw new Error(`plugauth client add exited ${r.status}: ${r.stderr.trim()}`);
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`plugauth client add --json printed no JSON object: ${JSON.stringify(r.stdout)}`);
  }
}

export const addChatgptClient = (pa, name = 'ChatGPT plugin') => addClient(pa, name, ['--chatgpt']);
export const addMcpClient = (pa, name = 'MCP app', uri = MCP_CALLBACK) =>
  addClient(pa, name, ['--public', '--redirect-uri', uri]);
export const addExactClient = (pa, name = 'Exact app', uri = 'http://127.0.0.1:9/cb') =>
  addClient(pa, name, ['--redirect-uri', uri]);

// --- HTML ---------------------------------------------------------------------------------

const NAMED = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

// Decodes the character references an HTML-escaped attribute value may hold, in one pass
// (so `&amp;lt;` stays `&lt;`).
export function decodeHtml(s) {
  return s.replace(/&(?:#[xX]([0-9a-fA-F]+)|#([0-9]+)|([A-Za-z]+));/g, (m, h, d, name) => {
    if (h !== undefined) return String.fromCodePoint(parseInt(h, 16));
    if (d !== undefined) return String.fromCodePoint(parseInt(d, 10));
    return Object.hasOwn(NAMED, name) ? NAMED[name] : m;
  });
}

const TAG_ATTRS = String.raw`((?:[^>"']|"[^"]*"|'[^']*')*)`;

// Attributes of one start tag, names lower-cased, values decoded.
function parseAttrs(s) {
  const attrs = {};
  const re = /([^\s"'=<>\/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  let m;
  while ((m = re.exec(s)) !== null) {
    const name = m[1].toLowerCase();
    if (name in attrs) continue;   // HTML: the first one wins
    const raw = m[2] ?? m[3] ?? m[4] ?? '';
    attrs[name] = decodeHtml(raw);
  }
  return attrs;
}

// Every <form> in the page: {action, method, hidden: [[name, value]…], visible: [{name,
// type, value}…], buttons: [{name, value}…]}.
export function parseForms(html) {
  const forms = [];
  const formRe = new RegExp(`<form\\b${TAG_ATTRS}>([\\s\\S]*?)<\\/form\\s*>`, 'gi');
  let fm;
  while ((fm = formRe.exec(html)) !== null) {
    const fa = parseAttrs(fm[1]);
    const inner = fm[2];
    const f = {
      action: fa.action ?? '',
      method: (fa.method ?? 'get').toLowerCase(),
      hidden: [],
      visible: [],
      buttons: [],
    };
    const inputRe = new RegExp(`<input\\b${TAG_ATTRS}>`, 'gi');
    let im;
    while ((im = inputRe.exec(inner)) !== null) {
      const a = parseAttrs(im[1]);
      if (a.name === undefined || 'disabled' in a) continue;
      const type = (a.type ?? 'text').toLowerCase();
      if (type === 'hidden') f.hidden.push([a.name, a.value ?? '']);
      else if (type === 'submit') f.buttons.push({ name: a.name, value: a.value ?? '' });
      else f.visible.push({ name: a.name, type, value: a.value ?? '' });
    }
    const buttonRe = new RegExp(`<button\\b${TAG_ATTRS}>`, 'gi');
    let bm;
    while ((bm = buttonRe.exec(inner)) !== null) {
      const a = parseAttrs(bm[1]);
      const type = (a.type ?? 'submit').toLowerCase();
      if (type === 'submit') f.buttons.push({ name: a.name, value: a.value ?? '' });
    }
    forms.push(f);
  }
  return forms;
}

// The one form of a page; fails the test if there is none or several.
export function theForm(res) {
  const forms = parseForms(res.text);
  assert.equal(forms.length, 1, `expected exactly one <form>: ${describeResponse(res)}`);
  return forms[0];
}

export const hiddenValue = (f, name) => f.hidden.find(([n]) => n === name)?.[1];
export const isLoginForm = (f) => f.visible.some((v) => v.name === 'password' && v.type === 'password');
export const isConsentForm = (f) => f.buttons.some((b) => b.name === 'decision');

// --- the cookie jar -----------------------------------------------------------------------

export class CookieJar {
  constructor() {
    this.cookies = new Map();
  }

  // Takes every Set-Cookie of a response: name=value, and Max-Age<=0 deletes it.
  update(headers) {
    const lines = headers.getSetCookie();
    for (const line of lines) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const maxAge = attrs.map((a) => a.trim()).find((a) => /^max-age=/i.test(a));
      if (maxAge !== undefined && Number(maxAge.slice(8)) <= 0) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return lines;
  }

  get(name) {
    return this.cookies.get(name);
  }

  set(name, value) {
    this.cookies.set(name, value);
  }

  clear() {
    this.cookies.clear();
  }

  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

// --- the browser --------------------------------------------------------------------------

// Pairs (or an object) as an application/x-www-form-urlencoded body.
export function encodePairs(pairs) {
  const list = Array.isArray(pairs) ? pairs : Object.entries(pairs);
  return list.map(([k, v]) => `${formUrlEncode(k)}=${formUrlEncode(v)}`).join('&');
}

export class Browser {
  constructor(base, seen = new Set()) {
    this.base = base;
    this.seen = seen;
    this.jar = new CookieJar();
  }

  remember(...values) {
    for (const v of values) if (typeof v === 'string' && v.length > 0) this.seen.add(v);
  }

  // One request, no redirect followed. Resolves with {status, headers, text, url,
  // location, setCookies}.
  async request(url, { method = 'GET', body, headers = {}, cookies = true } = {}) {
    const abs = new URL(url, this.base).href;
    const h = { ...headers };
    const cookie = this.jar.header();
    if (cookies && cookie) h.cookie = cookie;
    const res = await fetch(abs, { method, headers: h, body, redirect: 'manual' });
    const text = await res.text();
    const setCookies = cookies ? this.jar.update(res.headers) : res.headers.getSetCookie();
    for (const line of setCookies) {
      const pair = line.split(';')[0];
      this.remember(pair.slice(pair.indexOf('=') + 1).trim());
    }
    const location = res.headers.get('location');
    const out = { status: res.status, headers: res.headers, text, url: abs, location, setCookies };
    if (location) {
      try {
        this.remember(new URL(location).searchParams.get('code'));
      } catch { /* not absolute: left to the test */ }
    }
    for (const f of parseForms(text)) this.remember(hiddenValue(f, 'csrf'));
    return out;
  }

  get(url, opts = {}) {
    return this.request(url, opts);
  }

  // POSTs pairs (or an object) as a form, like a browser submitting a form.
  post(url, pairs, opts = {}) {
    return this.request(url, {
      ...opts,
      method: 'POST',
      body: encodePairs(pairs),
      headers: { 'content-type': FORM, ...(opts.headers ?? {}) },
    });
  }

  // The pairs a person submitting the page's form would send: every hidden field, the
  // visible fields (their current value unless `fill` gives one), and the clicked button.
  static formPairs(form, fill = {}, button) {
    const pairs = form.hidden.map(([n, v]) => [n, v]);
    for (const v of form.visible) {
      pairs.push([v.name, Object.hasOwn(fill, v.name) ? fill[v.name] : v.value]);
    }
    if (button !== undefined) {
      const b = form.buttons.find((x) => x.name === button.name && x.value === button.value);
      assert.ok(b, `no button ${JSON.stringify(button)} in ${JSON.stringify(form.buttons)}`);
      pairs.push([b.name, b.value]);
    }
    return pairs;
  }

  // Submits the one form of page `res`: fills visible fields from `fill`, clicks `button`
  // ({name, value}) if given. `edit(pairs)` may change the pairs before they are sent.
  async submit(res, fill = {}, { button, edit, cookies = true } = {}) {
    const f = theForm(res);
    assert.equal(f.method, 'post', `form method: ${describeResponse(res)}`);
    let pairs = Browser.formPairs(f, fill, button);
    if (edit) pairs = edit(pairs);
    this.remember(fill.password);   // (the username is no secret: the log may name it)
    const action = new URL(f.action || res.url, res.url).href;
    return this.post(action, pairs, { cookies });
  }

  // Runs an authorization request to its end, like a user who signs in as `user` and
  // clicks `decision` when asked. Resolves with {res, steps, location, params, code}:
  // steps lists the pages met ('login', 'consent') and ends with 'redirect'.
  async authorize(params, { user = 'alice', password = PASSWORD, decision = 'allow' } = {}) {
    let res = await this.get(authorizePath(params));
    const steps = [];
    for (let i = 0; i < 4; i++) {
      if (res.status === 302 || res.status === 303) {
        steps.push('redirect');
        const url = new URL(res.location);
        const code = url.searchParams.get('code');
        return { res, steps, location: res.location, url, params: url.searchParams, code };
      }
      assert.equal(res.status, 200, `authorize step ${steps.length}: ${describeResponse(res)}`);
      const f = theForm(res);
      if (isLoginForm(f)) {
        steps.push('login');
        res = await this.submit(res, { username: user, password });
      } else if (isConsentForm(f)) {
        steps.push('consent');
        res = await this.submit(res, {}, { button: { name: 'decision', value: decision } });
      } else {
        assert.fail(`neither a login nor a consent form: ${describeResponse(res)}`);
      }
    }
    assert.fail(`authorize did not end in a redirect: ${steps.join(' → ')}`);
  }

  // authorize() that must end with a code; returns it.
  async code(params, opts) {
    const r = await this.authorize(params, opts);
    assert.match(r.code ?? '', CODE_RE, `no code in ${r.location}`);
    return r.code;
  }
}

// --- assertions ---------------------------------------------------------------------------

// An HTML page with the security headers every page carries.
export function assertHtmlPage(res, status) {
  assert.equal(res.status, status, describeResponse(res));
  assert.match(res.headers.get('content-type') ?? '', /^text\/html\b/i, describeResponse(res));
  assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/,
    `Content-Security-Policy: ${describeResponse(res)}`);
  assert.equal((res.headers.get('x-frame-options') ?? '').toUpperCase(), 'DENY',
    `X-Frame-Options: ${describeResponse(res)}`);
  assert.equal((res.headers.get('referrer-policy') ?? '').toLowerCase(), 'no-referrer',
    `Referrer-Policy: ${describeResponse(res)}`);
  assert.match(res.headers.get('cache-control') ?? '', /\bno-store\b/i,
    `Cache-Control: ${describeResponse(res)}`);
}

// An error page: 400 (or `status`) HTML, no redirect anywhere.
export function assertErrorPage(res, status = 400) {
  assert.equal(res.status, status, describeResponse(res));
  assert.match(res.headers.get('content-type') ?? '', /^text\/html\b/i, describeResponse(res));
  assert.equal(res.headers.get('location'), null, `an error page must not redirect: ${describeResponse(res)}`);
  assert.equal(parseForms(res.text).length, 0, `an error page carries no form: ${describeResponse(res)}`);
}

// A redirect back to `redirectUri`; returns its query parameters. The issuer comes back
// as `iss` (RFC 9207), the state unchanged.
export function assertRedirectBack(res, redirectUri, { status, state } = {}) {
  if (status !== undefined) assert.equal(res.status, status, describeResponse(res));
  else assert.ok(res.status === 302 || res.status === 303, describeResponse(res));
  const loc = res.headers.get('location');
  assert.ok(loc, describeResponse(res));
  assert.ok(loc.startsWith(`${redirectUri}?`), `Location ${loc} is not ${redirectUri}?…`);
  const p = new URL(loc).searchParams;
  assert.equal(p.get('iss'), ISSUER, `iss in ${loc}`);
  assert.ok(loc.includes(`iss=${encodeURIComponent(ISSUER)}`), `iss url-encoded in ${loc}`);
  if (state !== undefined) assert.equal(p.get('state'), state, `state in ${loc}`);
  for (const k of new Set(p.keys())) assert.equal(p.getAll(k).length, 1, `${k} repeated in ${loc}`);
  return p;
}

// An error sent back to the client by redirect; returns the parameters.
export function assertRedirectError(res, redirectUri, error, state) {
  const p = assertRedirectBack(res, redirectUri, { state });
  assert.equal(p.get('error'), error, `error in ${res.headers.get('location')}`);
  assert.equal(p.get('code'), null, `no code with an error: ${res.headers.get('location')}`);
  return p;
}

// A token response of the code or refresh grant: both tokens, bearer, 3600 s, scope.
export function assertTokenPair(res, { scope = 'todo.read', seen } = {}) {
  assert.equal(res.status, 200, describeResponse(res));
  assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/i, describeResponse(res));
  assert.match(res.headers.get('cache-control') ?? '', /\bno-store\b/i, `Cache-Control: ${describeResponse(res)}`);
  const b = res.json;
  assert.ok(b && typeof b === 'object' && !Array.isArray(b), describeResponse(res));
  if (seen) for (const v of [b.access_token, b.refresh_token]) if (typeof v === 'string') seen.add(v);
  assert.match(b.access_token ?? '', ACCESS_RE, describeResponse(res));
  assert.match(b.refresh_token ?? '', REFRESH_RE, `a refresh token is always issued: ${describeResponse(res)}`);
  assert.equal(typeof b.token_type, 'string', describeResponse(res));
  assert.equal(b.token_type.toLowerCase(), 'bearer', describeResponse(res));
  assert.equal(b.expires_in, 3600, describeResponse(res));
  assert.equal(typeof b.scope, 'string', describeResponse(res));
  assert.deepEqual(b.scope.split(' ').sort(), scope.split(' ').sort(), describeResponse(res));
  return b;
}

// --- token requests, with the credentials where each dialect puts them ---------------------

// Where the client authenticates:
//   json       plugin with authorization_content_type application/json: all in a JSON body
//   form       plugin (form) or GPT Action "Default (POST request)": all in a form body
//   basic      GPT Action "Basic authorization header", body without client_id
//   basic+id   the same, body still carrying client_id
//   public     MCP public client: client_id in a form body, no secret
export const PLACEMENTS = ['json', 'form', 'basic', 'basic+id', 'public'];

export function tokenRequest(base, placement, client, fields) {
  const id = { client_id: client.client_id };
  const both = { client_id: client.client_id, client_secret: client.client_secret };
  switch (placement) {
    case 'json':
      return postToken(base, { contentType: JSON_TYPE, body: { ...fields, ...both } });
    case 'form':
      return postToken(base, { body: { ...fields, ...both } });
    case 'basic':
      return postToken(base, { body: fields, authorization: basic(client.client_id, client.client_secret) });
    case 'basic+id':
      return postToken(base, { body: { ...fields, ...id }, authorization: basic(client.client_id, client.client_secret) });
    case 'public':
      return postToken(base, { body: { ...fields, ...id } });
    default:
      throw new Error(`unknown placement ${placement}`);
  }
}

// grant_type=authorization_code, fields in the order ChatGPT sends them.
export function exchangeCode(base, placement, client, { code, redirectUri, verifier, extra = {} }) {
  const fields = { grant_type: 'authorization_code', code };
  if (redirectUri !== undefined) fields.redirect_uri = redirectUri;
  if (verifier !== undefined) fields.code_verifier = verifier;
  return tokenRequest(base, placement, client, { ...fields, ...extra });
}

// grant_type=refresh_token (plus whatever `extra` adds: scope, redirect_uri…).
export function refresh(base, placement, client, refreshToken, extra = {}) {
  return tokenRequest(base, placement, client, {
    grant_type: 'refresh_token', refresh_token: refreshToken, ...extra,
  });
}

// A token-looking random value nobody issued (a forged CSRF token, a wrong verifier…).
export function fakeToken() {
  return randomBytes(32).toString('base64url');
}

export function newState() {
  return randomUUID();
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
