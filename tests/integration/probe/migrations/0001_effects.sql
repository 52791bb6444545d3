-- What the probe's event handler did, so tests can count effects.
CREATE TABLE IF NOT EXISTS {schema}.effects (
    event_id uuid        NOT NULL,
    handler  text        NOT NULL,
    at       timestamptz NOT NULL DEFAULT now()
);
-- A switch the tests flip to "repair" the poison handler before a replay.
CREATE TABLE IF NOT EXISTS {schema}.repaired (
    handler text PRIMARY KEY
);
