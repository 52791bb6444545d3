-- The append-only event log of one service, its snapshots, the relay's
-- checkpoint and the consumers' record of what they have processed.

CREATE TABLE IF NOT EXISTS {schema}.events (
    -- Global order of this store. Encodes (transaction id << 20) + n, so a
    -- reader that stops below the oldest running transaction never skips an
    -- event committed late (see docs/architecture.md).
    position       bigint      PRIMARY KEY,
    event_id       uuid        NOT NULL UNIQUE,
    stream_id      text        NOT NULL,
    version        integer     NOT NULL CHECK (version > 0),
    type           text        NOT NULL,
    schema_version integer     NOT NULL CHECK (schema_version > 0),
    store_id       text,
    actor_kind     text        NOT NULL,
    actor_id       text,
    correlation_id uuid,
    causation_id   uuid,
    occurred_at    timestamptz NOT NULL,
    data           jsonb       NOT NULL,
    -- A lost race on the same stream version is a unique violation: a typed conflict.
    UNIQUE (stream_id, version)
);

-- History is never rewritten: refuse UPDATE and DELETE outright.
CREATE OR REPLACE FUNCTION {schema}.refuse_event_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only (% refused on %.events)', TG_OP, TG_TABLE_SCHEMA
        USING ERRCODE = 'restrict_violation';
END $$;

DROP TRIGGER IF EXISTS events_append_only ON {schema}.events;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON {schema}.events
    FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_event_change();

CREATE TABLE IF NOT EXISTS {schema}.snapshots (
    stream_id      text        NOT NULL,
    version        integer     NOT NULL,
    schema_version integer     NOT NULL DEFAULT 1,
    state          jsonb       NOT NULL,
    taken_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream_id, version)
);

CREATE TABLE IF NOT EXISTS {schema}.relay_checkpoint (
    exchange   text        PRIMARY KEY,
    position   bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS {schema}.processed_events (
    consumer     text        NOT NULL,
    event_id     uuid        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
