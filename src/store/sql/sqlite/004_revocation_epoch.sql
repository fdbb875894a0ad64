-- 004: the revocation epoch.
--
-- The gateway keeps the access tokens it found live for a few seconds
-- (src/gateway/cache.c). A revocation made by the serving process drops
-- that cache at once (store_revocations_local()); one made by another
-- process (`plugauth token revoke`, `client remove`, `user remove`) is
-- seen through this counter, which the server reads at most every
-- GW_REVOKE_POLL_MS (store_revocation_epoch()).
--
-- The triggers bump it in the transaction that ends an access token
-- before its expiry, whoever runs it and whichever statement does it:
-- setting revoked_at, or deleting a live token (a client or user removed,
-- through the foreign keys' cascade, which fires triggers too). Deleting
-- an expired token (store_gc()) does not. One bump per token; measured
-- at about half a microsecond per revoked row (docs/storage.md).
CREATE TABLE revocation_epoch (
	id	INTEGER PRIMARY KEY CHECK (id = 1),	-- one row
	n	INTEGER NOT NULL			-- only grows
);
INSERT INTO revocation_epoch (id, n) VALUES (1, 0);

CREATE TRIGGER tokens_revoked_epoch AFTER UPDATE OF revoked_at ON tokens
WHEN OLD.revoked_at = 0 AND NEW.revoked_at != 0 AND NEW.kind = 1
BEGIN
	UPDATE revocation_epoch SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER tokens_deleted_epoch AFTER DELETE ON tokens
WHEN OLD.revoked_at = 0 AND OLD.kind = 1 AND
    OLD.expires_at > CAST(strftime('%s', 'now') AS INTEGER)
BEGIN
	UPDATE revocation_epoch SET n = n + 1 WHERE id = 1;
END;
