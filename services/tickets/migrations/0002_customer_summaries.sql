-- What the tickets service knows about customers: a replica fed by the
-- customers service's events (services/tickets/customers.py), so a ticket
-- shows its customer's name, groups, block and flags without an RPC call.
-- Events may arrive twice or out of order: every row remembers the stream
-- version that last wrote it, and an older event never overwrites a newer one.

-- One row per customer heard of (by any event). Each field group carries the
-- version of the customer-stream event that last set it.
CREATE TABLE IF NOT EXISTS {schema}.customer_summaries (
    store_id      text    NOT NULL,
    customer_id   text    NOT NULL,
    name          text,
    name_version  integer NOT NULL DEFAULT 0,
    blocked       boolean NOT NULL DEFAULT false,
    block_reason  text,
    block_version integer NOT NULL DEFAULT 0,
    PRIMARY KEY (store_id, customer_id)
);

-- Platform fraud flags as the store sees them; a cleared flag stays as a
-- tombstone (active = false) so that a late customer.flagged cannot revive it.
CREATE TABLE IF NOT EXISTS {schema}.customer_summary_flags (
    store_id    text    NOT NULL,
    customer_id text    NOT NULL,
    flag_id     text    NOT NULL,
    active      boolean NOT NULL,
    version     integer NOT NULL,
    PRIMARY KEY (store_id, customer_id, flag_id)
);

-- Groups: the name comes with every group event; a deleted group is kept as
-- a tombstone. `version` is the group stream's.
CREATE TABLE IF NOT EXISTS {schema}.customer_summary_groups (
    store_id text    NOT NULL,
    group_id text    NOT NULL,
    name     text    NOT NULL,
    version  integer NOT NULL,
    deleted  boolean NOT NULL DEFAULT false,
    PRIMARY KEY (store_id, group_id)
);

-- Membership per (group, customer), with the group-stream version of the
-- last add or remove; a removal is a tombstone (member = false).
CREATE TABLE IF NOT EXISTS {schema}.customer_summary_members (
    store_id    text    NOT NULL,
    group_id    text    NOT NULL,
    customer_id text    NOT NULL,
    member      boolean NOT NULL,
    version     integer NOT NULL,
    PRIMARY KEY (store_id, group_id, customer_id)
);

-- A ticket page looks its customers' groups up by customer.
CREATE INDEX IF NOT EXISTS customer_summary_members_customer
    ON {schema}.customer_summary_members (store_id, customer_id) WHERE member;
