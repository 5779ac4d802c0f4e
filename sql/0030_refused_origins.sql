-- Origins a site's widget was refused from (issue 21): the panel lists the recent ones next
-- to the allowed origins with a one-click "allow", so a refused origin is never silent.
-- Written at most once per origin every few minutes per process (chatiq/live/refusals.py)
-- and capped per site, since any client can send any Origin header.

CREATE TABLE refused_origins (
    site_id     bigint NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    origin      text NOT NULL,
    attempts    bigint NOT NULL DEFAULT 1,
    first_seen  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, origin)
);
