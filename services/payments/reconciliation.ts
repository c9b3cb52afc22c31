import { type Page, pageOf, pageRequest } from '../shared/cursors.ts'
import type { Db, Transact } from '../shared/transactions.ts'
import { toMoney } from '../money/ledger.ts'
import type { Gateway } from './gateway.ts'

export const RECONCILIATION_QUEUE = 'payments.reconciliation'

// Balance transactions that are the platform moving its own money to its own bank, which the
// ledger does not track: not compared.
const NOT_LEDGER_MONEY = new Set(['payout', 'payout_cancel', 'payout_failure'])

export type DifferenceKind = 'missing_in_ledger' | 'missing_at_gateway' | 'amount_mismatch'

export interface Difference {
  reference: string
  currency: string
  kind: DifferenceKind
  ledgerAmount: number | null
  gatewayAmount: number | null
}

export interface ReconciliationReport {
  id: number
  day: string
  gatewayCount: number
  ledgerCount: number
  differenceCount: number
  differences: Difference[]
  createdAt: string
}

// Sums by gateway object (charge, refund, transfer, reversal, dispute) and currency.
type Totals = Map<string, { reference: string, currency: string, amount: number }>

function add (totals: Totals, reference: string, currency: string, amount: number): void {
  const key = `${reference}\n${currency}`
  const found = totals.get(key)
  if (found) found.amount += amount
  else totals.set(key, { reference, currency, amount })
}

// Compares one UTC day of the ledger's gateway postings (external-account entries carrying the
// gateway object they mirror) with the gateway's balance transactions of that day, object by
// object, by gross amount (the gateway's fees are its own line, not a user's money).
export function createReconciliation ({ pool, transact, gateway, onReport }: {
  pool: Db
  transact: Transact
  gateway: Pick<Gateway, 'balanceTransactions'>
  // Metrics and logs for each finished run.
  onReport?: (report: ReconciliationReport) => void
}) {
  async function gatewayTotals (day: string): Promise<{ totals: Totals, count: number }> {
    const start = Date.parse(`${day}T00:00:00Z`) / 1000
    const totals: Totals = new Map()
    let count = 0
    for await (const bt of gateway.balanceTransactions.list({ created: { gte: start, lt: start + 86400 }, limit: 100 })) {
      if (NOT_LEDGER_MONEY.has(bt.type)) continue
      count++
      const source = typeof bt.source === 'string' ? bt.source : bt.source?.id
      add(totals, source ?? bt.id, bt.currency.toUpperCase(), bt.amount)
    }
    return { totals, count }
  }

  async function ledgerTotals (day: string): Promise<{ totals: Totals, count: number }> {
    // The external account's entries are the outside world's side: money in is negative there,
    // so the gateway's amount is the negation.
    const { rows } = await pool.query<{ external_ref: string, currency: string, amount: string, n: number }>(`SELECT t.external_ref, a.currency,
        (-sum(e.amount))::text AS amount, count(DISTINCT t.id)::int AS n
      FROM ledger_transactions t
      JOIN ledger_entries e ON e.transaction_id = t.id
      JOIN accounts a ON a.id = e.account_id AND a.kind = 'external'
      WHERE t.external_ref IS NOT NULL AND t.created_at >= $1::date AND t.created_at < $1::date + 1
      GROUP BY t.external_ref, a.currency`, [day])
    const totals: Totals = new Map()
    for (const r of rows) add(totals, r.external_ref, r.currency, toMoney(r.amount))
    return { totals, count: rows.reduce((sum, r) => sum + r.n, 0) }
  }

  function compare (ledger: Totals, gatewaySide: Totals): Difference[] {
    const differences: Difference[] = []
    for (const [key, g] of gatewaySide) {
      const l = ledger.get(key)
      if (!l) differences.push({ reference: g.reference, currency: g.currency, kind: 'missing_in_ledger', ledgerAmount: null, gatewayAmount: g.amount })
      else if (l.amount !== g.amount) differences.push({ reference: g.reference, currency: g.currency, kind: 'amount_mismatch', ledgerAmount: l.amount, gatewayAmount: g.amount })
    }
    for (const [key, l] of ledger) {
      if (!gatewaySide.has(key)) differences.push({ reference: l.reference, currency: l.currency, kind: 'missing_at_gateway', ledgerAmount: l.amount, gatewayAmount: null })
    }
    return differences.sort((a, b) => a.reference.localeCompare(b.reference))
  }

  async function run (day: string): Promise<ReconciliationReport> {
    const [gatewaySide, ledger] = [await gatewayTotals(day), await ledgerTotals(day)]
    const differences = compare(ledger.totals, gatewaySide.totals)
    const report = await transact(async (tx) => {
      const { rows: [r] } = await tx.query<{ id: string, created_at: Date }>(`INSERT INTO reconciliation_runs (day, gateway_count, ledger_count, difference_count)
        VALUES ($1, $2, $3, $4) RETURNING id, created_at`, [day, gatewaySide.count, ledger.count, differences.length])
      if (differences.length > 0) {
        await tx.query(`INSERT INTO reconciliation_differences (run_id, reference, currency, kind, ledger_amount, gateway_amount)
          SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])`, [r!.id,
          differences.map((d) => d.reference), differences.map((d) => d.currency), differences.map((d) => d.kind),
          differences.map((d) => d.ledgerAmount), differences.map((d) => d.gatewayAmount)])
      }
      return { id: toMoney(r!.id), day, gatewayCount: gatewaySide.count, ledgerCount: ledger.count, differenceCount: differences.length, differences, createdAt: r!.created_at.toISOString() }
    })
    onReport?.(report)
    return report
  }

  // Latest runs first, each with its differences.
  async function list (page: { cursor?: string, limit: number }): Promise<Page<ReconciliationReport>> {
    const request = pageRequest(page.cursor, ['number'])
    const { rows } = await pool.query(`SELECT r.id, to_char(r.day, 'YYYY-MM-DD') AS day, r.gateway_count, r.ledger_count, r.difference_count, r.created_at,
        coalesce(json_agg(json_build_object('reference', d.reference, 'currency', d.currency, 'kind', d.kind,
          'ledgerAmount', d.ledger_amount, 'gatewayAmount', d.gateway_amount) ORDER BY d.reference) FILTER (WHERE d.run_id IS NOT NULL), '[]') AS differences
      FROM reconciliation_runs r LEFT JOIN reconciliation_differences d ON d.run_id = r.id
      WHERE $1::bigint IS NULL OR r.id ${request.compare} $1
      GROUP BY r.id ORDER BY r.id ${request.order} LIMIT $2`, [request.key?.[0] ?? null, page.limit + 1])
    const { rows: shown, nextCursor, prevCursor } = pageOf(rows, page.limit, request, (r) => [Number(r.id)])
    const items = shown.map((r) => ({
      id: toMoney(r.id),
      day: r.day,
      gatewayCount: r.gateway_count,
      ledgerCount: r.ledger_count,
      differenceCount: r.difference_count,
      differences: r.differences,
      createdAt: (r.created_at as Date).toISOString()
    }))
    return { items, nextCursor, prevCursor }
  }

  return { run, list }
}

export type Reconciliation = ReturnType<typeof createReconciliation>

// The UTC day before `now`, which the daily job reconciles once it is complete.
export function previousUtcDay (now: Date): string {
  return new Date(now.getTime() - 86400_000).toISOString().slice(0, 10)
}
