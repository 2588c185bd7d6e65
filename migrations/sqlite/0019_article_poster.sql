-- Who posted an article through the API (its token, as the audit log
-- names it; '' for a feed's item), or flagged it breaking since: with
-- CRIEUR_ALERT_APPROVAL=true the automatic alert it raises must be
-- approved by someone else.
ALTER TABLE articles ADD COLUMN posted_by TEXT NOT NULL DEFAULT '';
