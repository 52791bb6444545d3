-- Idempotency keys: a command's key is recorded in the same transaction as
-- its effect, so a retried request returns the first response and records
-- nothing twice, even if the first caller crashed before reading the answer.

CREATE TABLE IF NOT EXISTS {schema}.idempotency_keys (
    scope       text        NOT NULL,  -- who sent it: store and principal
    key         text        NOT NULL,
    fingerprint text        NOT NULL,  -- hash of method, path and body
    response    jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
