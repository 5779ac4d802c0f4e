-- Sign-in through an OpenID Connect provider (docs/oidc.md).

-- An operator's account at a provider, named by the provider's issuer and its stable
-- subject id (never by email, which the provider may let change hands). One account
-- per provider and user, so a recycled address cannot quietly add a second way in.
CREATE TABLE user_identities (
    id             bigserial PRIMARY KEY,
    user_id        bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    issuer         text NOT NULL,
    subject        text NOT NULL,
    -- The verified email it was linked by: for the people reading the table.
    email          text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_login_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (issuer, subject),
    UNIQUE (user_id, issuer)
);

-- A sign-in on its way through the provider: found by the sha256 of its `state` and
-- deleted when the provider sends the browser back, so a state works exactly once.
-- In the database rather than the cookie, because a copied cookie could replay it.
CREATE TABLE oidc_logins (
    state_hash     bytea PRIMARY KEY,
    nonce          text NOT NULL,
    code_verifier  text NOT NULL,
    redirect_uri   text NOT NULL,
    next_path      text NOT NULL,
    expires_at     timestamptz NOT NULL
);
CREATE INDEX oidc_logins_expiry_idx ON oidc_logins (expires_at);
