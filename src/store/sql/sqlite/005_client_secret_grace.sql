-- 005: a client's previous secret, for `plugauth client rotate-secret
-- --grace`.
--
-- A rotation with a grace window keeps the secret it replaces here, as a
-- SHA-256 digest like secret_digest, and the token endpoint accepts it too
-- while old_secret_until > now: the GPT editor can be given the new secret
-- without breaking every user's next refresh in between. Only one previous
-- secret is kept: a second rotation within the window replaces it with the
-- secret it replaces itself; a rotation without a grace window clears it.
ALTER TABLE clients ADD COLUMN old_secret_digest BLOB;		-- NULL: none
ALTER TABLE clients ADD COLUMN old_secret_until INTEGER NOT NULL DEFAULT 0;
