-- 001: the initial schema.
--
-- Migrations are applied in order, each in its own transaction, by
-- store_migrate(), which also sets PRAGMA user_version to the migration's
-- number: so no BEGIN, COMMIT or user_version here. Never edit a migration
-- that has landed: add NNN_name.sql instead.
--
-- Secrets (tokens, codes, client secrets, session and CSRF tokens) are
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

-- Access and refresh tokens (kind 1 and 2).
CREATE TABLE tokens (
	digest		BLOB PRIMARY KEY,
	kind		INTEGER NOT NULL,
	client_id	TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
	user_id		INTEGER REFERENCES users(id) ON DELETE CASCADE,	-- NULL: no user
	scope		TEXT NOT NULL,
	audience	TEXT,			-- RFC 8707 resource
	family_id	INTEGER NOT NULL DEFAULT 0,
	expires_at	INTEGER NOT NULL,
	revoked_at	INTEGER NOT NULL DEFAULT 0,	-- 0: not revoked
	rotated_at	INTEGER NOT NULL DEFAULT 0,	-- refresh: 0 until used
	created_at	INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX tokens_client_id ON tokens(client_id);
CREATE INDEX tokens_user_id ON tokens(user_id);
CREATE INDEX tokens_expires_at ON tokens(expires_at);

-- Authorization codes: single use (used_at), bound to everything below.
CREATE TABLE codes (
	digest		BLOB PRIMARY KEY,
	client_id	TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
	user_id		INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	redirect_uri	TEXT NOT NULL,
	scope		TEXT NOT NULL,
	code_challenge	TEXT,			-- PKCE S256, NULL if none
	resource	TEXT,			-- RFC 8707
	nonce		TEXT,
	family_id	INTEGER NOT NULL DEFAULT 0,	-- for its tokens
	expires_at	INTEGER NOT NULL,
	used_at		INTEGER NOT NULL DEFAULT 0,	-- 0: not redeemed
	created_at	INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX codes_client_id ON codes(client_id);
CREATE INDEX codes_user_id ON codes(user_id);
CREATE INDEX codes_expires_at ON codes(expires_at);

-- What a user has allowed a client; the primary key covers user_id.
CREATE TABLE consents (
	user_id		INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	client_id	TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
	scope		TEXT NOT NULL,
	created_at	INTEGER NOT NULL,
	PRIMARY KEY (user_id, client_id)
) WITHOUT ROWID;
CREATE INDEX consents_client_id ON consents(client_id);

-- Browser sessions; user_id is NULL until the user signs in.
CREATE TABLE sessions (
	digest		BLOB PRIMARY KEY,
	user_id		INTEGER REFERENCES users(id) ON DELETE CASCADE,
	csrf_digest	BLOB,
	expires_at	INTEGER NOT NULL,
	created_at	INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user_id ON sessions(user_id);
CREATE INDEX sessions_expires_at ON sessions(expires_at);
