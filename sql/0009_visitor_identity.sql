-- Verified visitor identity (issue 10): a site's backend signs its logged-in customer's id
-- with the site's identity secret, and the widget passes {id, hash} on join.

-- One row per site, made the first time an owner looks at the secret. The secret is kept
-- readable (the server recomputes the HMAC with it); only OWNERs ever see it.
CREATE TABLE site_identity (
    site_id     bigint PRIMARY KEY REFERENCES sites(id) ON DELETE CASCADE,
    secret      text NOT NULL,
    -- On: anonymous joins and identities whose hash does not verify are refused.
    enforce     boolean NOT NULL DEFAULT false,
    rotated_at  timestamptz NOT NULL DEFAULT now()
);

-- The customer's own user id, set only after its hash verified: a verified visitor is
-- one row per (site, user id), whatever device they come from.
ALTER TABLE visitors ADD COLUMN external_id text;
CREATE UNIQUE INDEX visitors_external_key ON visitors (site_id, external_id)
    WHERE external_id IS NOT NULL;

-- Further devices of one visitor: visitors.token_hash is the first device's token, each
-- browser a verified customer joins from later gets its own token here (sha256 only).
CREATE TABLE visitor_tokens (
    token_hash  bytea PRIMARY KEY,
    visitor_id  bigint NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX visitor_tokens_visitor_idx ON visitor_tokens (visitor_id);
