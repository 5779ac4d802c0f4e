-- Email: an organization's SMTP server, how long a site's visitors may wait before the
-- team hears of a missed chat by email, and single-use password reset links.

-- No row: the organization sends no email at all (the panel still shows links to copy).
CREATE TABLE mail_settings (
    org_id        bigint PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
    host          text NOT NULL,
    port          integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
    security      text NOT NULL CHECK (security IN ('none', 'starttls', 'tls')),
    username      text NOT NULL DEFAULT '',
    -- Encrypted with a key derived from the server's secret (chatiq/mail/cipher.py):
    -- a copy of the database alone does not give away the mailbox.
    password_enc  text,
    from_email    text NOT NULL,
    from_name     text NOT NULL DEFAULT '',
    -- The panel's address as the OWNER saw it when saving: links in emails start here,
    -- since the worker sending them has no request to take it from.
    base_url      text NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- 0 turns the missed-chat email off for the site. Seconds, so tests need not wait minutes;
-- the panel and the API speak whole minutes.
ALTER TABLE sites ADD COLUMN missed_chat_seconds integer NOT NULL DEFAULT 300
    CHECK (missed_chat_seconds BETWEEN 0 AND 86400);

-- "Forgot password?": only the sha256 of the emailed token is kept; a link works once,
-- for an hour, and asking again spends the older ones.
CREATE TABLE password_resets (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL UNIQUE,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX password_resets_user_idx ON password_resets (user_id);
