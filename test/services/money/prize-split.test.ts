import { test } from 'tap'
import { computePrizes, houseShareOf, splitPool, type PrizeStanding } from '../../../services/money/prize-split.ts'

const uid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`
function standing (n: number, score: number, reached: number, flagged = false): PrizeStanding {
  return { userId: uid(n), score, reachedMicros: String(reached), flagged }
}

test('a percent split hands the odd minor units to the top places', async (t) => {
  t.same(splitPool(1001, { type: 'percent', places: [50, 30, 20] }), [501, 300, 200])
  t.same(splitPool(1003, { type: 'percent', places: [34, 33, 33] }), [342, 331, 330])
  t.same(splitPool(7, { type: 'percent', places: [100] }), [7])
  t.same(splitPool(0, { type: 'percent', places: [50, 50] }), [0, 0])
  t.same(splitPool(1200, { type: 'fixed', amounts: [1000, 500, 100] }), [1000, 200, 0], 'fixed amounts are paid while the pool lasts')
})

test('pool: escrow minus the house share plus the sponsor prize', async (t) => {
  t.equal(houseShareOf(1000, 250), 25)
  t.equal(houseShareOf(999, 250), 25, 'the prizes keep the floor of the net fees')
  const table = computePrizes({ escrow: 999, houseShareBps: 250, sponsorPrize: 500, split: { type: 'percent', places: [100] }, standings: [standing(1, 10, 1)] })
  t.match(table, { escrow: 999, houseShare: 25, sponsorPrize: 500, pool: 1474, unallocated: 0 })
  t.same(table.winners.map((w) => w.amount), [1474])
})

test('tied participants share the places they occupy; the remainder goes to who reached first', async (t) => {
  // Three tied for first over places 1-3 (1000 = 500 + 300 + 200): 334, 333, 333.
  const table = computePrizes({
    escrow: 1000,
    houseShareBps: 0,
    sponsorPrize: 0,
    split: { type: 'percent', places: [50, 30, 20] },
    standings: [standing(3, 70, 30), standing(1, 70, 20), standing(2, 70, 10), standing(4, 60, 5)]
  })
  t.same(table.winners.map((w) => [w.userId, w.rank, w.position, w.amount]), [
    [uid(2), 1, 1, 334], [uid(1), 1, 2, 333], [uid(3), 1, 3, 333]
  ])
  t.equal(table.unallocated, 0)

  // A tie across the last paid place: 2nd and 3rd share 300 + 200; the 4th gets nothing.
  const across = computePrizes({
    escrow: 1001,
    houseShareBps: 0,
    sponsorPrize: 0,
    split: { type: 'percent', places: [50, 30, 20] },
    standings: [standing(1, 100, 1), standing(2, 80, 3), standing(3, 80, 2), standing(4, 50, 1)]
  })
  t.same(across.winners.map((w) => [w.userId, w.rank, w.amount]), [[uid(1), 1, 501], [uid(3), 2, 250], [uid(2), 2, 250]])
  // A tie straddling the end of the split: three share place 3's 201 -> 67 each.
  const straddle = computePrizes({
    escrow: 1005,
    houseShareBps: 0,
    sponsorPrize: 0,
    split: { type: 'percent', places: [50, 30, 20] },
    standings: [standing(1, 9, 1), standing(2, 8, 1), standing(3, 7, 3), standing(4, 7, 1), standing(5, 7, 2)]
  })
  t.same(straddle.places.map((p) => p.amount), [503, 301, 201])
  t.same(straddle.winners.map((w) => [w.userId, w.amount]), [[uid(1), 503], [uid(2), 301], [uid(4), 67], [uid(5), 67], [uid(3), 67]])
})

test('flagged participants are held out and listed; the next ones move up', async (t) => {
  const table = computePrizes({
    escrow: 900,
    houseShareBps: 0,
    sponsorPrize: 0,
    split: { type: 'percent', places: [60, 40] },
    standings: [standing(1, 1000, 1, true), standing(2, 500, 1), standing(3, 400, 1), standing(4, 900, 2, true)]
  })
  t.same(table.heldOut, [{ userId: uid(1), score: 1000, reason: 'flagged' }, { userId: uid(4), score: 900, reason: 'flagged' }])
  t.same(table.winners.map((w) => [w.userId, w.rank, w.amount]), [[uid(2), 1, 540], [uid(3), 2, 360]])
})

test('places nobody occupies are unallocated', async (t) => {
  const table = computePrizes({ escrow: 1000, houseShareBps: 0, sponsorPrize: 0, split: { type: 'percent', places: [50, 30, 20] }, standings: [standing(1, 3, 1)] })
  t.same(table.winners.map((w) => w.amount), [500])
  t.equal(table.unallocated, 500)
  const nobody = computePrizes({ escrow: 0, houseShareBps: 0, sponsorPrize: 300, split: { type: 'percent', places: [100] }, standings: [] })
  t.equal(nobody.unallocated, 300)
})

test('every minor unit is accounted for, whatever the input', async (t) => {
  let seed = 7
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n }
  for (let round = 0; round < 500; round++) {
    const places = Array.from({ length: 1 + rand(5) }, () => 1 + rand(40))
    const sum = places.reduce((a, b) => a + b, 0)
    places[0]! += 100 - sum > 0 ? 100 - sum : 0
    const split = sum <= 100 ? { type: 'percent' as const, places } : { type: 'fixed' as const, amounts: places.map((p) => p * 37) }
    const standings = Array.from({ length: rand(12) }, (_, i) => standing(i + 1, rand(4) * 10, rand(3), rand(6) === 0))
    const input = { escrow: rand(1_000_000), houseShareBps: rand(10_001), sponsorPrize: rand(1000), split, standings }
    const table = computePrizes(input)
    const paid = table.winners.reduce((a, w) => a + w.amount, 0)
    if (table.houseShare + table.pool !== input.escrow + input.sponsorPrize || paid + table.unallocated !== table.pool || table.unallocated < 0) {
      t.fail(`books do not balance for ${JSON.stringify(input)}`)
      return
    }
    // Tied scores never differ by more than one unit.
    for (const w of table.winners) {
      const tied = table.winners.filter((x) => x.score === w.score)
      if (Math.max(...tied.map((x) => x.amount)) - Math.min(...tied.map((x) => x.amount)) > 1 && tied.length === standings.filter((s) => !s.flagged && s.score === w.score).length) {
        t.fail(`tied winners differ by more than one unit: ${JSON.stringify(table.winners)}`)
        return
      }
    }
  }
  t.pass('500 random tables balance')
})
