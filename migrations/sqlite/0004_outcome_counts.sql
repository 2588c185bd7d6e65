-- Alerts and digest runs keep the counts of their outcomes, added to in the
-- transaction that records each outcome (and in those that cancel), so
-- that live progress reads one row instead of counting every delivery:
-- counting took 40 ms a request for an alert of 100,000 browsers.
ALTER TABLE alerts ADD COLUMN delivered INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN failed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN expired INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN email_sent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN email_failed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE digest_runs ADD COLUMN sent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE digest_runs ADD COLUMN failed INTEGER NOT NULL DEFAULT 0;

UPDATE alerts SET
    delivered = (SELECT COUNT(*) FROM push_deliveries d WHERE d.alert_id = alerts.id AND d.state = 'sent'),
    failed = (SELECT COUNT(*) FROM push_deliveries d WHERE d.alert_id = alerts.id AND d.state = 'failed'),
    expired = (SELECT COUNT(*) FROM push_deliveries d WHERE d.alert_id = alerts.id AND d.state IN ('expired', 'cancelled')),
    email_sent = (SELECT COUNT(*) FROM deliveries d WHERE d.alert_id = alerts.id AND d.state = 'sent'),
    email_failed = (SELECT COUNT(*) FROM deliveries d WHERE d.alert_id = alerts.id AND d.state = 'failed');
UPDATE digest_runs SET
    sent = (SELECT COUNT(*) FROM deliveries d WHERE d.run_id = digest_runs.id AND d.state = 'sent'),
    failed = (SELECT COUNT(*) FROM deliveries d WHERE d.run_id = digest_runs.id AND d.state IN ('failed', 'cancelled', 'expired'));
