import type Stripe from 'stripe'
import { errors } from '../../lib/errors.ts'
import type { Db } from '../shared/transactions.ts'
import { asClientError, type Gateway } from './gateway.ts'

export interface PayoutAccount {
  stripeAccountId: string
  status: 'onboarding' | 'active' | 'restricted'
  payoutsEnabled: boolean
  requirements: string[]
}

export interface OnboardingLink extends PayoutAccount {
  onboardingUrl: string
  expiresAt: string
}

function toPayoutAccount (r: { stripe_account_id: string, payouts_enabled: boolean, details_submitted: boolean, requirements: string[] }): PayoutAccount {
  return {
    stripeAccountId: r.stripe_account_id,
    status: r.payouts_enabled ? 'active' : r.details_submitted ? 'restricted' : 'onboarding',
    payoutsEnabled: r.payouts_enabled,
    requirements: r.requirements
  }
}

// Where withdrawals go: a Stripe Connect Express account per user, onboarded on Stripe's own
// pages; its status follows the account.updated events.
export function createPayoutAccountsService ({ pool, gateway, country, returnUrl }: {
  pool: Db
  gateway: Pick<Gateway, 'accounts' | 'accountLinks'>
  country: string
  // Where Stripe sends the user back to after onboarding (or to refresh an expired link).
  returnUrl: string
}) {
  async function find (db: Db, userId: string): Promise<PayoutAccount | null> {
    const { rows } = await db.query('SELECT stripe_account_id, payouts_enabled, details_submitted, requirements FROM payout_accounts WHERE user_id = $1', [userId])
    return rows[0] ? toPayoutAccount(rows[0]) : null
  }

  async function get (userId: string): Promise<PayoutAccount> {
    const account = await find(pool, userId)
    if (!account) throw errors.NotFound('No payout account yet: start onboarding first')
    return account
  }

  // Creates the account on first use (idempotent per user at the gateway) and returns a fresh
  // onboarding link; links expire within minutes, so one is made per call.
  async function onboard (userId: string): Promise<OnboardingLink> {
    let account = await find(pool, userId)
    if (!account) {
      const created = await gateway.accounts.create({
        type: 'express',
        country,
        capabilities: { transfers: { requested: true } },
        metadata: { userId }
      }, { idempotencyKey: `payout-account-${userId}` }).catch(asClientError)
      await pool.query(`INSERT INTO payout_accounts (user_id, stripe_account_id, requirements) VALUES ($1, $2, $3)
        ON CONFLICT (user_id) DO NOTHING`, [userId, created.id, created.requirements?.currently_due ?? []])
      account = (await find(pool, userId))!
    }
    const link = await gateway.accountLinks.create({
      account: account.stripeAccountId,
      refresh_url: `${returnUrl}?refresh=1`,
      return_url: returnUrl,
      type: 'account_onboarding'
    }).catch(asClientError)
    return { ...account, onboardingUrl: link.url, expiresAt: new Date(link.expires_at * 1000).toISOString() }
  }

  // account.updated (a Connect event).
  async function updated (tx: Db, account: Pick<Stripe.Account, 'id' | 'payouts_enabled' | 'details_submitted' | 'requirements'>): Promise<void> {
    await tx.query(`UPDATE payout_accounts SET payouts_enabled = $2, details_submitted = $3, requirements = $4, updated_at = now()
      WHERE stripe_account_id = $1`, [account.id, account.payouts_enabled === true, account.details_submitted === true, account.requirements?.currently_due ?? []])
  }

  return { find, get, onboard, updated }
}

export type PayoutAccountsService = ReturnType<typeof createPayoutAccountsService>
