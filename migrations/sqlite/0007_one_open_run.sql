-- One unfinished digest run per frequency. Two runs of the same frequency
-- enqueuing at once both read the readers' cursors before either moved
-- them, and both sent the same articles: two instances each asked to "run
-- now" at the same moment sent 1,999 readers their digest twice. A run
-- asked for while another is unfinished is now that run (CreateRun).
--
-- Runs left unfinished side by side before this migration: all but the
-- newest of each frequency are closed, marked failed if still running.
UPDATE digest_runs
SET state = CASE WHEN state = 'running' THEN 'failed' ELSE state END,
    error = CASE WHEN error = '' THEN 'superseded by a later run of the same frequency' ELSE error END,
    finished_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000
WHERE finished_at IS NULL
  AND id NOT IN (SELECT MAX(id) FROM digest_runs WHERE finished_at IS NULL GROUP BY frequency);

CREATE UNIQUE INDEX digest_runs_one_open ON digest_runs (frequency) WHERE finished_at IS NULL;
