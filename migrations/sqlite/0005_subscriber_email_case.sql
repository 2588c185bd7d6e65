-- A subscriber's address is one identity whatever its case: crieur now
-- stores new addresses lower-cased (local part included) and looks them up
-- by lower(email), which this index serves.
--
-- Existing addresses are lower-cased here, except those that collide with
-- another row differing only by case (Case@x.test and case@x.test, or
-- Case@x.test and CASE@x.test): such rows are left exactly as they are,
-- since merging them means choosing whose topics, preferences and history
-- to keep, which is an editor's call. Lookups still find one of them (the
-- lower-cased row if there is one, else the oldest), so no third row is
-- ever created for that mailbox.
CREATE INDEX IF NOT EXISTS subscribers_email_lower ON subscribers (lower(email));

UPDATE subscribers SET email = lower(email)
WHERE email <> lower(email)
  AND NOT EXISTS (
    SELECT 1 FROM subscribers o
    WHERE o.id <> subscribers.id AND lower(o.email) = lower(subscribers.email)
  );
