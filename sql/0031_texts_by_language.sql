-- Auto-replies and trigger messages written in both languages (issue 21): `texts` maps a
-- language ('en', 'uk') to its text; `text` stays the one used when the visitor's language
-- has none (the English text, else the Ukrainian), so rules written before keep working.
ALTER TABLE auto_replies ADD COLUMN texts jsonb NOT NULL DEFAULT '{}'::jsonb;
