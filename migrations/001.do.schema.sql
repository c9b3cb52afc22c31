-- The whole data model. Postgres is the source of truth: every constraint that protects
-- money and scores lives here, not only in code.

CREATE TABLE users (
  id            uuid PRIMARY KEY,
  email         text,
  username      text,
  display_name  text NOT NULL DEFAULT '' CHECK (char_length(display_name) <= 64),
  bio           text NOT NULL DEFAULT '' CHECK (char_length(bio) <= 500),
  avatar_url    text,
  avatar_key    text,
  time_zone     text NOT NULL DEFAULT 'UTC',
  units         text NOT NULL DEFAULT 'metric' CHECK (units IN ('metric', 'imperial')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CHECK (username IS NULL OR username ~ '^[A-Za-z0-9_.]{3,30}$')
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));

CREATE TABLE competitions (
  id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name                  text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 120),
  description           text NOT NULL DEFAULT '' CHECK (char_length(description) <= 2000),
  metric                text NOT NULL CHECK (metric IN ('steps', 'distance_m', 'active_kcal', 'active_minutes', 'custom')),
  starts_at             timestamptz NOT NULL,
  ends_at               timestamptz NOT NULL,
  time_zone             text NOT NULL DEFAULT 'UTC',
  grace_period_seconds  integer NOT NULL DEFAULT 0 CHECK (grace_period_seconds >= 0),
  entry_fee             bigint NOT NULL DEFAULT 0 CHECK (entry_fee >= 0),
  currency              char(3) NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
  sponsor_prize         bigint NOT NULL DEFAULT 0 CHECK (sponsor_prize >= 0),
  house_share_bps       integer NOT NULL DEFAULT 0 CHECK (house_share_bps BETWEEN 0 AND 10000),
  max_participants      integer CHECK (max_participants IS NULL OR max_participants > 0),
  participant_count     integer NOT NULL DEFAULT 0,
  prize_split           jsonb NOT NULL DEFAULT '{"type":"percent","places":[100]}',
  allow_manual_entries  boolean NOT NULL DEFAULT false,
  visibility            text NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'private')),
  status                text NOT NULL DEFAULT 'scheduled'
                        CHECK (status IN ('scheduled', 'active', 'grace', 'final', 'paid', 'cancelled')),
  status_changed_at     timestamptz NOT NULL DEFAULT now(),
  created_by            uuid REFERENCES users (id),
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_at > starts_at),
  CHECK (participant_count >= 0 AND (max_participants IS NULL OR participant_count <= max_participants))
);
CREATE INDEX competitions_status_starts_idx ON competitions (status, starts_at, id);
CREATE INDEX competitions_created_idx ON competitions (created_at DESC, id DESC);

-- Ranking order everywhere: score desc, reached_at asc (first to reach ranks higher), user_id asc.
CREATE TABLE participants (
  competition_id  uuid NOT NULL REFERENCES competitions (id) ON DELETE CASCADE,
  user_id         uuid NOT NULL REFERENCES users (id),
  joined_at       timestamptz NOT NULL DEFAULT now(),
  score           bigint NOT NULL DEFAULT 0 CHECK (score >= 0),
  reached_at      timestamptz NOT NULL DEFAULT now(),
  flagged         boolean NOT NULL DEFAULT false,
  final_rank      integer,
  PRIMARY KEY (competition_id, user_id)
);
CREATE INDEX participants_rank_idx ON participants (competition_id, score DESC, reached_at, user_id);
CREATE INDEX participants_user_idx ON participants (user_id, joined_at DESC);

-- Append-only: every accepted score change, keyed for exactly-once.
CREATE TABLE score_events (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  competition_id   uuid NOT NULL REFERENCES competitions (id) ON DELETE CASCADE,
  user_id          uuid NOT NULL REFERENCES users (id),
  idempotency_key  text NOT NULL CHECK (char_length(idempotency_key) BETWEEN 1 AND 200),
  operation        text NOT NULL CHECK (operation IN ('set', 'increment', 'best', 'sync')),
  value            bigint NOT NULL,
  score_before     bigint NOT NULL,
  score_after      bigint NOT NULL CHECK (score_after >= 0),
  created_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (competition_id, idempotency_key)
);

-- Fitness samples keep their provenance; (user, source, external id) is the identity.
CREATE TABLE fitness_samples (
  id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id            uuid NOT NULL REFERENCES users (id),
  source             text NOT NULL CHECK (source IN ('healthkit', 'health_connect', 'google_fit', 'manual', 'fitbit', 'garmin', 'strava', 'other')),
  external_id        text NOT NULL CHECK (char_length(external_id) BETWEEN 1 AND 200),
  version            bigint NOT NULL DEFAULT 0 CHECK (version >= 0),
  metric             text NOT NULL CHECK (metric IN ('steps', 'distance_m', 'active_kcal', 'active_minutes')),
  kind               text NOT NULL DEFAULT 'sample' CHECK (kind IN ('sample', 'daily_total')),
  start_at           timestamptz NOT NULL,
  end_at             timestamptz NOT NULL,
  value              numeric(16, 3) NOT NULL CHECK (value >= 0),
  recording_method   text NOT NULL DEFAULT 'unknown' CHECK (recording_method IN ('automatic', 'active', 'manual', 'unknown')),
  tz_offset_minutes  integer NOT NULL DEFAULT 0 CHECK (tz_offset_minutes BETWEEN -840 AND 840),
  local_day          date NOT NULL,
  deleted            boolean NOT NULL DEFAULT false,
  flagged            boolean NOT NULL DEFAULT false,
  flag_reason        text,
  received_at        timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  CHECK (end_at >= start_at),
  UNIQUE (user_id, source, external_id)
);
CREATE INDEX fitness_samples_day_idx ON fitness_samples (user_id, metric, local_day);
CREATE INDEX fitness_samples_time_idx ON fitness_samples (user_id, metric, start_at);

-- Derived from samples; one row per user, local day, metric and source, so that
-- overlapping sources are combined by rule rather than added.
CREATE TABLE daily_totals (
  user_id     uuid NOT NULL REFERENCES users (id),
  local_day   date NOT NULL,
  metric      text NOT NULL CHECK (metric IN ('steps', 'distance_m', 'active_kcal', 'active_minutes')),
  source      text NOT NULL,
  value       numeric(16, 3) NOT NULL CHECK (value >= 0),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, metric, local_day, source)
);

-- Anti-cheat flags with their audit trail.
CREATE TABLE fitness_flags (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id         uuid NOT NULL REFERENCES users (id),
  sample_id       bigint REFERENCES fitness_samples (id) ON DELETE CASCADE,
  competition_id  uuid REFERENCES competitions (id) ON DELETE CASCADE,
  reason          text NOT NULL,
  status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'cleared', 'confirmed')),
  created_at      timestamptz NOT NULL DEFAULT now(),
  resolved_by     uuid REFERENCES users (id),
  resolved_at     timestamptz
);
CREATE INDEX fitness_flags_user_idx ON fitness_flags (user_id, status);
CREATE INDEX fitness_flags_open_idx ON fitness_flags (status, id);

-- Stored provider credentials for server-side pulls.
CREATE TABLE provider_tokens (
  user_id          uuid NOT NULL REFERENCES users (id),
  provider         text NOT NULL,
  access_token     text NOT NULL,
  refresh_token    text,
  expires_at       timestamptz,
  last_synced_day  date,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, provider)
);

-- Double-entry ledger. Balances live on accounts and are moved only by entries (trigger),
-- so the non-negative check on wallets and escrow is enforced by the database.
CREATE TABLE accounts (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind            text NOT NULL CHECK (kind IN ('wallet', 'escrow', 'house', 'external')),
  user_id         uuid REFERENCES users (id),
  competition_id  uuid REFERENCES competitions (id),
  currency        char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  balance         bigint NOT NULL DEFAULT 0,
  created_at      timestamptz NOT NULL DEFAULT now(),
  -- 'external' is the outside world (deposits, payouts to a gateway) and may go negative.
  CHECK (kind = 'external' OR balance >= 0),
  CHECK ((kind = 'wallet') = (user_id IS NOT NULL)),
  CHECK ((kind = 'escrow') = (competition_id IS NOT NULL)),
  UNIQUE NULLS NOT DISTINCT (kind, user_id, competition_id, currency)
);

CREATE TABLE ledger_transactions (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  idempotency_key  text NOT NULL UNIQUE CHECK (char_length(idempotency_key) BETWEEN 1 AND 200),
  kind             text NOT NULL CHECK (kind IN ('credit', 'entry_fee', 'refund', 'prize', 'house_fee')),
  competition_id   uuid REFERENCES competitions (id),
  created_by       uuid REFERENCES users (id),
  memo             text,
  created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ledger_entries (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  transaction_id  bigint NOT NULL REFERENCES ledger_transactions (id),
  account_id      bigint NOT NULL REFERENCES accounts (id),
  amount          bigint NOT NULL CHECK (amount <> 0),
  balance_after   bigint NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_entries_account_idx ON ledger_entries (account_id, id DESC);
CREATE INDEX ledger_entries_transaction_idx ON ledger_entries (transaction_id);

CREATE FUNCTION ledger_apply_entry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE accounts SET balance = balance + NEW.amount WHERE id = NEW.account_id
    RETURNING balance INTO NEW.balance_after;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'account % does not exist', NEW.account_id USING ERRCODE = '23503';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER ledger_entries_apply BEFORE INSERT ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION ledger_apply_entry();

CREATE FUNCTION ledger_forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger entries are append-only' USING ERRCODE = '55000';
END $$;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION ledger_forbid_change();

-- Every transaction must balance to zero when it commits.
CREATE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE total numeric;
BEGIN
  SELECT coalesce(sum(amount), 0) INTO total FROM ledger_entries WHERE transaction_id = NEW.transaction_id;
  IF total <> 0 THEN
    RAISE EXCEPTION 'ledger transaction % does not balance (%)', NEW.transaction_id, total USING ERRCODE = '23514';
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();

CREATE TABLE prize_payouts (
  competition_id  uuid NOT NULL REFERENCES competitions (id),
  user_id         uuid NOT NULL REFERENCES users (id),
  place           integer NOT NULL CHECK (place > 0),
  amount          bigint NOT NULL CHECK (amount >= 0),
  transaction_id  bigint REFERENCES ledger_transactions (id),
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (competition_id, user_id)
);

-- A user's feed.
CREATE TABLE activity (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id         uuid NOT NULL REFERENCES users (id),
  kind            text NOT NULL CHECK (kind IN ('joined', 'left', 'synced', 'rank_changed', 'prize', 'refund', 'credit', 'competition_status', 'flagged')),
  competition_id  uuid REFERENCES competitions (id) ON DELETE CASCADE,
  data            jsonb NOT NULL DEFAULT '{}',
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX activity_user_idx ON activity (user_id, id DESC);

-- Stored results of idempotent requests, so a retry gets the same answer.
CREATE TABLE idempotency_keys (
  scope         text NOT NULL,
  key           text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 200),
  request_hash  text NOT NULL,
  status_code   integer NOT NULL,
  response      jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, key)
);
