-- The read side of the customers service. Customers, groups, orders and flags
-- are event streams; these tables are projections written in the same
-- transaction as each append.

-- Trigram indexes make "search by name or mobile in one box" an index scan.
-- pg_trgm ships with PostgreSQL (contrib) and is trusted since PostgreSQL 13.
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

CREATE TABLE IF NOT EXISTS {schema}.cards (
    id             uuid        PRIMARY KEY,
    store_id       text        NOT NULL,
    name           text        NOT NULL,
    -- Folded name (normalise.fold_text): the sort key of ?sort=name.
    name_key       text        NOT NULL,
    mobile         text        NOT NULL,
    email          text,
    city           text,
    -- Folded city: ?city= matches however the merchant types it.
    city_key       text,
    gender         text,
    birthday       date,
    notes          text,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    -- Derived from the store's orders (never typed in).
    registered_at  timestamptz NOT NULL,
    orders_count   integer     NOT NULL DEFAULT 0,
    total_spent    numeric(16, 2) NOT NULL DEFAULT 0,
    groups         uuid[]      NOT NULL DEFAULT '{}',
    blocked        boolean     NOT NULL DEFAULT false,
    block_reason   text,
    block_details  text,
    blocked_at     timestamptz,
    blocked_by     jsonb,
    flags          jsonb       NOT NULL DEFAULT '[]',
    flagged        boolean     NOT NULL DEFAULT false,
    version        integer     NOT NULL,
    search_text    text        NOT NULL,
    UNIQUE (store_id, mobile)
);

CREATE INDEX IF NOT EXISTS cards_registered ON {schema}.cards (store_id, registered_at, id);
CREATE INDEX IF NOT EXISTS cards_name ON {schema}.cards (store_id, name_key, id);
CREATE INDEX IF NOT EXISTS cards_orders ON {schema}.cards (store_id, orders_count, id);
CREATE INDEX IF NOT EXISTS cards_spent ON {schema}.cards (store_id, total_spent, id);
-- Fraud flags follow a mobile across every store.
CREATE INDEX IF NOT EXISTS cards_mobile ON {schema}.cards (mobile);
CREATE INDEX IF NOT EXISTS cards_groups ON {schema}.cards USING gin (groups);
CREATE INDEX IF NOT EXISTS cards_search ON {schema}.cards USING gin (search_text public.gin_trgm_ops);
CREATE INDEX IF NOT EXISTS cards_blocked ON {schema}.cards (store_id) WHERE blocked;
CREATE INDEX IF NOT EXISTS cards_flagged ON {schema}.cards (store_id) WHERE flagged;

CREATE TABLE IF NOT EXISTS {schema}.groups (
    id          uuid        PRIMARY KEY,
    store_id    text        NOT NULL,
    name        text        NOT NULL,
    name_key    text        NOT NULL,
    created_at  timestamptz NOT NULL,
    deleted     boolean     NOT NULL DEFAULT false,
    version     integer     NOT NULL
);
-- Two live groups of one store never share a (folded) name.
CREATE UNIQUE INDEX IF NOT EXISTS groups_name ON {schema}.groups (store_id, name_key) WHERE NOT deleted;

CREATE TABLE IF NOT EXISTS {schema}.orders (
    store_id        text           NOT NULL,
    order_id        text           NOT NULL,
    customer_id     uuid           NOT NULL,
    status          text           NOT NULL,
    created_at      timestamptz    NOT NULL,
    updated_at      timestamptz    NOT NULL,
    total           numeric(16, 2) NOT NULL,
    currency        text           NOT NULL,
    payment_method  text           NOT NULL,
    items           jsonb          NOT NULL,
    tracking_url    text,
    rated           boolean        NOT NULL DEFAULT false,
    version         integer        NOT NULL,
    PRIMARY KEY (store_id, order_id)
);
CREATE INDEX IF NOT EXISTS orders_customer ON {schema}.orders (store_id, customer_id, created_at, order_id);

-- Per-store settings of the customers module (absent row: the defaults).
CREATE TABLE IF NOT EXISTS {schema}.settings (
    store_id   text        PRIMARY KEY,
    settings   jsonb       NOT NULL,
    version    integer     NOT NULL
);

-- Platform-wide: what the fraud watch saw, keyed by the shopper's mobile.
CREATE TABLE IF NOT EXISTS {schema}.fraud_evidence (
    kind         text        NOT NULL,
    store_id     text        NOT NULL,
    ref          text        NOT NULL,
    customer_id  uuid        NOT NULL,
    mobile       text        NOT NULL,
    at           timestamptz NOT NULL,
    -- The flag that used this evidence: spent, it never raises a flag again.
    flag_id      uuid,
    PRIMARY KEY (kind, store_id, ref)
);
CREATE INDEX IF NOT EXISTS fraud_evidence_fresh ON {schema}.fraud_evidence (mobile) WHERE flag_id IS NULL;

CREATE TABLE IF NOT EXISTS {schema}.flags (
    id             uuid        PRIMARY KEY,
    mobile         text        NOT NULL,
    code           text        NOT NULL,
    rule           text        NOT NULL,
    threshold      integer     NOT NULL,
    status         text        NOT NULL,
    evidence       jsonb       NOT NULL,
    -- What every store may see: rule, count, description; no other store's ids.
    public_reason  jsonb       NOT NULL,
    raised_at      timestamptz NOT NULL,
    cleared_at     timestamptz,
    cleared_by     text,
    note           text,
    version        integer     NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS flags_active ON {schema}.flags (mobile, rule) WHERE status = 'active';
CREATE INDEX IF NOT EXISTS flags_listing ON {schema}.flags (raised_at, id);
