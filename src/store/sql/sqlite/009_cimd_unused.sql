-- 009: client ID metadata documents.
--
-- A metadata-document client (clients.origin 'metadata_document', its id
-- the document's URL) is stored on its first authorization; one that never
-- obtained a token is removed registration_unused_ttl after it was stored,
-- as a registered one is. This index finds them, as clients_unused (007)
-- finds registered clients.
CREATE INDEX clients_unused_doc ON clients(created_at)
	WHERE origin = 'metadata_document' AND first_token_at = 0;
