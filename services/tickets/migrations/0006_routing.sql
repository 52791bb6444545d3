-- Routing (docs/agent-operations/routing.md): for each queue (a team, or ''
-- for the store's tickets on no team), each agent's last ticket from it, as
-- the queue's routing sequence number. The highest is the round-robin
-- pointer; least loaded breaks ties by the lowest. Written in the routing
-- assignment's transaction; rebuilt from the ticket.assigned events whose
-- actor is system/routing (services/tickets/routing.py, RoutingMarks.rebuild).
CREATE TABLE IF NOT EXISTS {schema}.routing_marks (
    store_id text   NOT NULL,
    queue    text   NOT NULL,
    agent_id text   NOT NULL,
    seq      bigint NOT NULL,
    PRIMARY KEY (store_id, queue, agent_id)
);
