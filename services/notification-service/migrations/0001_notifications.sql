-- Up Migration
-- One row per (event, channel): the unit a channel sends, so a redelivered event resends
-- only what did not go out.
CREATE TABLE notifications (
  id uuid PRIMARY KEY,
  event_id uuid NOT NULL,
  event_type text NOT NULL,
  user_id text NOT NULL,
  type text NOT NULL,
  channel text NOT NULL CHECK (channel IN ('log', 'webhook', 'slack')),
  status text NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
  message text NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz,
  UNIQUE (event_id, channel)
);
CREATE INDEX notifications_user_created_idx ON notifications (user_id, created_at DESC);

-- Events fully handled: a redelivery of one of these does nothing.
CREATE TABLE processed_events (
  event_id uuid PRIMARY KEY,
  event_type text NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE processed_events;
DROP TABLE notifications;
