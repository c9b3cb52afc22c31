-- Where the lowest score wins (a fastest time as a custom metric). The order is fixed once
-- someone joined, so each participant row carries it and its standing (the key every ranking
-- query orders by, descending) is computed from the row alone: the score, or minus the score
-- where the lowest wins, or NULL while such a participant has no score yet (not on the board).
ALTER TABLE competitions ADD COLUMN score_order text NOT NULL DEFAULT 'highest_wins'
  CHECK (score_order IN ('highest_wins', 'lowest_wins'));

ALTER TABLE participants
  ADD COLUMN lowest_wins boolean NOT NULL DEFAULT false,
  ADD COLUMN scored boolean NOT NULL DEFAULT false;
ALTER TABLE participants ADD COLUMN standing bigint GENERATED ALWAYS AS (
  CASE WHEN NOT lowest_wins THEN score WHEN scored THEN -score END) STORED;

-- Ranking order everywhere: standing desc, reached_at asc (first to reach ranks higher), user_id asc.
CREATE INDEX participants_standing_idx ON participants (competition_id, standing DESC, reached_at, user_id);
DROP INDEX participants_rank_idx;
