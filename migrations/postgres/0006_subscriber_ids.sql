-- SQLite's 0006 keeps erased subscribers' ids from being handed out again.
-- PostgreSQL's identity column never reuses an id: nothing to do here but
-- keep both dialects' migrations in step.
SELECT 1;
