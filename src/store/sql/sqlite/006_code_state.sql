-- 006: events that explain failures.
--
-- codes.state: the authorization request's state (not a secret; at most
-- OAUTH_EVENT_FIELD_MAX bytes, as on the authorize events), put on the
-- token event of the exchange so that `plugauth events --state S` shows
-- the whole flow.
-- events.detail: the offending value (the redirect_uri sent, the unknown
-- client_id or scope), sanitised and capped; events.method: how a client
-- tried to authenticate (basic, post, both, none); events.description:
-- the human sentence, while reason holds the code.
ALTER TABLE codes ADD COLUMN state TEXT;
ALTER TABLE events ADD COLUMN detail TEXT;
ALTER TABLE events ADD COLUMN method TEXT;
ALTER TABLE events ADD COLUMN description TEXT;
