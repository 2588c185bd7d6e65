-- A reader's signed links can be revoked. Every token carries the
-- generation of the reader's links it was made in; revoking (a reader's
-- "sign out everywhere", an admin's "revoke links") adds one to link_gen,
-- and a token of an older generation then opens nothing but the
-- unsubscribe page. Tokens in emails sent before this migration carry no
-- generation and read as 0: they keep working until the first revocation.
ALTER TABLE subscribers ADD COLUMN link_gen INTEGER NOT NULL DEFAULT 0;
