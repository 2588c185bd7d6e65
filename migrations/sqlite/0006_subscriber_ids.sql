-- A subscriber's id is never handed out twice. Links in emails name a
-- subscriber by id (signed, but without expiry for unsubscribe and
-- preference links), and SQLite gives a new row the largest id in the
-- table plus one: erasing the newest reader, or expiring an unconfirmed
-- one, let the next sign-up take that id, and the erased reader's old
-- links would then have opened the newcomer's preference center.
-- PostgreSQL's identity column never reuses an id.
--
-- id_floor keeps the largest id ever deleted; InsertSubscriber starts
-- above it. (AUTOINCREMENT would do the same, but SQLite can add it only by
-- rebuilding the table, which its foreign keys make unsafe in a migration.)
CREATE TABLE id_floor (
    name    TEXT PRIMARY KEY,
    last_id INTEGER NOT NULL
);

CREATE TRIGGER subscribers_id_floor AFTER DELETE ON subscribers
BEGIN
    INSERT INTO id_floor (name, last_id) VALUES ('subscribers', OLD.id)
    ON CONFLICT (name) DO UPDATE SET last_id = max(last_id, excluded.last_id);
END;
