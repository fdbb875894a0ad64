-- 008: JWT access tokens (docs/jwt.md).
--
-- signing_keys: the ES256 key pairs that sign JWT access tokens. The
-- private key is PKCS#8 DER: a secret, never printed, logged or served
-- (only its public half, at /oauth/jwks.json). One key signs (retired_at
-- = 0); `plugauth keys rotate` retires it in the transaction that adds
-- its successor, and keeps it published and verifying until keep_until
-- (the last token it signed has expired by then).
CREATE TABLE signing_keys (
	kid		TEXT PRIMARY KEY,
	alg		TEXT NOT NULL,
	private_key	BLOB NOT NULL,
	created_at	INTEGER NOT NULL,
	retired_at	INTEGER NOT NULL DEFAULT 0,	-- 0: the signing key
	keep_until	INTEGER NOT NULL DEFAULT 0	-- retired: verifies until
);

-- A client_credentials JWT is not stored (no row to revoke): `token revoke
-- --client` records the time here, and a JWT of that client issued at or
-- before it is refused. Both this and removing a client bump the
-- revocation epoch (004), so the gateway's cache lets go of such tokens.
ALTER TABLE clients ADD COLUMN tokens_revoked_at INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER clients_revoked_epoch AFTER UPDATE OF tokens_revoked_at
ON clients WHEN NEW.tokens_revoked_at != OLD.tokens_revoked_at
BEGIN
	UPDATE revocation_epoch SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER clients_deleted_epoch AFTER DELETE ON clients
BEGIN
	UPDATE revocation_epoch SET n = n + 1 WHERE id = 1;
END;
