-- A digest costs PostgreSQL three writes of its delivery row (queued,
-- claimed, sent) and one of its reader's ledger (digest_cursor). An update
-- that changes the state writes an entry in every index again, so each
-- index a digest row enters is paid three times; these are the ones it
-- need not enter.
--
-- Digest rows name no alert: the alert index keeps only the rows that do
-- (alert_id = ? implies alert_id IS NOT NULL, so the same queries use it).
DROP INDEX deliveries_alert;
CREATE INDEX deliveries_alert ON deliveries (alert_id) WHERE alert_id IS NOT NULL;
-- One unique index, reader first, keeps "one digest per reader per run"
-- and serves the lookups by reader (their history, their pending mail, the
-- foreign key's ON DELETE SET NULL) that deliveries_subscriber served.
CREATE UNIQUE INDEX deliveries_subscriber_run ON deliveries (subscriber_id, run_id);
DROP INDEX deliveries_run_subscriber;
DROP INDEX deliveries_subscriber;
-- Lookups by run look at finished rows (health, failures); whether a run
-- still has mail to send is read from the pending and sending indexes
-- (RunBusy). A row enters this one once, when it is finished.
CREATE INDEX deliveries_run_done ON deliveries (run_id) WHERE state NOT IN ('pending', 'sending');
-- Room on each page for a new version of every reader on it, so that the
-- enqueuer's cursor update (no indexed column changes) stays on the page
-- (a HOT update) instead of writing all six of the table's index entries
-- again. Pages written from now on keep half their space free.
ALTER TABLE subscribers SET (fillfactor = 50);
