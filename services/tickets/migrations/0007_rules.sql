-- Category rules (docs/agent-operations/rules.md): what a store's admins
-- decide about every new ticket. The table is a projection of the "rule:{id}"
-- streams, written in the transaction of the append and rebuilt from them by
-- `make rebuild-projections`.

CREATE TABLE IF NOT EXISTS {schema}.rules (
    id         text        PRIMARY KEY,
    store_id   text        NOT NULL,
    name       text        NOT NULL,
    position   integer     NOT NULL,
    enabled    boolean     NOT NULL,
    conditions jsonb       NOT NULL,
    actions    jsonb       NOT NULL,
    -- The team its actions put tickets on: deleting a team is refused while a rule names it.
    team_id    text        REFERENCES {schema}.teams,
    version    integer     NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
-- What opening a ticket reads: the store's enabled rules, in order.
CREATE INDEX IF NOT EXISTS rules_store ON {schema}.rules (store_id, position, created_at, id);
CREATE INDEX IF NOT EXISTS rules_team ON {schema}.rules (team_id) WHERE team_id IS NOT NULL;
