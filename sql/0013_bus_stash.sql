-- Events between processes larger than a NOTIFY payload may be (8000 bytes): the sender
-- stashes the event here and NOTIFYs its id; receivers read it by id (live/bus.py). Rows
-- are only useful for seconds, so the table is UNLOGGED (no WAL) and pruned after a minute.
CREATE UNLOGGED TABLE bus_stash (
    id          bigserial PRIMARY KEY,
    payload     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bus_stash_created_idx ON bus_stash (created_at);
