-- The whole first schema: tenants, people, sites, visitors, chats, messages and
-- the per-site configuration tables that later features fill in.

CREATE TABLE organizations (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id             bigserial PRIMARY KEY,
    org_id         bigint NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email          text NOT NULL,
    password_hash  text,
    name           text NOT NULL,
    role           text NOT NULL CHECK (role IN ('OWNER', 'OPERATOR')),
    language       text NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'uk')),
    avatar_url     text,
    -- Bumped on logout and password change: tokens carry it, so old ones stop working.
    token_version  integer NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_org_idx ON users (org_id);

CREATE TABLE sites (
    id               bigserial PRIMARY KEY,
    org_id           bigint NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name             text NOT NULL,
    domain           text,
    site_key         text NOT NULL UNIQUE,
    allowed_origins  text[] NOT NULL DEFAULT '{}',
    enabled          boolean NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sites_org_idx ON sites (org_id);

-- Which users work on which site. OWNERs reach every site of their organization
-- without a row here; OPERATORs reach only the sites listed.
CREATE TABLE site_operators (
    site_id  bigint NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    user_id  bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role     text NOT NULL DEFAULT 'OPERATOR' CHECK (role IN ('OWNER', 'OPERATOR')),
    PRIMARY KEY (site_id, user_id)
);
CREATE INDEX site_operators_user_idx ON site_operators (user_id);

CREATE TABLE visitors (
    id          bigserial PRIMARY KEY,
    site_id     bigint NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    -- sha256 of the visitor token: a stolen database does not hand out sessions.
    token_hash  bytea NOT NULL UNIQUE,
    name        text,
    email       text,
    page_url    text,
    page_title  text,
    referrer    text,
    language    text,
    user_agent  text,
    ip          text,
    first_seen  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX visitors_site_idx ON visitors (site_id);

CREATE TABLE chats (
    id                 bigserial PRIMARY KEY,
    site_id            bigint NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    visitor_id         bigint NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    status             text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    assigned_to        bigint REFERENCES users(id) ON DELETE SET NULL,
    -- The per-chat message counter: bumped in the transaction that stores a
    -- message, so seq is gap-free and the row lock orders writers of one chat.
    last_seq           integer NOT NULL DEFAULT 0,
    operator_read_seq  integer NOT NULL DEFAULT 0,
    visitor_read_seq   integer NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    closed_at          timestamptz
);
CREATE INDEX chats_site_updated_idx ON chats (site_id, updated_at DESC);
CREATE INDEX chats_visitor_idx ON chats (visitor_id, id DESC);
CREATE INDEX chats_status_idx ON chats (status, updated_at DESC);

CREATE TABLE attachments (
    id             text PRIMARY KEY,           -- unguessable
    site_id        bigint NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    chat_id        bigint REFERENCES chats(id) ON DELETE CASCADE,
    uploader_kind  text NOT NULL CHECK (uploader_kind IN ('visitor', 'operator')),
    uploader_id    bigint NOT NULL,
    sha256         text NOT NULL,
    name           text NOT NULL,
    size           bigint NOT NULL,
    mime           text NOT NULL,
    has_thumb      boolean NOT NULL DEFAULT false,
    used           boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attachments_chat_idx ON attachments (chat_id);
CREATE INDEX attachments_sha_idx ON attachments (sha256);

CREATE TABLE messages (
    id             bigserial PRIMARY KEY,
    chat_id        bigint NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    seq            integer NOT NULL,
    client_id      text,
    author_kind    text NOT NULL CHECK (author_kind IN ('visitor', 'operator', 'bot', 'system')),
    author_id      bigint,
    text           text NOT NULL DEFAULT '',
    attachment_id  text REFERENCES attachments(id) ON DELETE SET NULL,
    -- {"👍": ["v_3", "u_7"]}: who reacted with what.
    reactions      jsonb NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now(),
    read_at        timestamptz,
    UNIQUE (chat_id, seq)
);
-- Idempotency: one author never stores two messages with the same client id.
CREATE UNIQUE INDEX messages_client_key ON messages (author_kind, author_id, client_id)
    WHERE client_id IS NOT NULL;
CREATE INDEX messages_created_idx ON messages (created_at);

CREATE TABLE widget_settings (
    site_id     bigint PRIMARY KEY REFERENCES sites(id) ON DELETE CASCADE,
    settings    jsonb NOT NULL DEFAULT '{}',
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE auto_replies (
    id             bigserial PRIMARY KEY,
    site_id        bigint NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    trigger        text NOT NULL CHECK (trigger IN ('first_message', 'offline', 'no_reply', 'keyword')),
    keyword        text,
    delay_seconds  integer NOT NULL DEFAULT 0 CHECK (delay_seconds >= 0),
    text           text NOT NULL,
    enabled        boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auto_replies_site_idx ON auto_replies (site_id);

CREATE TABLE quick_templates (
    id          bigserial PRIMARY KEY,
    org_id      bigint NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    site_id     bigint REFERENCES sites(id) ON DELETE CASCADE,
    shortcut    text NOT NULL,
    title       text NOT NULL,
    text        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX quick_templates_shortcut_key ON quick_templates (org_id, lower(shortcut));

CREATE TABLE business_hours (
    site_id     bigint PRIMARY KEY REFERENCES sites(id) ON DELETE CASCADE,
    enabled     boolean NOT NULL DEFAULT false,
    timezone    text NOT NULL DEFAULT 'UTC',
    -- {"mon": [["09:00","18:00"]], ...}
    schedule    jsonb NOT NULL DEFAULT '{}',
    -- [{"date": "2026-12-25", "intervals": []}]
    exceptions  jsonb NOT NULL DEFAULT '[]',
    updated_at  timestamptz NOT NULL DEFAULT now()
);
