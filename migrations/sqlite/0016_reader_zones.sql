-- Readers' own time zones and digests at their own hour
-- (CRIEUR_DIGEST_LOCAL=true).
--
-- subscribers.timezone is an IANA name; '' means CRIEUR_TIMEZONE, read
-- when a run is made, so that a publisher who moves the default moves the
-- readers who never chose.
--
-- subscribers.digest_key is the ledger of local digests: the wall-clock
-- time, in the reader's zone, of the last firing of the spec that reached
-- them (as Unix milliseconds of that wall time read as UTC; 0: none). A
-- local run carries, per zone, the wall time of the firing it stands for,
-- and takes a reader only while their key is below it: one digest per
-- firing of the spec on the reader's own clock, whatever DST or a change
-- of zone does to the instants.
ALTER TABLE subscribers ADD COLUMN timezone TEXT NOT NULL DEFAULT '';
ALTER TABLE subscribers ADD COLUMN digest_key INTEGER NOT NULL DEFAULT 0;

-- A local run is one slot: the zones whose firing falls on its instant.
ALTER TABLE digest_runs ADD COLUMN zoned INTEGER NOT NULL DEFAULT 0;

CREATE TABLE digest_run_zones (
    run_id    INTEGER NOT NULL REFERENCES digest_runs (id) ON DELETE CASCADE,
    timezone  TEXT NOT NULL,
    local_key INTEGER NOT NULL,
    PRIMARY KEY (run_id, timezone)
);

-- Slots follow each other by 15 minutes (Asia/Kathmandu after
-- Asia/Kolkata) while the earlier one still sends: local runs may be open
-- side by side. They cannot hand a reader the same articles twice: a
-- reader is taken by one run only, through digest_key and digest_cursor
-- compared and set in the same statement (Store.EnqueueDigestBatch).
DROP INDEX digest_runs_one_open;
CREATE UNIQUE INDEX digest_runs_one_open ON digest_runs (frequency) WHERE finished_at IS NULL AND zoned = 0;

-- A slot's run reads the readers of a few zones (EligibleZonedBatch), the
-- minute's look the zones in use (DigestZones): both from this index.
CREATE INDEX subscribers_zone ON subscribers (frequency, status, paused, timezone, id);
