-- One store's events in global order (GET /v1/events for a store's token).
CREATE INDEX IF NOT EXISTS events_store_position ON {schema}.events (store_id, position);
