-- Fitness domain: review state for anti-cheat flags and per-user serialisation of syncs.

-- A sample an admin confirmed as implausible stays stored (audit) but no longer counts.
ALTER TABLE fitness_samples ADD COLUMN rejected boolean NOT NULL DEFAULT false;
-- The last change per user and metric is part of every score push's idempotency key.
CREATE INDEX fitness_samples_updated_idx ON fitness_samples (user_id, metric, updated_at);

-- A flag belongs to one version of one sample, so a replayed batch never raises it twice
-- while a revised sample that is still implausible raises a new one. competition_ids are the
-- competitions the flag holds the participant out of prizes in (decided when it was raised).
ALTER TABLE fitness_flags
  ADD COLUMN sample_version bigint,
  ADD COLUMN metric text,
  ADD COLUMN local_day date,
  ADD COLUMN details jsonb NOT NULL DEFAULT '{}',
  ADD COLUMN competition_ids uuid[] NOT NULL DEFAULT '{}',
  ADD COLUMN note text CHECK (note IS NULL OR char_length(note) <= 500);
CREATE UNIQUE INDEX fitness_flags_sample_version_reason_key ON fitness_flags (sample_id, sample_version, reason);
CREATE INDEX fitness_flags_competitions_idx ON fitness_flags USING gin (competition_ids);

-- One sync per user at a time across instances: ingestion, recomputation and the score push
-- happen in order, so an older recomputed total can never overwrite a newer one. A lease
-- (not a held lock) so no connection is pinned while the leaderboard is updated; it expires
-- on its own if an instance dies mid-sync.
CREATE TABLE fitness_sync_leases (
  user_id     uuid PRIMARY KEY,
  holder      text NOT NULL,
  expires_at  timestamptz NOT NULL
);
