-- Money in and out through the payment gateway (Stripe).
--
-- A user's wallet is split into pockets: deposits and winnings may be withdrawn, promotional
-- credit may only be spent. Before this migration no money could be deposited, so every
-- existing wallet balance came from the house (admin credits, prizes funded by them) and
-- becomes promotional.
ALTER TABLE accounts ADD COLUMN pocket text CHECK (pocket IN ('deposits', 'winnings', 'promo'));
UPDATE accounts SET pocket = 'promo' WHERE kind = 'wallet';

ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check;
ALTER TABLE accounts DROP CONSTRAINT accounts_check;
ALTER TABLE accounts DROP CONSTRAINT accounts_check1;
ALTER TABLE accounts DROP CONSTRAINT accounts_kind_user_id_competition_id_currency_key;
ALTER TABLE accounts
  -- withdrawal_pending: reserved for a withdrawal on its way out; dispute_hold: frozen while a
  -- dispute is open; debt: what a user owes (never a negative wallet), at most zero;
  -- gateway_hold: money the gateway holds back during disputes, at most zero.
  ADD CONSTRAINT accounts_kind_check CHECK (kind IN ('wallet', 'escrow', 'house', 'external',
    'withdrawal_pending', 'dispute_hold', 'debt', 'gateway_hold')),
  ADD CONSTRAINT accounts_balance_sign_check CHECK (CASE kind
    WHEN 'external' THEN true
    WHEN 'debt' THEN balance <= 0
    WHEN 'gateway_hold' THEN balance <= 0
    ELSE balance >= 0 END),
  ADD CONSTRAINT accounts_user_check CHECK (
    (kind IN ('wallet', 'withdrawal_pending', 'dispute_hold', 'debt')) = (user_id IS NOT NULL)),
  ADD CONSTRAINT accounts_wallet_pocket_check CHECK ((kind = 'wallet') = (pocket IS NOT NULL)),
  ADD CONSTRAINT accounts_identity_key UNIQUE NULLS NOT DISTINCT (kind, pocket, user_id, competition_id, currency);

ALTER TABLE ledger_transactions DROP CONSTRAINT ledger_transactions_kind_check;
ALTER TABLE ledger_transactions
  ADD CONSTRAINT ledger_transactions_kind_check CHECK (kind IN ('credit', 'entry_fee', 'refund', 'prize',
    'house_fee', 'deposit', 'deposit_refund', 'withdrawal', 'withdrawal_sent', 'withdrawal_reversal',
    'dispute_opened', 'dispute_won', 'dispute_lost')),
  -- The gateway object this transaction mirrors (ch_, re_, tr_, trr_, dp_): reconciliation
  -- matches the gateway's balance transactions to the ledger by it.
  ADD COLUMN external_ref text;
CREATE INDEX ledger_transactions_external_ref_idx ON ledger_transactions (external_ref) WHERE external_ref IS NOT NULL;
CREATE INDEX ledger_transactions_created_at_idx ON ledger_transactions (created_at);

-- Every transaction balances per currency, and never mixes currencies.
CREATE OR REPLACE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE total numeric; currencies integer;
BEGIN
  SELECT coalesce(sum(e.amount), 0), count(DISTINCT a.currency) INTO total, currencies
    FROM ledger_entries e JOIN accounts a ON a.id = e.account_id WHERE e.transaction_id = NEW.transaction_id;
  IF total <> 0 THEN
    RAISE EXCEPTION 'ledger transaction % does not balance (%)', NEW.transaction_id, total USING ERRCODE = '23514';
  END IF;
  IF currencies > 1 THEN
    RAISE EXCEPTION 'ledger transaction % mixes currencies', NEW.transaction_id USING ERRCODE = '23514';
  END IF;
  RETURN NULL;
END $$;

-- Gateway events, stored once per event id as they arrive (signature already verified), then
-- processed by a job; the primary key is what makes a redelivery a no-op.
CREATE TABLE stripe_events (
  id            text PRIMARY KEY,
  type          text NOT NULL,
  -- The connected account an event is about (Connect events), null for the platform's own.
  account       text,
  payload       jsonb NOT NULL,
  received_at   timestamptz NOT NULL DEFAULT now(),
  processed_at  timestamptz
);

CREATE TABLE deposits (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id            uuid NOT NULL REFERENCES users (id),
  amount             bigint NOT NULL CHECK (amount > 0),
  currency           char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  status             text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
  payment_intent_id  text UNIQUE,
  charge_id          text UNIQUE,
  refunded_amount    bigint NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0),
  failure_code       text,
  failure_message    text,
  transaction_id     bigint REFERENCES ledger_transactions (id),
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deposits_user_idx ON deposits (user_id, created_at DESC, id DESC);

-- A user's Stripe Connect Express account, where withdrawals are paid.
CREATE TABLE payout_accounts (
  user_id            uuid PRIMARY KEY REFERENCES users (id),
  stripe_account_id  text NOT NULL UNIQUE,
  payouts_enabled    boolean NOT NULL DEFAULT false,
  details_submitted  boolean NOT NULL DEFAULT false,
  requirements       text[] NOT NULL DEFAULT '{}',
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE withdrawals (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id             uuid NOT NULL REFERENCES users (id),
  amount              bigint NOT NULL CHECK (amount > 0),
  currency            char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  -- review: waits for an admin; processing: transfer and payout under way; in_transit: the
  -- payout is on its way to the bank; paid; failed (reversed); rejected (by an admin, reversed).
  status              text NOT NULL CHECK (status IN ('review', 'processing', 'in_transit', 'paid', 'failed', 'rejected')),
  stripe_account_id   text NOT NULL,
  transfer_id         text UNIQUE,
  payout_id           text UNIQUE,
  reserve_transaction_id  bigint NOT NULL REFERENCES ledger_transactions (id),
  failure_code        text,
  failure_message     text,
  reviewed_by         uuid REFERENCES users (id),
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX withdrawals_user_idx ON withdrawals (user_id, created_at DESC, id DESC);
CREATE INDEX withdrawals_status_idx ON withdrawals (status, created_at) WHERE status IN ('review', 'processing');

CREATE TABLE disputes (
  id              text PRIMARY KEY,
  deposit_id      uuid NOT NULL REFERENCES deposits (id),
  user_id         uuid NOT NULL REFERENCES users (id),
  amount          bigint NOT NULL CHECK (amount > 0),
  currency        char(3) NOT NULL,
  status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'won', 'lost')),
  -- What the wallet could cover when the dispute opened; the rest becomes debt if it is lost.
  frozen_amount   bigint NOT NULL CHECK (frozen_amount >= 0),
  hold_transaction_id  bigint NOT NULL REFERENCES ledger_transactions (id),
  created_at      timestamptz NOT NULL DEFAULT now(),
  closed_at       timestamptz
);

-- A daily comparison of the ledger's gateway postings with the gateway's balance transactions.
CREATE TABLE reconciliation_runs (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  day               date NOT NULL,
  gateway_count     integer NOT NULL,
  ledger_count      integer NOT NULL,
  difference_count  integer NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reconciliation_runs_day_idx ON reconciliation_runs (day DESC, id DESC);

CREATE TABLE reconciliation_differences (
  run_id          bigint NOT NULL REFERENCES reconciliation_runs (id) ON DELETE CASCADE,
  reference       text NOT NULL,
  currency        char(3) NOT NULL,
  kind            text NOT NULL CHECK (kind IN ('missing_in_ledger', 'missing_at_gateway', 'amount_mismatch')),
  ledger_amount   bigint,
  gateway_amount  bigint,
  PRIMARY KEY (run_id, reference, currency)
);

ALTER TABLE activity DROP CONSTRAINT activity_kind_check;
ALTER TABLE activity ADD CONSTRAINT activity_kind_check CHECK (kind IN ('joined', 'left', 'synced', 'rank_changed',
  'prize', 'refund', 'credit', 'competition_status', 'flagged', 'deposit', 'withdrawal', 'dispute'));
