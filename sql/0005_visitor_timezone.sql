-- The visitor's IANA time zone as their browser reports it, so operators see their local time.
ALTER TABLE visitors ADD COLUMN timezone text;
