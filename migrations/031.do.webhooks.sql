-- Outbound webhooks (Standard Webhooks): integrators register endpoints for event types; each
-- domain event fans out to one delivery per subscribed endpoint, sent and retried as jobs.
CREATE TABLE webhook_endpoints (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  url              text NOT NULL CHECK (char_length(url) <= 2000),
  -- whsec_ + base64 of 32 random bytes, as the specification's libraries expect.
  secret           text NOT NULL CHECK (secret LIKE 'whsec\_%'),
  event_types      text[] NOT NULL CHECK (cardinality(event_types) > 0),
  description      text NOT NULL DEFAULT '',
  enabled          boolean NOT NULL DEFAULT true,
  -- Why it stopped receiving deliveries (exhausted retries, an admin), shown to admins.
  disabled_reason  text,
  disabled_at      timestamptz,
  created_by       uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_listing_idx ON webhook_endpoints (created_at DESC, id DESC);

-- One row per (endpoint, event): the fan-out inserts with ON CONFLICT DO NOTHING, so running it
-- twice sends nothing twice. Its id is the webhook-id receivers deduplicate on.
CREATE TABLE webhook_deliveries (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  endpoint_id       uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  event_id          uuid NOT NULL REFERENCES domain_events (id) ON DELETE CASCADE,
  status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts          integer NOT NULL DEFAULT 0,
  last_status_code  integer,
  last_error        text,
  last_attempt_at   timestamptz,
  delivered_at      timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);
