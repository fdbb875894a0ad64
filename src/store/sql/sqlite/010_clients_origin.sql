-- 010: how many registered clients there are, kept up to date by triggers.
-- The registration cap (registration_max_clients) is checked on every
-- registration (store_client_register()); counting the clients table each
-- time made registrations slower as clients accumulated (bench/run
-- register: 1,290 then 446 then 366 registrations/s over three runs). The
-- cap now reads one row.
CREATE TABLE client_counts (
	origin	TEXT PRIMARY KEY,
	n	INTEGER NOT NULL
);
INSERT INTO client_counts (origin, n)
	SELECT 'registered', count(*) FROM clients WHERE origin = 'registered';
CREATE TRIGGER clients_count_insert AFTER INSERT ON clients
	WHEN NEW.origin = 'registered'
BEGIN
	UPDATE client_counts SET n = n + 1 WHERE origin = 'registered';
END;
CREATE TRIGGER clients_count_delete AFTER DELETE ON clients
	WHEN OLD.origin = 'registered'
BEGIN
	UPDATE client_counts SET n = n - 1 WHERE origin = 'registered';
END;
CREATE TRIGGER clients_count_update AFTER UPDATE OF origin ON clients
	WHEN (OLD.origin = 'registered') != (NEW.origin = 'registered')
BEGIN
	UPDATE client_counts
		SET n = n + CASE WHEN NEW.origin = 'registered' THEN 1 ELSE -1 END
		WHERE origin = 'registered';
END;
