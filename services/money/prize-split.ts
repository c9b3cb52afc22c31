import { compareStandings, type ScoreOrder, type Standing } from '../leaderboard/ranking.ts'

// Prize maths, pure and exact (integer minor units, BigInt for products).
//
// Pool: the entry fees held in escrow, minus the house share (its floor is kept for the
// prizes, as the competition listing shows), plus the sponsor prize.
// Split by place: 'percent' gives place i floor(pool * p_i / 100) and hands the remainder
// out one unit at a time from place 1 down; 'fixed' pays each place its amount while the
// pool lasts, in place order.
// Winners: flagged participants are held out; the others are ranked by the leaderboard rule
// (score desc, first to reach, user id). Participants tied on score share the sum of the
// places they occupy equally; the indivisible remainder goes one unit each to those who
// reached the score first. Money no place claims (fewer winners than places) goes to the
// house and is reported as `unallocated`.

export type PrizeSplit = { type: 'percent', places: number[] } | { type: 'fixed', amounts: number[] }

export interface PrizeStanding extends Standing {
  flagged: boolean
}

export interface PrizeWinner {
  userId: string
  rank: number
  position: number
  score: number
  amount: number
}

export interface PrizeTable {
  escrow: number
  houseShare: number
  sponsorPrize: number
  pool: number
  places: Array<{ place: number, amount: number }>
  winners: PrizeWinner[]
  heldOut: Array<{ userId: string, score: number, reason: 'flagged' }>
  unallocated: number
}

export interface PrizeInput {
  escrow: number
  houseShareBps: number
  sponsorPrize: number
  split: PrizeSplit
  order?: ScoreOrder
  standings: PrizeStanding[]
}

function toSafe (value: bigint): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n)) throw new Error(`amount ${value} is not a safe integer`)
  return n
}

export function houseShareOf (escrow: number, houseShareBps: number): number {
  const net = BigInt(escrow) * BigInt(10_000 - houseShareBps) / 10_000n
  return toSafe(BigInt(escrow) - net)
}

export function splitPool (pool: number, split: PrizeSplit): number[] {
  if (split.type === 'fixed') {
    let left = pool
    return split.amounts.map((amount) => {
      const paid = Math.min(amount, left)
      left -= paid
      return paid
    })
  }
  const total = BigInt(pool)
  const amounts = split.places.map((percent) => total * BigInt(percent) / 100n)
  const percentSum = split.places.reduce((a, b) => a + b, 0)
  // Only a split summing to 100% hands out the remainder; a smaller one leaves it unallocated.
  let remainder = percentSum === 100 ? total - amounts.reduce((a, b) => a + b, 0n) : 0n
  for (let i = 0; remainder > 0n; i = (i + 1) % amounts.length, remainder--) amounts[i]! += 1n
  return amounts.map(toSafe)
}

export function computePrizes (input: PrizeInput): PrizeTable {
  const houseShare = houseShareOf(input.escrow, input.houseShareBps)
  const pool = input.escrow - houseShare + input.sponsorPrize
  const placeAmounts = splitPool(pool, input.split)
  const byRank = (a: PrizeStanding, b: PrizeStanding) => compareStandings(a, b, input.order)
  const heldOut = input.standings.filter((s) => s.flagged)
    .sort(byRank)
    .map((s) => ({ userId: s.userId, score: s.score, reason: 'flagged' as const }))
  const eligible = input.standings.filter((s) => !s.flagged).sort(byRank)

  const winners: PrizeWinner[] = []
  for (let start = 0; start < eligible.length && start < placeAmounts.length;) {
    let end = start + 1
    while (end < eligible.length && eligible[end]!.score === eligible[start]!.score) end++
    // The tied group occupies positions start+1 .. end and shares those places' money.
    const share = placeAmounts.slice(start, end).reduce((a, b) => a + b, 0)
    const size = end - start
    const base = Math.floor(share / size)
    const extra = share - base * size
    for (let i = start; i < end; i++) {
      const amount = base + (i - start < extra ? 1 : 0)
      if (amount > 0) winners.push({ userId: eligible[i]!.userId, rank: start + 1, position: i + 1, score: eligible[i]!.score, amount })
    }
    start = end
  }
  const paid = winners.reduce((sum, w) => sum + w.amount, 0)
  return {
    escrow: input.escrow,
    houseShare,
    sponsorPrize: input.sponsorPrize,
    pool,
    places: placeAmounts.map((amount, i) => ({ place: i + 1, amount })),
    winners,
    heldOut,
    unallocated: pool - paid
  }
}
