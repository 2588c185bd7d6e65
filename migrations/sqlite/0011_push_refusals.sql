-- How many alerts in a row a subscription's push service has refused with a
-- 4xx other than 404, 410, 408 and 429 (400, 403, 413...): at three the
-- subscription is removed, so that an endpoint that is not a push service
-- is not posted every alert forever. A delivery sets it back to 0.
ALTER TABLE push_subscriptions ADD COLUMN refusals INTEGER NOT NULL DEFAULT 0;
