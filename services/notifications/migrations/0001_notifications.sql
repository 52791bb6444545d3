-- The notifications service (docs/notifications.md): replicas of what other
-- services' events say about people, the store's settings, the webhook
-- endpoints, and the delivery log that is also the work queue.

-- --- replicas, fed by events (versioned: an older event never overwrites) ---

CREATE TABLE IF NOT EXISTS {schema}.contacts (
    store_id    text    NOT NULL,
    customer_id text    NOT NULL,
    name        text,
    email       text,
    mobile      text,
    version     integer NOT NULL,
    PRIMARY KEY (store_id, customer_id)
);

CREATE TABLE IF NOT EXISTS {schema}.agents (
    agent_id text PRIMARY KEY,
    store_id text NOT NULL,
    name     text,
    email    text,
    role     text
);

CREATE TABLE IF NOT EXISTS {schema}.stores (
    store_id    text PRIMARY KEY,
    name        text,
    owner_email text
);

CREATE TABLE IF NOT EXISTS {schema}.tickets (
    ticket_id   text    PRIMARY KEY,
    store_id    text    NOT NULL,
    number      integer,
    subject     text,
    customer_id text,
    order_id    text,
    handled_by  text    NOT NULL DEFAULT 'store',
    assignee_id text,
    version     integer NOT NULL DEFAULT 0  -- of the last assignment event applied
);

-- --- the store's own settings ------------------------------------------------

CREATE TABLE IF NOT EXISTS {schema}.store_settings (
    store_id             text PRIMARY KEY,
    support_email        text,
    locale               text,
    brand_color          text,
    logo_url             text,
    self_service_channel text,
    email_quota_per_hour integer,
    sms_quota_per_hour   integer,
    sms_sender_name      text,   -- from the customers service's settings events
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS {schema}.preferences (
    store_id    text    NOT NULL,
    customer_id text    NOT NULL,
    email       boolean NOT NULL DEFAULT true,
    sms         boolean NOT NULL DEFAULT true,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, customer_id)
);

CREATE TABLE IF NOT EXISTS {schema}.template_overrides (
    store_id   text NOT NULL,
    kind       text NOT NULL,
    locale     text NOT NULL,
    subject    text NOT NULL,
    text       text NOT NULL,
    html       text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, kind, locale)
);

-- --- webhooks ----------------------------------------------------------------

CREATE TABLE IF NOT EXISTS {schema}.webhook_endpoints (
    id                  text        PRIMARY KEY,
    store_id            text        NOT NULL,
    url                 text        NOT NULL,
    events              text[]      NOT NULL,
    active              boolean     NOT NULL DEFAULT true,
    status              text        NOT NULL DEFAULT 'healthy',  -- or 'failing'
    secret              text        NOT NULL,
    previous_secret     text,
    previous_expires_at timestamptz,
    version             integer     NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS webhook_endpoints_store ON {schema}.webhook_endpoints (store_id);

-- Every event of a store that reached this service, as the CloudEvent its
-- webhooks receive: what a redelivery sends again. Kept 30 days.
CREATE TABLE IF NOT EXISTS {schema}.received_events (
    event_id    text        PRIMARY KEY,
    store_id    text        NOT NULL,
    type        text        NOT NULL,
    cloudevent  jsonb       NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS received_events_age ON {schema}.received_events (received_at);

-- --- the delivery log and work queue -------------------------------------------

-- One row per (event, channel, recipient): the unique key makes a redelivered
-- event plan nothing twice. recipient_ref names who, resolved when sending
-- ("customer:<id>", "ticket_customer:<id>", "ticket_assignee:<id>",
-- "agent:<id>", "address:<to>", "store_support", "webhook:<endpoint>");
-- generation counts redeliveries of the same event to the same endpoint.
CREATE TABLE IF NOT EXISTS {schema}.deliveries (
    id                text        PRIMARY KEY,
    store_id          text        NOT NULL,
    event_id          text        NOT NULL,
    event_type        text        NOT NULL,
    channel           text        NOT NULL,
    recipient_ref     text        NOT NULL,
    generation        integer     NOT NULL DEFAULT 0,
    recipient         text,
    kind              text,
    context           jsonb       NOT NULL DEFAULT '{}',
    ticket_id         text,
    customer_id       text,
    endpoint_id       text,
    status            text        NOT NULL,
    reason            text,
    attempts          integer     NOT NULL DEFAULT 0,
    -- attempts made before the current run of tries (a retry by hand, a
    -- release from a quota hold): the backoff counts from here.
    attempts_before   integer     NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    lease_until       timestamptz,
    template_fallback text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    sent_at           timestamptz,
    UNIQUE (event_id, channel, recipient_ref, generation)
);
-- What the delivery loop looks for: due work only.
CREATE INDEX IF NOT EXISTS deliveries_due ON {schema}.deliveries (next_attempt_at)
    WHERE status IN ('pending', 'retrying', 'sending', 'held');
CREATE INDEX IF NOT EXISTS deliveries_store ON {schema}.deliveries (store_id, created_at DESC, id);
CREATE INDEX IF NOT EXISTS deliveries_ticket ON {schema}.deliveries (store_id, ticket_id);
CREATE INDEX IF NOT EXISTS deliveries_customer ON {schema}.deliveries (store_id, customer_id);
CREATE INDEX IF NOT EXISTS deliveries_endpoint ON {schema}.deliveries (endpoint_id, created_at DESC);

CREATE TABLE IF NOT EXISTS {schema}.attempts (
    delivery_id text        NOT NULL,
    attempt     integer     NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    outcome     text,         -- sent, failed, gave_up; null: the sender crashed mid-attempt
    status_code integer,
    latency_ms  integer,
    error       text,
    PRIMARY KEY (delivery_id, attempt)
);

-- Sends per store, channel and hour: the quota.
CREATE TABLE IF NOT EXISTS {schema}.quota_windows (
    store_id     text        NOT NULL,
    channel      text        NOT NULL,
    window_start timestamptz NOT NULL,
    sent         integer     NOT NULL DEFAULT 0,
    alerted      boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (store_id, channel, window_start)
);
