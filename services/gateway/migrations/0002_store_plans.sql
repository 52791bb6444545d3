-- A store's plan limits, set by the platform (docs/agent-operations.md,
-- "Plan limits"): {"staff_seats": n, "teams": n, "topics": n}, a missing or
-- null limit being none. Each change is also a store.plan_changed event.
ALTER TABLE {schema}.stores ADD COLUMN IF NOT EXISTS plan_limits jsonb NOT NULL DEFAULT '{}';
ALTER TABLE {schema}.stores ADD COLUMN IF NOT EXISTS plan_updated_at timestamptz;
