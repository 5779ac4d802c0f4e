-- Failed-login limits shared by every process on this database (issue 16), so `--workers 4`
-- or four machines do not allow four times the guesses: one token bucket per key
-- ('login-ip:…', 'login-account:…', 'login-account-ip:…'; chatiq/store/login_limits.py).
-- UNLOGGED: a hot counter needs no WAL, and losing it in a PostgreSQL crash only restarts
-- the limits, as restarting a process did when they lived in its memory. Backups skip it.
CREATE UNLOGGED TABLE login_buckets (
    key     text PRIMARY KEY,
    tokens  double precision NOT NULL,
    -- When `tokens` was last computed: seconds since the epoch, on the app's clock.
    stamp   double precision NOT NULL
);
-- Buckets untouched for a day are full again and are deleted as logins come in.
CREATE INDEX login_buckets_stamp_idx ON login_buckets (stamp);
