#!/usr/bin/env python3
"""Seeds a plugauth SQLite database for bench/run.

  seed.py DB CLIENT_ID live N          N live access tokens (random digests)
  seed.py DB CLIENT_ID refresh N FILE  N refresh tokens for user 'bench',
                                       the raw tokens written to FILE, one a line
  seed.py signin URL CLIENT_ID REDIRECT USER PASSWORD
                                       signs in through the login and consent
                                       pages; prints the session cookie
Tokens are stored as the server stores them: SHA-256 digests only.
"""
import base64
import hashlib
import html.parser
import http.client
import os
import sqlite3
import sys
import time
import urllib.parse


def live(db, client_id, n):
    now = int(time.time())
    con = sqlite3.connect(db)
    con.executemany(
        "INSERT INTO tokens (digest, kind, client_id, user_id, scope, audience,"
        " family_id, expires_at, revoked_at, created_at)"
        " VALUES (?, 1, ?, NULL, 'todo.read', NULL, 0, ?, 0, ?)",
        ((os.urandom(32), client_id, now + 86400, now) for _ in range(n)))
    con.commit()


def refresh(db, client_id, n, path):
    now = int(time.time())
    con = sqlite3.connect(db)
    uid = con.execute("SELECT id FROM users WHERE name = 'bench'").fetchone()[0]
    rows = []
    with open(path, "w") as out:
        for i in range(n):
            tok = "pa_rt_" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
            out.write(tok + "\n")
            rows.append((hashlib.sha256(tok.encode()).digest(), client_id, uid,
                         i + 1, now + 86400, now))
    con.executemany(
        "INSERT INTO tokens (digest, kind, client_id, user_id, scope, audience,"
        " family_id, expires_at, revoked_at, created_at)"
        " VALUES (?, 2, ?, ?, 'todo.read', NULL, ?, ?, 0, ?)", rows)
    con.commit()


class Form(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("type") == "hidden":
            self.fields[a["name"]] = a.get("value", "")


def signin(url, client_id, redirect, user, password):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port)
    q = urllib.parse.urlencode({"response_type": "code", "client_id": client_id,
                                "redirect_uri": redirect, "state": "bench"})
    cookie = ""

    def req(method, path, body=None):
        nonlocal cookie
        h = {"Cookie": cookie} if cookie else {}
        if body is not None:
            h["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read().decode()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                cookie = v.split(";")[0]
        return r.status, data

    status, page = req("GET", "/oauth/authorize?" + q)
    f = Form(); f.feed(page)
    f.fields.update(username=user, password=password)
    status, page = req("POST", "/oauth/authorize", urllib.parse.urlencode(f.fields))
    f = Form(); f.feed(page)
    f.fields.update(decision="allow")
    status, _ = req("POST", "/oauth/authorize", urllib.parse.urlencode(f.fields))
    if status != 303:
        sys.exit("seed.py: sign-in did not end in a redirect (%d)" % status)
    print(cookie)


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "signin":
        signin(*a[1:6])
    elif a[2] == "live":
        live(a[0], a[1], int(a[3]))
    elif a[2] == "refresh":
        refresh(a[0], a[1], int(a[3]), a[4])
    else:
        sys.exit(__doc__)
