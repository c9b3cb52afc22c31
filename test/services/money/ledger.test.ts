import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import { build } from '../../helper.ts'
import { ledgerTotals, TEST_CONFIG } from '../../routes/competitions/fixtures.ts'

test('wallet ledger', async (t) => {
  const app = await build(t, { config: TEST_CONFIG })
  const { ledger } = app
  const alice = randomUUID()
  const bob = randomUUID()
  for (const id of [alice, bob]) await app.provisionUser({ id, email: null, displayName: null })

  const accounts = await app.pg.transact(async (tx) => ({
    external: await ledger.ensureAccount(tx, { kind: 'external', currency: 'USD' }),
    alice: await ledger.ensureAccount(tx, { kind: 'wallet', pocket: 'deposits', userId: alice, currency: 'USD' }),
    bob: await ledger.ensureAccount(tx, { kind: 'wallet', pocket: 'deposits', userId: bob, currency: 'USD' }),
    aliceEur: await ledger.ensureAccount(tx, { kind: 'wallet', pocket: 'deposits', userId: alice, currency: 'EUR' })
  }))

  await t.test('ensureAccount is stable: one account per (kind, user, competition, currency)', async (t) => {
    const again = await app.pg.transact(async (tx) => await Promise.all([
      ledger.ensureAccount(tx, { kind: 'external', currency: 'USD' }),
      ledger.ensureAccount(tx, { kind: 'wallet', pocket: 'deposits', userId: alice, currency: 'USD' })
    ]))
    t.same(again, [accounts.external, accounts.alice])
    t.not(accounts.alice, accounts.aliceEur, 'another currency is another account')
    const concurrent = await Promise.all(Array.from({ length: 5 }, async () =>
      await app.pg.transact(async (tx) => await ledger.ensureAccount(tx, { kind: 'house', currency: 'GBP' }))))
    t.equal(new Set(concurrent).size, 1, 'concurrent creation yields one account')
  })

  await t.test('a transfer moves money and is idempotent by key', async (t) => {
    const transfer = async () => await app.pg.transact(async (tx) => await ledger.transfer(tx, {
      idempotencyKey: 'deposit-1',
      kind: 'credit',
      legs: [{ accountId: accounts.external, amount: -500 }, { accountId: accounts.alice, amount: 500 }, { accountId: accounts.bob, amount: 0 }]
    }))
    const first = await transfer()
    t.equal(first.created, true)
    const second = await transfer()
    t.same(second, { transactionId: first.transactionId, created: false }, 'the retry returns the first transaction')
    const balances = await app.pg.transact(async (tx) => [await ledger.balance(tx, accounts.alice), await ledger.balance(tx, accounts.external)])
    t.same(balances, [500, -500], 'moved once')
    const { rows } = await app.pg.query('SELECT count(*)::int AS n FROM ledger_entries WHERE transaction_id = $1', [first.transactionId])
    t.equal(rows[0].n, 2, 'zero legs are skipped')
  })

  await t.test('legs must sum to zero', async (t) => {
    await t.rejects(app.pg.transact(async (tx) => await ledger.transfer(tx, {
      idempotencyKey: 'unbalanced',
      kind: 'credit',
      legs: [{ accountId: accounts.external, amount: -5 }, { accountId: accounts.alice, amount: 4 }]
    })), /sum to zero/)
    const { rows } = await app.pg.query('SELECT 1 FROM ledger_transactions WHERE idempotency_key = $1', ['unbalanced'])
    t.equal(rows.length, 0, 'nothing written')
  })

  await t.test('a wallet cannot go negative: 409 INSUFFICIENT_FUNDS and nothing written', async (t) => {
    const err = await app.pg.transact(async (tx) => await ledger.transfer(tx, {
      idempotencyKey: 'overdraw',
      kind: 'entry_fee',
      legs: [{ accountId: accounts.alice, amount: -501 }, { accountId: accounts.bob, amount: 501 }]
    })).catch((e: unknown) => e as { statusCode: number, code: string })
    t.match(err, { statusCode: 409, code: 'INSUFFICIENT_FUNDS' })
    const balances = await app.pg.transact(async (tx) => [await ledger.balance(tx, accounts.alice), await ledger.balance(tx, accounts.bob)])
    t.same(balances, [500, 0])
    const { rows } = await app.pg.query('SELECT 1 FROM ledger_transactions WHERE idempotency_key = $1', ['overdraw'])
    t.equal(rows.length, 0, 'the transaction rolled back')
  })

  await t.test('the same key under concurrency moves money once', async (t) => {
    const results = await Promise.all(Array.from({ length: 8 }, async () => await app.pg.transact(async (tx) => await ledger.transfer(tx, {
      idempotencyKey: 'race-1',
      kind: 'credit',
      legs: [{ accountId: accounts.external, amount: -7 }, { accountId: accounts.bob, amount: 7 }]
    }))))
    t.equal(results.filter((r) => r.created).length, 1)
    t.equal(new Set(results.map((r) => r.transactionId)).size, 1)
    t.equal(await app.pg.transact(async (tx) => await ledger.balance(tx, accounts.bob)), 7)
  })

  await t.test('entries are append-only and the books balance', async (t) => {
    await t.rejects(app.pg.query('UPDATE ledger_entries SET amount = 1'), /append-only/)
    t.same(await ledgerTotals(app), { entries: 0, accounts: 0, mismatched: 0, negativeWallets: 0 })
  })

  await t.test('wallet balances and entries with running balance, paginated', async (t) => {
    t.same(await ledger.walletBalances(app.pg.pool, alice), [{ currency: 'EUR', balance: 0, withdrawable: 0 }, { currency: 'USD', balance: 500, withdrawable: 500 }])
    for (let i = 1; i <= 3; i++) {
      await app.pg.transact(async (tx) => await ledger.transfer(tx, {
        idempotencyKey: `pay-${i}`,
        kind: 'credit',
        legs: [{ accountId: accounts.alice, amount: -i }, { accountId: accounts.external, amount: i }]
      }))
    }
    const page1 = await ledger.listWalletEntries(app.pg.pool, alice, { limit: 2 })
    t.same(page1.items.map((e) => [e.amount, e.balanceAfter]), [[-3, 494], [-2, 497]])
    t.ok(page1.nextCursor)
    const page2 = await ledger.listWalletEntries(app.pg.pool, alice, { limit: 2, cursor: page1.nextCursor! })
    t.same(page2.items.map((e) => [e.kind, e.amount, e.balanceAfter]), [['credit', -1, 499], ['credit', 500, 500]])
    t.equal(page2.nextCursor, null)
  })
})
