-- Teams, as the tickets service's team.* events say (docs/notifications.md,
-- "Teams"): who is told of a ticket's SLA is its assignee and its team's
-- members. Each row says which event version it carries, and an older event
-- never moves it back: a redelivered event changes nothing, and a
-- member_removed retried past a later member_added is not undone.

CREATE TABLE IF NOT EXISTS {schema}.teams (
    team_id  text    PRIMARY KEY,
    store_id text    NOT NULL,
    name     text,
    deleted  boolean NOT NULL DEFAULT false,  -- team.deleted: nobody is told as its member any more
    version  integer NOT NULL                 -- of the last team.created/updated applied to name
);

CREATE TABLE IF NOT EXISTS {schema}.team_members (
    team_id  text    NOT NULL,
    agent_id text    NOT NULL,
    store_id text    NOT NULL,
    member   boolean NOT NULL,  -- false: removed (kept, so an older member_added cannot add them back)
    version  integer NOT NULL,  -- of the team stream's event that set it
    PRIMARY KEY (team_id, agent_id)
);

-- The ticket's team now (ticket.opened's team, then ticket.assigned/unassigned),
-- versioned with its assignee by tickets.version.
ALTER TABLE {schema}.tickets ADD COLUMN IF NOT EXISTS team text;

-- recipient_ref "ticket_staff:<ticket id>" (an SLA event): not one recipient
-- but who is on the ticket when the loop picks it up, its assignee and its
-- team's members; the loop replaces it by one "agent:<id>" delivery each
-- ("store_support" when there is nobody) before it claims anything.
CREATE INDEX IF NOT EXISTS deliveries_staff_due ON {schema}.deliveries (next_attempt_at)
    WHERE status = 'pending' AND starts_with(recipient_ref, 'ticket_staff:');
