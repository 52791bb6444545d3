-- Who may call the API: stores, their staff, and the tokens issued to them.
-- Tokens themselves are never stored: a token is "<token_id>.<signature>",
-- and only the id is kept here (see services/gateway/auth.py).

CREATE TABLE IF NOT EXISTS {schema}.stores (
    store_id   text        PRIMARY KEY,
    name       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS {schema}.agents (
    agent_id   text        PRIMARY KEY,
    store_id   text        NOT NULL REFERENCES {schema}.stores,
    name       text        NOT NULL,
    email      text        NOT NULL,
    role       text        NOT NULL CHECK (role IN ('owner', 'admin', 'agent')),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS agents_store_email ON {schema}.agents (store_id, lower(email));

CREATE TABLE IF NOT EXISTS {schema}.tokens (
    token_id     text        PRIMARY KEY,
    store_id     text        NOT NULL REFERENCES {schema}.stores,
    kind         text        NOT NULL CHECK (kind IN ('agent', 'customer')),
    principal_id text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz
);
