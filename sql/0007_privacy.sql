-- Privacy: how long a site keeps its chats, and a log of security-relevant actions.

-- Days a site keeps chats idle that long (and attachments that old); NULL keeps them forever.
ALTER TABLE sites ADD COLUMN retention_days integer
    CHECK (retention_days IS NULL OR retention_days BETWEEN 1 AND 36500);

-- Who did what, when, from where. Never holds a password or a token: `details` is
-- filtered by chatiq.store.audit.record. org_id is NULL for a failed login with an
-- email nobody has (no organization may see it; it stays for the server's admin).
CREATE TABLE audit_log (
    id           bigserial PRIMARY KEY,
    org_id       bigint REFERENCES organizations(id) ON DELETE CASCADE,
    actor_id     bigint REFERENCES users(id) ON DELETE SET NULL,
    -- The actor's email at the time (or the one a failed login tried), kept when the
    -- user row goes.
    actor_email  text,
    action       text NOT NULL,
    -- What was acted on, as the API names it ("s_3", "u_7", "v_12").
    target       text,
    ip           text,
    details      jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now()
);
-- The OWNER's audit page: newest first, optionally one action, paged by id.
CREATE INDEX audit_log_org_idx ON audit_log (org_id, id DESC);
CREATE INDEX audit_log_org_action_idx ON audit_log (org_id, action, id DESC);

-- Export pages over a site's chats by creation time in id order.
CREATE INDEX chats_site_created_id_idx ON chats (site_id, created_at, id);
-- A visitor's unsent uploads, found when their data is erased.
CREATE INDEX attachments_uploader_idx ON attachments (uploader_kind, uploader_id);
