-- The indexes of migrations/postgres/0020: a digest row enters fewer of
-- them, each written again by the claim and by the outcome. (SQLite has no
-- fillfactor: PostgreSQL's subscribers change there has no equivalent.)
--
-- Digest rows name no alert: the alert index keeps only the rows that do.
DROP INDEX deliveries_alert;
CREATE INDEX deliveries_alert ON deliveries (alert_id) WHERE alert_id IS NOT NULL;
-- One unique index, reader first, keeps "one digest per reader per run"
-- and serves the lookups by reader.
CREATE UNIQUE INDEX deliveries_subscriber_run ON deliveries (subscriber_id, run_id);
DROP INDEX deliveries_run_subscriber;
DROP INDEX deliveries_subscriber;
-- Lookups by run look at finished rows; whether a run still has mail to
-- send is read from the pending and sending indexes (RunBusy).
CREATE INDEX deliveries_run_done ON deliveries (run_id) WHERE state NOT IN ('pending', 'sending');
