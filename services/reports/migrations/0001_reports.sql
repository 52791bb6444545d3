-- The reports service's read side (docs/reports.md). Everything here is
-- computed from the events it hears on the bus: report_events is its own
-- copy of the tickets' events, and every other table can be rebuilt from it
-- (python -m services.reports rebuild).

-- Every ticket event heard, once: (ticket_id, version) is the ticket
-- stream's own key, so a redelivered event is a no-op and one that arrives
-- before an older one simply waits in its place; a ticket's metrics are always
-- the fold of all its rows in version order.
CREATE TABLE IF NOT EXISTS {schema}.report_events (
    ticket_id   text        NOT NULL,
    version     integer     NOT NULL,
    store_id    text        NOT NULL,
    position    bigint      NOT NULL,  -- in the tickets service's log
    type        text        NOT NULL,
    actor_kind  text        NOT NULL,
    actor_id    text,
    occurred_at timestamptz NOT NULL,
    data        jsonb       NOT NULL,
    PRIMARY KEY (ticket_id, version)
);
-- An answer names the newest position it reflects: max(position) of the store.
CREATE INDEX IF NOT EXISTS report_events_store_position ON {schema}.report_events (store_id, position);

-- One row per ticket: its metrics (services/reports/domain/metrics.py) as a
-- jsonb document, a few columns for the reports that list tickets, and the
-- rollup rows it contributes to (so a change subtracts exactly what it added).
CREATE TABLE IF NOT EXISTS {schema}.ticket_metrics (
    ticket_id     text        PRIMARY KEY,
    store_id      text        NOT NULL,
    created_at    timestamptz NOT NULL,
    customer_id   text,
    order_id      text,  -- its products come from order_products, heard apart
    opened_position bigint NOT NULL,  -- the position of its ticket.opened: which SLA policy version it counts by
    metrics       jsonb       NOT NULL,
    contributions jsonb       NOT NULL,  -- [[day, dimension, key, measures], ...]
    position      bigint      NOT NULL   -- the newest event folded into it
);
CREATE INDEX IF NOT EXISTS ticket_metrics_store_created ON {schema}.ticket_metrics (store_id, created_at);
CREATE INDEX IF NOT EXISTS ticket_metrics_order ON {schema}.ticket_metrics (store_id, order_id)
    WHERE order_id IS NOT NULL;

-- Daily rollups in the store's time zone: one row per day, dimension (all,
-- agent, team, topic, type, tag, channel, product) and key, holding the sum
-- of the tickets' contributions (counts and histograms, domain/rollups.py).
CREATE TABLE IF NOT EXISTS {schema}.rollups (
    store_id  text    NOT NULL,
    day       date    NOT NULL,
    dimension text    NOT NULL,
    key       text    NOT NULL,
    measures  jsonb   NOT NULL,
    PRIMARY KEY (store_id, dimension, day, key)
);

-- Every version of each store's SLA policy (sla_policy.updated): a ticket
-- counts business minutes by the policy in force when it opened, the last
-- version before its ticket.opened in the tickets log. A version heard late
-- measures again the tickets opened after it.
CREATE TABLE IF NOT EXISTS {schema}.store_policies (
    store_id text    NOT NULL,
    version  integer NOT NULL,
    position bigint  NOT NULL,  -- of its event in the tickets log
    policy   jsonb   NOT NULL,
    PRIMARY KEY (store_id, version)
);
CREATE INDEX IF NOT EXISTS store_policies_position ON {schema}.store_policies (store_id, position);

-- A store whose history was restated (python -m services.reports
-- rebuild-projections --restate STORE): its tickets opened before this
-- position count by the policy in force at it, not at their opening.
CREATE TABLE IF NOT EXISTS {schema}.store_restatements (
    store_id text   PRIMARY KEY,
    position bigint NOT NULL
);

-- The products of each order (order.recorded), for "tickets by product" and
-- "tickets per order sold".
CREATE TABLE IF NOT EXISTS {schema}.order_products (
    store_id       text        NOT NULL,
    order_id       text        NOT NULL,
    products       text[]      NOT NULL,
    ordered_at     timestamptz NOT NULL,
    stream_version integer     NOT NULL,
    PRIMARY KEY (store_id, order_id)
);

-- Each agent's availability as it changed (agent.profile_updated), for the
-- staff online in each hour beside the tickets opened in it.
CREATE TABLE IF NOT EXISTS {schema}.availability_changes (
    store_id     text        NOT NULL,
    agent_id     text        NOT NULL,
    version      integer     NOT NULL,  -- of the agent's profile stream
    changed_at   timestamptz NOT NULL,
    availability text        NOT NULL,
    PRIMARY KEY (store_id, agent_id, version)
);
CREATE INDEX IF NOT EXISTS availability_changes_at ON {schema}.availability_changes (store_id, changed_at);
