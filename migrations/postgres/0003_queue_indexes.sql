-- Queue indexes that a message's progress touches as little as possible:
-- the due index holds only pending rows (a claim removes the row from it, a
-- record does not touch it), claimed rows have their own small index for
-- the rescuer, and per-run / per-alert lookups use the unique indexes'
-- prefixes instead of indexes that included the state. Measured with
-- `make bench`: marking a message sent no longer rewrites two index entries.
DROP INDEX deliveries_due;
DROP INDEX deliveries_run;
DROP INDEX deliveries_alert;
CREATE INDEX deliveries_due ON deliveries (priority, next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX deliveries_claimed ON deliveries (locked_at) WHERE state = 'sending';
CREATE INDEX deliveries_alert ON deliveries (alert_id);
DROP INDEX push_deliveries_due;
DROP INDEX push_deliveries_alert;
CREATE INDEX push_deliveries_due ON push_deliveries (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX push_deliveries_claimed ON push_deliveries (locked_at) WHERE state = 'sending';
