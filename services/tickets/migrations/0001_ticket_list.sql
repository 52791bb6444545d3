-- The read side of tickets. A ticket itself is only its event stream; this
-- table is a projection of it, written in the same transaction as each
-- append and rebuildable from the log (`make rebuild-projections`).

CREATE TABLE IF NOT EXISTS {schema}.ticket_list (
    ticket_id     text        PRIMARY KEY,
    store_id      text        NOT NULL,
    number        integer     NOT NULL,
    status        text        NOT NULL,
    status_label  text,
    priority      text        NOT NULL,
    priority_rank smallint    NOT NULL,
    type          text        NOT NULL,
    subject       text        NOT NULL,
    customer_id   text        NOT NULL,
    order_id      text,
    assignee_id   text,
    team          text,
    tags          text[]      NOT NULL DEFAULT '{}',
    message_count integer     NOT NULL,
    version       integer     NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    -- Subject and public messages, lower-cased: what ?q= searches. Internal
    -- notes stay out, so a customer's search cannot probe them.
    search_text   text        NOT NULL,
    UNIQUE (store_id, number)
);

-- One index per sort order (keyset pagination walks it), plus the filters
-- agents use most.
CREATE INDEX IF NOT EXISTS ticket_list_created ON {schema}.ticket_list (store_id, created_at, number);
CREATE INDEX IF NOT EXISTS ticket_list_updated ON {schema}.ticket_list (store_id, updated_at, number);
CREATE INDEX IF NOT EXISTS ticket_list_priority ON {schema}.ticket_list (store_id, priority_rank, number);
CREATE INDEX IF NOT EXISTS ticket_list_customer ON {schema}.ticket_list (store_id, customer_id, created_at);
CREATE INDEX IF NOT EXISTS ticket_list_assignee ON {schema}.ticket_list (store_id, assignee_id, status);
CREATE INDEX IF NOT EXISTS ticket_list_status ON {schema}.ticket_list (store_id, status, created_at);
CREATE INDEX IF NOT EXISTS ticket_list_tags ON {schema}.ticket_list USING gin (tags);

-- The per-store ticket number (#1042). A counter, not ticket state: the
-- number itself is recorded in each ticket.opened event.
CREATE TABLE IF NOT EXISTS {schema}.ticket_numbers (
    store_id text    PRIMARY KEY,
    last     integer NOT NULL
);
