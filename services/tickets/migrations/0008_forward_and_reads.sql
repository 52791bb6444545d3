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
    PRIMARY KEY (store_id, agent_id, ticket_id)
);

-- The inboxes' unread counts (per topic, for one agent) walk only the store's
-- unsolved tickets with a customer message, outside spam, and look each one up
-- in ticket_reads by its primary key.
CREATE INDEX IF NOT EXISTS ticket_list_unread ON {schema}.ticket_list (store_id, topic_id)
    INCLUDE (last_customer_version, team, assignee_id)
    WHERE handled_by = 'store' AND status IN ('open', 'pending', 'on_hold', 'under_review')
      AND last_customer_version > 0 AND NOT (tags @> ARRAY['spam']::text[]);
