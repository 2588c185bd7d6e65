-- Each claim of a queued email or push message gets a number, as push
-- windows have had since 0008: recording an outcome must name the claim it
-- was sent under. A worker thought dead whose rows were taken back (after
-- the lease, or at another instance's start) and claimed again may still
-- record: its outcome names an older claim and changes nothing, so it can
-- neither release nor mark the live worker's claim (which let a third
-- worker send the message once more).
ALTER TABLE deliveries ADD COLUMN claims INTEGER NOT NULL DEFAULT 0;
ALTER TABLE push_deliveries ADD COLUMN claims INTEGER NOT NULL DEFAULT 0;
