-- A preview for a sample reader keeps the language, frequency and topics
-- the editor chose (a query string), since there is no subscriber row.
ALTER TABLE deliveries ADD COLUMN meta TEXT NOT NULL DEFAULT '';
