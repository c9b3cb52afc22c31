-- What a participant paid to join, so leaving or cancellation refunds exactly that amount
-- once: the refund's idempotency key is derived from the fee's transaction.
ALTER TABLE participants
  ADD COLUMN entry_fee_paid bigint NOT NULL DEFAULT 0 CHECK (entry_fee_paid >= 0),
  ADD COLUMN fee_transaction_id bigint REFERENCES ledger_transactions (id);

-- The sweeper looks up running competitions by end time.
CREATE INDEX competitions_status_ends_idx ON competitions (status, ends_at, id);
CREATE INDEX competitions_visibility_created_idx ON competitions (visibility, created_at DESC, id DESC);
