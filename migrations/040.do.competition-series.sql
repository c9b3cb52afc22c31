-- Repeating competitions: a series is a template (the fields of a competition without its
-- times, kept as given so fields added to competitions later carry over) and a schedule in the
-- series' time zone. A job per occurrence creates its instance ahead of its start.
CREATE TABLE competition_series (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 120),
  template jsonb NOT NULL,
  schedule jsonb NOT NULL,
  time_zone text NOT NULL,
  duration_seconds integer NOT NULL CHECK (duration_seconds > 0),
  create_ahead_seconds integer NOT NULL CHECK (create_ahead_seconds >= 0),
  visibility text NOT NULL CHECK (visibility IN ('public', 'private')),
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'stopped')),
  -- The occurrence whose job waits (null once paused or stopped): a job for any other
  -- occurrence is stale and does nothing.
  next_occurrence_at timestamptz,
  created_by uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX competition_series_by_created ON competition_series (created_at DESC, id DESC);

-- One instance per occurrence: a retried job finds the row and creates no second competition.
CREATE TABLE competition_series_instances (
  series_id uuid NOT NULL REFERENCES competition_series (id) ON DELETE CASCADE,
  occurs_at timestamptz NOT NULL,
  competition_id uuid NOT NULL UNIQUE REFERENCES competitions (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (series_id, occurs_at)
);

-- Who opted into joining every new instance automatically.
CREATE TABLE competition_series_subscriptions (
  series_id uuid NOT NULL REFERENCES competition_series (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (series_id, user_id)
);
CREATE INDEX competition_series_subscriptions_by_user ON competition_series_subscriptions (user_id);

-- The outcome of each automatic join, per subscriber and instance: joined, or failed with the
-- reason (a failure moved no money and left no participant).
CREATE TABLE series_auto_joins (
  competition_id uuid NOT NULL REFERENCES competitions (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  series_id uuid NOT NULL REFERENCES competition_series (id) ON DELETE CASCADE,
  status text NOT NULL CHECK (status IN ('joined', 'failed')),
  reason text CHECK ((status = 'failed') = (reason IS NOT NULL)),
  message text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (competition_id, user_id)
);
CREATE INDEX series_auto_joins_by_user ON series_auto_joins (series_id, user_id, created_at DESC);

ALTER TABLE competition_series ENABLE ROW LEVEL SECURITY;
ALTER TABLE competition_series_instances ENABLE ROW LEVEL SECURITY;
ALTER TABLE competition_series_subscriptions ENABLE ROW LEVEL SECURITY;
ALTER TABLE series_auto_joins ENABLE ROW LEVEL SECURITY;
