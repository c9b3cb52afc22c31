-- A participant's score version, bumped with every accepted score change under the row lock.
-- The Redis projection applies a participant's change only when its version is newer, so
-- projections written out of commit order (several instances, retries, rebuilds) converge.
ALTER TABLE participants ADD COLUMN score_version bigint NOT NULL DEFAULT 0 CHECK (score_version >= 0);

-- A participant's score history, newest last.
CREATE INDEX score_events_participant_idx ON score_events (competition_id, user_id, id);

-- The outcome of a competition's prize distribution, written once in the transaction that pays
-- it, so a repeated or concurrent call returns the same result without paying again.
CREATE TABLE prize_distributions (
  competition_id  uuid PRIMARY KEY REFERENCES competitions (id),
  transaction_id  bigint REFERENCES ledger_transactions (id),
  result          jsonb NOT NULL,
  distributed_by  uuid REFERENCES users (id),
  created_at      timestamptz NOT NULL DEFAULT now()
);
