-- Up Migration
-- The transactional outbox of @mdp/platform/outbox (same text as OUTBOX_SQL; a test compares them).
CREATE TABLE IF NOT EXISTS outbox (
  id uuid PRIMARY KEY,
  event_type text NOT NULL,
  payload jsonb NOT NULL,
  trace_headers jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz,
  attempts integer NOT NULL DEFAULT 0,
  last_error text
);
CREATE INDEX IF NOT EXISTS outbox_pending_idx ON outbox (created_at) WHERE published_at IS NULL;

-- Down Migration
DROP TABLE outbox;
