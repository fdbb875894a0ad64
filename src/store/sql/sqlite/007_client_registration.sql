-- 007: dynamic client registration (RFC 7591, RFC 7592).
--
-- clients.origin: how the client came to be: 'cli' (plugauth client add),
-- 'registered' (POST /oauth/register), later 'metadata_document'.
-- clients.registration_digest: SHA-256 of the RFC 7592 registration access
-- token of a registered client (NULL for the others).
-- clients.first_token_at: when the client first obtained a token (0:
-- never); a registered client still at 0 registration_unused_ttl after its
-- registration is removed by the periodic sweep.
-- clients.metadata: the registered client metadata as a JSON object (only
-- the fields plugauth keeps), answered by RFC 7592 reads; NULL for others.
ALTER TABLE clients ADD COLUMN origin TEXT NOT NULL DEFAULT 'cli';
ALTER TABLE clients ADD COLUMN registration_digest BLOB;
ALTER TABLE clients ADD COLUMN first_token_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN metadata TEXT;
CREATE INDEX clients_unused ON clients(created_at)
	WHERE origin = 'registered' AND first_token_at = 0;

-- Initial access tokens (RFC 7591 §3) for `[oauth] registration = token`,
-- made by `plugauth registration token`: kept as digests, each good for
-- uses_left more registrations until expires_at.
CREATE TABLE registration_tokens (
	digest		BLOB PRIMARY KEY,
	uses_left	INTEGER NOT NULL,
	expires_at	INTEGER NOT NULL,
	created_at	INTEGER NOT NULL
);
