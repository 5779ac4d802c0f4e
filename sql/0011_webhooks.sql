-- Webhooks (issue 10): a site's OWNER names URLs that hear about its chats. Each event is
-- written to the outbox (0006) in the transaction that stores it, one job per endpoint;
-- the outbox worker POSTs it, signed with the endpoint's secret, and logs every attempt.

CREATE TABLE webhooks (
    id                 bigserial PRIMARY KEY,
    site_id            bigint NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    url                text NOT NULL,
    -- Kept readable: every delivery is signed with it (HMAC-SHA256). Only OWNERs see it.
    secret             text NOT NULL,
    -- Which events it wants, by name ('message.created', …); never empty.
    events             text[] NOT NULL CHECK (cardinality(events) > 0),
    enabled            boolean NOT NULL DEFAULT true,
    created_at         timestamptz NOT NULL DEFAULT now(),
    secret_rotated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_site_idx ON webhooks (site_id);
