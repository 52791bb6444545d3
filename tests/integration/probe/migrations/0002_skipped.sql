-- Duplicates the probe's handler recognised and skipped, so tests can wait for them.
CREATE TABLE IF NOT EXISTS {schema}.skipped (
    event_id uuid        NOT NULL,
    at       timestamptz NOT NULL DEFAULT now()
);
