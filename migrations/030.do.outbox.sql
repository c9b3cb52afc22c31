-- The transactional outbox: every domain event is written in the transaction of the change it
-- describes, so there is no event without its change and no change without its event. A relay
-- hands unrelayed events to the job queue (services/shared/event-relay.ts) in a transaction of
-- its own and marks them relayed; the rows stay as the durable record (webhook replays read it).
CREATE TABLE domain_events (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Commit-independent order of writing, for readers that list events.
  seq             bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  type            text NOT NULL CHECK (type ~ '^[a-z_]+(\.[a-z_]+)+$'),
  competition_id  uuid,
  user_id         uuid,
  payload         jsonb NOT NULL,
  occurred_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  relayed_at      timestamptz
);
CREATE INDEX domain_events_unrelayed_idx ON domain_events (seq) WHERE relayed_at IS NULL;
CREATE INDEX domain_events_competition_idx ON domain_events (competition_id, seq) WHERE competition_id IS NOT NULL;

-- One wake-up per writing statement; NOTIFY is delivered only when the transaction commits.
CREATE FUNCTION domain_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('domain_events', '');
  RETURN NULL;
END $$;
CREATE TRIGGER domain_events_notify AFTER INSERT ON domain_events
  FOR EACH STATEMENT EXECUTE FUNCTION domain_events_notify();

-- Handlers whose effect is in Postgres record each event they applied in the same transaction,
-- so a job run twice (a retry after a crash) changes nothing twice.
CREATE TABLE event_consumptions (
  consumer     text NOT NULL,
  event_id     uuid NOT NULL REFERENCES domain_events (id) ON DELETE CASCADE,
  consumed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, event_id)
);
