-- 001: the initial schema.
--
-- Migrations are applied in order, each in its own transaction, by
-- store_migrate(), which also sets PRAGMA user_version to the migration's
-- number: so no BEGIN, COMMIT or user_version here. Never edit a migration
-- that has landed: add NNN_name.sql instead.
--
-- Secrets (tokens, codes, client secrets, session cookies) are
-- stored only as SHA-256 digests. Times are seconds since the epoch.
-- Child tables index their foreign keys so that cascading deletes do not
-- scan them.

CREATE TABLE clients (
	id		TEXT PRIMARY KEY,
	name		TEXT NOT NULL,
	is_public	INTEGER NOT NULL DEFAULT 0,
	secret_digest	BLOB,			-- NULL for public clients
	chatgpt		INTEGER NOT NULL DEFAULT 0,
	redirect_uris	TEXT NOT NULL DEFAULT '',	-- newline-separated
	scope		TEXT NOT NULL DEFAULT '',	-- '' = every scope
	created_at	INTEGER NOT NULL
);

CREATE TABLE users (
	id		INTEGER PRIMARY KEY,
	name		TEXT NOT NULL UNIQUE,
	password_hash	TEXT NOT NULL,		-- argon2id string
	created_at	INTEGER NOT NULL
);

-- Access and refresh tokens (kind 1 and 2). A rowid table with the digest
-- in a unique index, not a WITHOUT ROWID table keyed by digest: rows are
-- appended in rowid order and only the narrow digest index takes random
-- inserts, and the other indexes point at 8-byte rowids instead of 32-byte
-- digests. Measured on random 32-byte digests: about twice the insert
-- rate, lookups by digest about the same (docs/storage.md).
CREATE TABLE tokens (
	id		INTEGER PRIMARY KEY,
	digest		BLOB NOT NULL UNIQUE,
	kind		INTEGER NOT NULL,
	client_id	TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
	user_id		INTEGER REFERENCES users(id) ON DELETE CASCADE,	-- NULL: no user
	scope		TEXT NOT NULL,
	audience	TEXT,			-- RFC 8707 resource
	family_id	INTEGER NOT NULL DEFAULT 0,	-- 0: no family
	expires_at	INTEGER NOT NULL,	-- live while expires_at > now
	revoked_at	INTEGER NOT NULL DEFAULT 0,	-- 0: not revoked
	rotated_at	INTEGER NOT NULL DEFAULT 0,	-- refresh: 0 until used
	created_at	INTEGER NOT NULL
);
-- Every index costs each commit a WAL page. The partial ones cost
-- client_credentials tokens (no user, family 0) nothing: SQLite uses
-- tokens_user_id for "user_id = ?" (the cascade from users too), and
-- tokens_family_id only if the query says "family_id != 0".
CREATE INDEX tokens_client_id ON tokens(client_id);
CREATE INDEX tokens_user_id ON tokens(user_id) WHERE user_id IS NOT NULL;
CREATE INDEX tokens_expires_at ON tokens(expires_at);
CREATE INDEX tokens_family_id ON tokens(family_id) WHERE family_id != 0;

-- Authorization codes: single use (used_at), bound to everything below.
-- A used code is kept until a day after it expires, so that a replay is
-- recognised as one (and revokes its family) rather than taken for an
-- unknown code.
CREATE TABLE codes (
	id		INTEGER PRIMARY KEY,
	digest		BLOB NOT NULL UNIQUE,
	client_id	TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
	user_id		INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	redirect_uri	TEXT NOT NULL,
	scope		TEXT NOT NULL,
	code_challenge	TEXT,			-- PKCE S256, NULL if none
	resource	TEXT,			-- RFC 8707
	family_id	INTEGER NOT NULL DEFAULT 0,	-- for its tokens
	expires_at	INTEGER NOT NULL,
	used_at		INTEGER NOT NULL DEFAULT 0,	-- 0: not redeemed
	created_at	INTEGER NOT NULL
);
CREATE INDEX codes_client_id ON codes(client_id);
CREATE INDEX codes_user_id ON codes(user_id);
CREATE INDEX codes_expires_at ON codes(expires_at);

-- What a user has allowed a client; the primary key covers user_id.
CREATE TABLE consents (
	user_id		INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	client_id	TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
	scope		TEXT NOT NULL,
	created_at	INTEGER NOT NULL,	-- first granted
	updated_at	INTEGER NOT NULL,	-- last changed
	PRIMARY KEY (user_id, client_id)
) WITHOUT ROWID;
CREATE INDEX consents_client_id ON consents(client_id);

-- Browser sessions; user_id is NULL until the user signs in. Small rows
-- looked up only by digest: WITHOUT ROWID suits them. CSRF tokens are
-- derived from the session cookie (HMAC), so nothing else is stored.
CREATE TABLE sessions (
	digest		BLOB PRIMARY KEY,
	user_id		INTEGER REFERENCES users(id) ON DELETE CASCADE,
	expires_at	INTEGER NOT NULL,
	created_at	INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user_id ON sessions(user_id) WHERE user_id IS NOT NULL;
CREATE INDEX sessions_expires_at ON sessions(expires_at);

-- The OAuth event log (plugauth events): what happened, never a secret.
-- Names, not foreign keys: an event outlives the client or user it names.
-- AUTOINCREMENT: an id is never reused, even once gc has emptied the
-- table, so "events after id N" (events --follow) never misses one. Each
-- filter column's index ends in the rowid, so "client_id = ? AND id > ?
-- ORDER BY id DESC" is one index range.
CREATE TABLE events (
	id		INTEGER PRIMARY KEY AUTOINCREMENT,
	at		INTEGER NOT NULL,
	kind		TEXT NOT NULL,		-- authorize, login, token, ...
	outcome		TEXT NOT NULL,		-- ok or an error code
	reason		TEXT,
	client_id	TEXT,
	user		TEXT,			-- user name
	state		TEXT,			-- OAuth state parameter
	peer		TEXT			-- client address
);
CREATE INDEX events_client_id ON events(client_id);
CREATE INDEX events_user ON events(user);
CREATE INDEX events_state ON events(state);
CREATE INDEX events_at ON events(at);
