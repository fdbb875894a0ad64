-- 002: revoked token families.
--
-- A family is every token issued from one authorization code, through all
-- its refreshes, and it is revoked as a whole: by a replayed code, by a
-- rotated refresh token presented after refresh_reuse_grace, by RFC 7009
-- revocation of a refresh token, by `plugauth token revoke`. Marking the
-- family's tokens revoked is not enough: a refresh or code exchange that
-- read its token or code before the revocation would insert a live pair
-- after it. So a revocation records the family here, in the transaction
-- that revokes its tokens, and a family's tokens are inserted only if the
-- family is not here, checked in the insert's transaction (one rowid
-- lookup: store_tokens_issue()).
--
-- keep_until: the last expiry of the family's tokens that were live when
-- it was revoked (at least the revocation time). Nothing of the family
-- can be used after it; store_gc() deletes the row STORE_FAMILY_KEEP_S
-- later.
CREATE TABLE revoked_families (
	family_id	INTEGER PRIMARY KEY,	-- tokens.family_id, never 0
	revoked_at	INTEGER NOT NULL,
	keep_until	INTEGER NOT NULL
);
CREATE INDEX revoked_families_keep_until ON revoked_families(keep_until);

-- The families revoked before this migration: a revoked refresh token
-- means that its whole family was revoked (an access token may have been
-- revoked alone, through RFC 7009).
INSERT INTO revoked_families (family_id, revoked_at, keep_until)
SELECT family_id, max(revoked_at), max(expires_at) FROM tokens
WHERE family_id != 0 AND revoked_at != 0
GROUP BY family_id HAVING max(kind = 2);
