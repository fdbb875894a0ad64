-- 003: the grant types each client may use at the token endpoint.
--
-- A bit mask (STORE_GRANT_* in store.h): 1 authorization_code,
-- 2 refresh_token, 4 client_credentials. A grant the client may not use is
-- refused with unauthorized_client (RFC 6749 §5.2).
--
-- Existing clients: a ChatGPT client (its secret is pasted into a third
-- party's UI) or a public one (no secret) keeps authorization_code and
-- refresh_token and loses client_credentials, so that it can no longer
-- mint tokens without a user; any other confidential client keeps all
-- three, as before, so that nothing that works stops working.
ALTER TABLE clients ADD COLUMN grants INTEGER NOT NULL DEFAULT 3;
UPDATE clients SET grants = 7 WHERE is_public = 0 AND chatgpt = 0;
