-- Agent operations (docs/agent-operations.md): the ticket list learns each
-- ticket's channel, SLA state and whether it waits on staff; views keep
-- their counts as a projection; SLA deadlines wait in a timer table.
-- Everything here is rebuilt from the event log by `make rebuild-projections`.

ALTER TABLE {schema}.ticket_list ADD COLUMN IF NOT EXISTS channel text NOT NULL DEFAULT 'api';
-- none | running | paused | warning | breached | met (domain/queues.py SLA_STATES)
ALTER TABLE {schema}.ticket_list ADD COLUMN IF NOT EXISTS sla_state text NOT NULL DEFAULT 'none';
-- The earliest due moment of a running SLA target; null when none runs.
ALTER TABLE {schema}.ticket_list ADD COLUMN IF NOT EXISTS sla_due_at timestamptz;
-- The SLA policy version the row's SLA was computed with (0: the default policy).
ALTER TABLE {schema}.ticket_list ADD COLUMN IF NOT EXISTS sla_policy_version integer NOT NULL DEFAULT 0;
-- The last public message is the customer's: the ticket waits on staff.
ALTER TABLE {schema}.ticket_list ADD COLUMN IF NOT EXISTS awaiting_staff boolean NOT NULL DEFAULT false;
ALTER TABLE {schema}.ticket_list ADD COLUMN IF NOT EXISTS sla jsonb;

-- The queue: what `POST /v1/queue/next` takes, most urgent first.
CREATE INDEX IF NOT EXISTS ticket_list_queue ON {schema}.ticket_list
    (store_id, team, sla_due_at, priority_rank DESC, created_at)
    WHERE assignee_id IS NULL AND status = 'open' AND awaiting_staff AND handled_by = 'store';
-- Open tickets per assignee: capacity and least-loaded routing count these.
CREATE INDEX IF NOT EXISTS ticket_list_open_by_assignee ON {schema}.ticket_list (store_id, assignee_id)
    WHERE status IN ('open', 'pending', 'on_hold', 'under_review');

-- View counts: one counter per (view, cell), where a cell is a ticket's
-- (team, assignee), '' for none. Each ticket is in one cell, so summing the
-- cells a viewer may see counts each ticket once. `shard` spreads the writers
-- of a busy cell (new unassigned tickets) over several rows.
CREATE TABLE IF NOT EXISTS {schema}.view_counts (
    store_id text     NOT NULL,
    view_key text     NOT NULL,
    team     text     NOT NULL,
    assignee text     NOT NULL,
    shard    smallint NOT NULL,
    n        bigint   NOT NULL,
    PRIMARY KEY (store_id, view_key, team, assignee, shard)
);

-- Saved views (streams "view:{id}"), per store (owner_id '') or per agent.
CREATE TABLE IF NOT EXISTS {schema}.saved_views (
    id         text        PRIMARY KEY,
    store_id   text        NOT NULL,
    owner_id   text        NOT NULL,
    name       text        NOT NULL,
    filter     jsonb       NOT NULL,
    sort       text        NOT NULL,
    columns    text[]      NOT NULL,
    version    integer     NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (store_id, owner_id, name)
);

-- When each running SLA target warns and breaches. Rewritten with the list
-- row; the timer of any tickets replica claims the due rows (SKIP LOCKED).
CREATE TABLE IF NOT EXISTS {schema}.sla_timers (
    ticket_id  text        NOT NULL,
    kind       text        NOT NULL,
    cycle      integer     NOT NULL,
    event_type text        NOT NULL,
    store_id   text        NOT NULL,
    due_at     timestamptz NOT NULL,
    PRIMARY KEY (ticket_id, kind, cycle, event_type)
);
CREATE INDEX IF NOT EXISTS sla_timers_due ON {schema}.sla_timers (due_at);

-- A store whose SLA policy changed: its unsolved tickets are recomputed in
-- batches by the timer, until none is left on an older version.
CREATE TABLE IF NOT EXISTS {schema}.sla_recompute (
    store_id       text    PRIMARY KEY,
    policy_version integer NOT NULL
);
