/* The built-in login, consent and error pages of auth/page. */
#include "auth/page_int.h"

/*
 * The built-in pages. One stylesheet, light and dark, no external assets:
 * the CSP below allows inline styles, images over https (the logo) and
 * nothing else, so the pages work without JavaScript by design.
 */
/* clang-format off */
#define PAGE_HEAD(title) \
"<!doctype html>\n" \
"<html lang=\"en\">\n" \
"<head>\n" \
"<meta charset=\"utf-8\">\n" \
"<link rel=\"icon\" href=\"data:,\">\n" \
"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n" \
"<meta name=\"color-scheme\" content=\"light dark\">\n" \
"<meta name=\"referrer\" content=\"no-referrer\">\n" \
"<meta name=\"robots\" content=\"noindex, nofollow\">\n" \
"<title>" title "</title>\n" \
"<style>\n" \
":root{--bg:#f3f4f6;--card:#fff;--text:#111827;--muted:#4b5563;" \
"--line:#d1d5db;--field:#fff;--accent:#2563eb;--accent-hover:#1d4ed8;" \
"--on-accent:#fff;--icon:#2563eb;--soft:#eef2ff;--ok:#15803d;" \
"--ok-soft:#dcfce7;" \
"--bad:#b91c1c;--bad-soft:#fef2f2;--bad-line:#fecaca;" \
"--ring:rgba(37,99,235,.35);--shadow:0 1px 2px rgba(16,24,40,.05)," \
"0 12px 32px rgba(16,24,40,.08)}\n" \
"@media (prefers-color-scheme:dark){:root{--bg:#0b0f17;--card:#151b26;" \
"--text:#e5e7eb;--muted:#9ca3af;--line:#2d3748;--field:#0f141d;" \
"--accent:#2563eb;--accent-hover:#1d4ed8;--on-accent:#fff;--icon:#60a5fa;" \
"--soft:#1e293b;--ok:#4ade80;--ok-soft:#14301f;--bad:#fca5a5;" \
"--bad-soft:#2a1215;--bad-line:#7f1d1d;--ring:rgba(96,165,250,.45);" \
"--shadow:0 12px 32px rgba(0,0,0,.45)}}\n" \
"*{box-sizing:border-box}\n" \
"html{-webkit-text-size-adjust:100%;text-size-adjust:100%}\n" \
"body{margin:0;min-height:100vh;display:flex;align-items:center;" \
"justify-content:center;padding:24px 16px;background:var(--bg);" \
"color:var(--text);font:16px/1.5 system-ui,-apple-system,\"Segoe UI\"," \
"Roboto,\"Helvetica Neue\",Arial,sans-serif}\n" \
"main{width:100%;max-width:420px;background:var(--card);" \
"border:1px solid var(--line);border-radius:16px;padding:32px 28px;" \
"box-shadow:var(--shadow)}\n" \
".logo{display:block;width:56px;height:56px;margin:0 auto 20px;" \
"border-radius:14px;object-fit:cover}\n" \
".mark{display:flex;align-items:center;justify-content:center;" \
"width:56px;height:56px;margin:0 auto 20px;border-radius:14px;" \
"background:var(--soft);color:var(--icon)}\n" \
".mark.bad{background:var(--bad-soft);color:var(--bad)}\n" \
"h1{margin:0 0 8px;font-size:1.375rem;line-height:1.3;" \
"text-align:center;overflow-wrap:anywhere}\n" \
".lead{margin:0 0 24px;color:var(--muted);text-align:center;" \
"overflow-wrap:anywhere}\n" \
".lead strong{color:var(--text)}\n" \
"label{display:block;margin:0 0 6px;font-size:.875rem;font-weight:600}\n" \
"input[type=text],input[type=password]{display:block;width:100%;" \
"margin:0 0 16px;padding:10px 12px;font:inherit;color:inherit;" \
"background:var(--field);border:1px solid var(--line);" \
"border-radius:10px}\n" \
"input:focus{outline:none;border-color:var(--accent);" \
"box-shadow:0 0 0 3px var(--ring)}\n" \
"button{display:block;width:100%;padding:11px 16px;font:inherit;" \
"font-weight:600;color:var(--on-accent);background:var(--accent);" \
"border:1px solid var(--accent);border-radius:10px;cursor:pointer}\n" \
"button:hover{background:var(--accent-hover);" \
"border-color:var(--accent-hover)}\n" \
"button:focus-visible{outline:none;box-shadow:0 0 0 3px var(--ring)}\n" \
"button.secondary{color:var(--text);background:transparent;" \
"border-color:var(--line)}\n" \
"button.secondary:hover{background:var(--soft)}\n" \
"form > button{margin-top:8px}\n" \
".actions{display:flex;gap:12px;margin-top:24px}\n" \
".alert{margin:0 0 20px;padding:10px 12px;color:var(--bad);" \
"background:var(--bad-soft);border:1px solid var(--bad-line);" \
"border-radius:10px;font-size:.9375rem}\n" \
".section{margin:0 0 10px;font-size:.875rem;font-weight:600}\n" \
".scopes{margin:0;padding:0;list-style:none;border:1px solid var(--line);" \
"border-radius:12px}\n" \
".scopes li{position:relative;padding:12px 14px 12px 44px;" \
"overflow-wrap:anywhere}\n" \
".scopes li+li{border-top:1px solid var(--line)}\n" \
".scopes li::before{content:\"\\2713\";position:absolute;left:14px;" \
"top:13px;width:20px;height:20px;border-radius:50%;font-size:.75rem;" \
"line-height:20px;text-align:center;font-weight:700;color:var(--ok);" \
"background:var(--ok-soft)}\n" \
".fine{margin:20px 0 0;color:var(--muted);font-size:.8125rem;" \
"text-align:center;overflow-wrap:anywhere}\n" \
".message{margin:0 0 8px;text-align:center;overflow-wrap:anywhere}\n" \
"@media (max-width:480px){body{padding:16px 12px;align-items:flex-start}" \
"main{padding:24px 20px}}\n" \
"</style>\n" \
"</head>\n" \
"<body>\n"

#define PAGE_LOGO \
"{{#logo_url}}<img class=\"logo\" src=\"{{logo_url}}\" alt=\"\" " \
"width=\"56\" height=\"56\">{{/logo_url}}\n" \
"{{^logo_url}}<div class=\"mark\" aria-hidden=\"true\">" \
"<svg width=\"28\" height=\"28\" viewBox=\"0 0 24 24\" fill=\"none\" " \
"stroke=\"currentColor\" stroke-width=\"2\" stroke-linecap=\"round\" " \
"stroke-linejoin=\"round\"><rect x=\"4\" y=\"11\" width=\"16\" " \
"height=\"10\" rx=\"2\"/><path d=\"M8 11V7a4 4 0 0 1 8 0v4\"/></svg>" \
"</div>{{/logo_url}}\n"

#define PAGE_TAIL \
"</main>\n" \
"</body>\n" \
"</html>\n"

/* A metadata document client: client_name is its URL's host, and the name
 * its document gives comes second, as a claim. */
#define CLAIMED_NAME \
"{{#client_claimed_name}}<p class=\"fine\">It calls itself " \
"&ldquo;{{client_claimed_name}}&rdquo;.</p>{{/client_claimed_name}}\n"

const char auth_login_html[] =
PAGE_HEAD("Sign in to {{plugin_name}}")
"<main>\n"
PAGE_LOGO
"<h1>Sign in to {{plugin_name}}</h1>\n"
"<p class=\"lead\"><strong>{{client_name}}</strong> wants to access your "
"account</p>\n"
CLAIMED_NAME
"{{#error}}<div class=\"alert\" role=\"alert\">{{error}}</div>{{/error}}\n"
"<form method=\"post\" action=\"{{action}}\">\n"
"<label for=\"username\">Username</label>\n"
"<input id=\"username\" name=\"username\" type=\"text\" "
"value=\"{{username}}\" autocomplete=\"username\" autocapitalize=\"none\" "
"spellcheck=\"false\" required{{^error}} autofocus{{/error}}>\n"
"<label for=\"password\">Password</label>\n"
"<input id=\"password\" name=\"password\" type=\"password\" "
"autocomplete=\"current-password\" required"
"{{#error}} autofocus{{/error}}>\n"
"{{{hidden}}}\n"
"<button type=\"submit\">Sign in</button>\n"
"</form>\n"
"{{#redirect_host}}<p class=\"fine\">After you sign in you will return to "
"{{redirect_host}}.</p>{{/redirect_host}}\n"
PAGE_TAIL;

const char auth_consent_html[] =
PAGE_HEAD("Allow {{client_name}} to access {{plugin_name}}?")
"<main>\n"
PAGE_LOGO
"<h1>Allow {{client_name}}?</h1>\n"
"<p class=\"lead\"><strong>{{client_name}}</strong> wants to access your "
"<strong>{{plugin_name}}</strong> account as "
"<strong>{{username}}</strong></p>\n"
CLAIMED_NAME
"{{#scopes}}<p class=\"section\">It will be able to:</p>\n"
"<ul class=\"scopes\">\n{{{scopes}}}</ul>{{/scopes}}\n"
"<form method=\"post\" action=\"{{action}}\">\n"
"{{{hidden}}}\n"
"<div class=\"actions\">\n"
"<button type=\"submit\" name=\"decision\" value=\"deny\" "
"class=\"secondary\">Deny</button>\n"
"<button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\n"
"</div>\n"
"</form>\n"
"<p class=\"fine\">{{#redirect_host}}Either way you will return to "
"{{redirect_host}}. {{/redirect_host}}Only allow apps you trust.</p>\n"
PAGE_TAIL;

const char auth_error_html[] =
PAGE_HEAD("{{#title}}{{title}}{{/title}}{{^title}}Something went wrong"
    "{{/title}}")
"<main>\n"
"<div class=\"mark bad\" aria-hidden=\"true\">"
"<svg width=\"28\" height=\"28\" viewBox=\"0 0 24 24\" fill=\"none\" "
"stroke=\"currentColor\" stroke-width=\"2\" stroke-linecap=\"round\" "
"stroke-linejoin=\"round\"><circle cx=\"12\" cy=\"12\" r=\"10\"/>"
"<path d=\"M12 7v6\"/><path d=\"M12 17h.01\"/></svg></div>\n"
"<h1>{{#title}}{{title}}{{/title}}{{^title}}Something went wrong"
"{{/title}}</h1>\n"
"{{#message}}<p class=\"message\">{{message}}</p>{{/message}}\n"
"<p class=\"fine\">{{#hint}}{{hint}}{{/hint}}{{^hint}}Return to the app "
"and try again.{{/hint}}</p>\n"
"{{#plugin_name}}<p class=\"fine\">{{plugin_name}}</p>{{/plugin_name}}\n"
PAGE_TAIL;
/* clang-format on */
