-- Read state per agent (docs/agent-operations/forward-and-unread.md).

-- The ticket version that brought its last public customer message (0: none,
-- or a ticket the platform handles). Tickets projected before this column
-- read 0 until `make rebuild-projections` folds them again.
ALTER TABLE {schema}.ticket_list ADD COLUMN IF NOT EXISTS last_customer_version integer NOT NULL DEFAULT 0;

-- A projection of the `agent.ticket_read` events (streams "reads:{store}:{agent}"),
-- written in the transaction of the append: how far each agent has read each ticket.
CREATE TABLE IF NOT EXISTS {schema}.ticket_reads (
    store_id   text        NOT NULL,
    agent_id   text        NOT NULL,
    ticket_id  text        NOT NULL,
    version    integer     NOT NULL,
    message_id text        NOT NULL,
    read_at    timestamptz NOT NULL,
    -- The version in the index too: a list page's unread flags read marks by index only.
    PRIMARY KEY (store_id, agent_id, ticket_id) INCLUDE (version)
);
-- Who has read a ticket (a change of the ticket moves their counters below).
CREATE INDEX IF NOT EXISTS ticket_reads_ticket ON {schema}.ticket_reads (store_id, ticket_id)
    INCLUDE (agent_id, version);

-- Each topic's inbox (docs: "Each topic's unread count"): per cell (topic,
-- team, assignee; '' for none), the unsolved tickets with a customer message,
-- and per agent those they have read up to it. Spread over shard rows as
-- view_counts are; readers sum them. Rebuilt from ticket_list and ticket_reads.
CREATE TABLE IF NOT EXISTS {schema}.inbox_counts (
    store_id text     NOT NULL,
    topic    text     NOT NULL,
    team     text     NOT NULL,
    assignee text     NOT NULL,
    shard    smallint NOT NULL,
    n        integer  NOT NULL,
    PRIMARY KEY (store_id, topic, team, assignee, shard)
);
CREATE TABLE IF NOT EXISTS {schema}.inbox_read_counts (
    store_id text     NOT NULL,
    agent_id text     NOT NULL,
    topic    text     NOT NULL,
    team     text     NOT NULL,
    assignee text     NOT NULL,
    shard    smallint NOT NULL,
    n        integer  NOT NULL,
    PRIMARY KEY (store_id, agent_id, topic, team, assignee, shard)
);
