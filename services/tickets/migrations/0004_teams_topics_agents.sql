-- Agent operations (docs/agent-operations.md): teams and their members,
-- contact topics, agents' routing profiles, and the topic a ticket records.
-- Each table is a projection of its streams ("team:{id}", "topic:{id}",
-- "agent-profile:{store}:{agent}"), written in the transaction of the append.

-- A ticket's topic; a ticket's team is a team's id.
ALTER TABLE {schema}.ticket_list ADD COLUMN IF NOT EXISTS topic_id text;
CREATE INDEX IF NOT EXISTS ticket_list_topic ON {schema}.ticket_list (store_id, topic_id, status);
CREATE INDEX IF NOT EXISTS ticket_list_team ON {schema}.ticket_list (store_id, team, status);

CREATE TABLE IF NOT EXISTS {schema}.teams (
    id              text        PRIMARY KEY,
    store_id        text        NOT NULL,
    name            text        NOT NULL,
    description     text,
    assignment_mode text        NOT NULL,
    version         integer     NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
-- A name is unique in its store, whatever its case ("Billing" and "billing" are one team).
CREATE UNIQUE INDEX IF NOT EXISTS teams_store_name ON {schema}.teams (store_id, lower(name));

-- Who is in which team; `since` is the team's version when they joined (the members' order).
CREATE TABLE IF NOT EXISTS {schema}.team_members (
    team_id  text    NOT NULL REFERENCES {schema}.teams ON DELETE CASCADE,
    store_id text    NOT NULL,
    agent_id text    NOT NULL,
    since    integer NOT NULL,
    PRIMARY KEY (team_id, agent_id)
);
CREATE INDEX IF NOT EXISTS team_members_agent ON {schema}.team_members (store_id, agent_id);

CREATE TABLE IF NOT EXISTS {schema}.topics (
    id           text        PRIMARY KEY,
    store_id     text        NOT NULL,
    names        jsonb       NOT NULL,
    descriptions jsonb       NOT NULL DEFAULT '{}',
    -- A team of the store: deleting a team is refused while a topic names it.
    team_id      text        REFERENCES {schema}.teams,
    email        text,
    position     integer     NOT NULL DEFAULT 0,
    version      integer     NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS topics_store ON {schema}.topics (store_id, position, created_at);
CREATE INDEX IF NOT EXISTS topics_team ON {schema}.topics (team_id) WHERE team_id IS NOT NULL;

-- An agent with no row has the defaults: offline, no capacity limit, no skills.
CREATE TABLE IF NOT EXISTS {schema}.agent_profiles (
    store_id     text        NOT NULL,
    agent_id     text        NOT NULL,
    availability text        NOT NULL CHECK (availability IN ('online', 'away', 'offline')),
    capacity     integer     CHECK (capacity BETWEEN 0 AND 1000),
    skills       text[]      NOT NULL DEFAULT '{}',
    version      integer     NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (store_id, agent_id)
);
