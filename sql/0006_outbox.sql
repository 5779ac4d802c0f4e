-- The outbox: work for the world outside (emails, webhook calls) is written in the same
-- transaction as the event that causes it, then delivered by a background worker with
-- retries. A restart or an outage of the receiver loses nothing; the unique key means an
-- event enqueued twice (a resent frame, a timer fired by two processes) is one job.

CREATE TABLE outbox (
    id               bigserial PRIMARY KEY,
    org_id           bigint NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    kind             text NOT NULL,          -- which sender delivers it: 'email', 'webhook', …
    dedupe_key       text NOT NULL,          -- one job per (kind, key), whoever enqueues it
    payload          jsonb NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sent', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    -- A worker that claimed the job owns it until then; after a crash it falls due again.
    locked_until     timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    UNIQUE (kind, dedupe_key)
);
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_org_idx ON outbox (org_id, kind, created_at DESC);

-- One row per delivery attempt: the delivery log the panel shows.
CREATE TABLE outbox_attempts (
    id           bigserial PRIMARY KEY,
    outbox_id    bigint NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
    attempt      integer NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    ok           boolean NOT NULL,
    status_code  integer,                    -- HTTP status or SMTP reply code, when there was one
    error        text,
    duration_ms  integer NOT NULL
);
CREATE INDEX outbox_attempts_job_idx ON outbox_attempts (outbox_id, id);
