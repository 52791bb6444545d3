-- Self-service (docs/self-service.md): who handles a ticket, the store's
-- canned responses, and the records of files uploaded to tickets.

-- "platform": a charged-without-order ticket, answered by the platform's
-- review team; the platform lists these across stores.
ALTER TABLE {schema}.ticket_list ADD COLUMN IF NOT EXISTS handled_by text NOT NULL DEFAULT 'store';
CREATE INDEX IF NOT EXISTS ticket_list_platform ON {schema}.ticket_list (created_at, number)
    WHERE handled_by = 'platform';

-- A projection of the canned_response.* events (streams "canned:{id}"),
-- written in the command's transaction. Deleted ones leave the table.
CREATE TABLE IF NOT EXISTS {schema}.canned_responses (
    id         text        PRIMARY KEY,
    store_id   text        NOT NULL,
    title      text        NOT NULL,
    body       text        NOT NULL,
    version    integer     NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (store_id, title)
);

-- Files uploaded to a ticket. The bytes live in the gateway's blob store,
-- under their SHA-256; a row is never changed, and a message that carries
-- the file names it by id in its event.
CREATE TABLE IF NOT EXISTS {schema}.attachments (
    id            text        PRIMARY KEY,
    store_id      text        NOT NULL,
    ticket_id     text        NOT NULL,
    sha256        text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    filename      text        NOT NULL,
    content_type  text        NOT NULL,
    size          bigint      NOT NULL CHECK (size >= 0),
    uploader_kind text        NOT NULL,
    uploader_id   text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS attachments_ticket ON {schema}.attachments (ticket_id);
