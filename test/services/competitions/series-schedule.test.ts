import { test } from 'tap'
import { nextOccurrence, zoneInstant } from '../../../services/competitions/series-schedule.ts'
import type { Schedule } from '../../../schemas/series.ts'

// The occurrences of a series stay at their local wall-clock time in the series' zone, so
// their UTC instants move by an hour across a DST change.

function occurrences (schedule: Schedule, timeZone: string, from: string, n: number): string[] {
  const out: string[] = []
  let at = new Date(from)
  for (let i = 0; i < n; i++) {
    at = nextOccurrence(schedule, timeZone, at)
    out.push(at.toISOString())
  }
  return out
}

test('every Monday 06:00 in London, across the spring and autumn changes', async (t) => {
  const monday = { every: 'week', weekday: 'monday', at: '06:00' } as const
  // Clocks go forward on Sunday 2027-03-28: 06:00 GMT is 06:00Z, 06:00 BST is 05:00Z.
  t.same(occurrences(monday, 'Europe/London', '2027-03-17T12:00:00Z', 3),
    ['2027-03-22T06:00:00.000Z', '2027-03-29T05:00:00.000Z', '2027-04-05T05:00:00.000Z'])
  // And back on Sunday 2027-10-31.
  t.same(occurrences(monday, 'Europe/London', '2027-10-20T00:00:00Z', 2),
    ['2027-10-25T05:00:00.000Z', '2027-11-01T06:00:00.000Z'])
  t.equal(nextOccurrence(monday, 'Europe/London', new Date('2027-03-22T06:00:00Z')).toISOString(), '2027-03-29T05:00:00.000Z',
    'strictly after: an occurrence at the instant given is not the next one')
  t.equal(nextOccurrence(monday, 'Europe/London', new Date('2027-03-22T05:59:59.999Z')).toISOString(), '2027-03-22T06:00:00.000Z')
})

test('every day in New York, across the change, and the local day is the zone\'s', async (t) => {
  const daily = { every: 'day', at: '21:00' } as const
  // 21:00 EST is 02:00Z the next day; from 2027-03-14 on, 21:00 EDT is 01:00Z.
  t.same(occurrences(daily, 'America/New_York', '2027-03-13T03:00:00Z', 3),
    ['2027-03-14T02:00:00.000Z', '2027-03-15T01:00:00.000Z', '2027-03-16T01:00:00.000Z'])
  // Late in the local evening (already the next day in UTC) the same local day still counts.
  t.equal(nextOccurrence(daily, 'America/New_York', new Date('2027-06-02T00:30:00Z')).toISOString(), '2027-06-02T01:00:00.000Z')
})

test('times the clocks skip or repeat', async (t) => {
  // Berlin skips 02:00-03:00 on 2027-03-28: 02:30 moves on by the gap, to 03:30 CEST.
  t.equal(zoneInstant('2027-03-28', '02:30', 'Europe/Berlin').toISOString(), '2027-03-28T01:30:00.000Z')
  // and has 02:00-03:00 twice on 2027-10-31: the first, still CEST.
  t.equal(zoneInstant('2027-10-31', '02:30', 'Europe/Berlin').toISOString(), '2027-10-31T00:30:00.000Z')
  t.equal(zoneInstant('2027-11-07', '01:30', 'America/New_York').toISOString(), '2027-11-07T05:30:00.000Z')
  t.equal(zoneInstant('2027-03-14', '02:30', 'America/New_York').toISOString(), '2027-03-14T07:30:00.000Z')
  const nightly = { every: 'day', at: '02:30' } as const
  t.same(occurrences(nightly, 'Europe/Berlin', '2027-03-27T12:00:00Z', 3),
    ['2027-03-28T01:30:00.000Z', '2027-03-29T00:30:00.000Z', '2027-03-30T00:30:00.000Z'], 'a daily series goes on from the skipped day')
})

test('monthly days past a month\'s end fall on its last day; zones far from UTC', async (t) => {
  const monthEnd = { every: 'month', day: 31, at: '06:00' } as const
  t.same(occurrences(monthEnd, 'UTC', '2027-01-01T00:00:00Z', 4),
    ['2027-01-31T06:00:00.000Z', '2027-02-28T06:00:00.000Z', '2027-03-31T06:00:00.000Z', '2027-04-30T06:00:00.000Z'])
  t.equal(nextOccurrence(monthEnd, 'UTC', new Date('2028-02-01T00:00:00Z')).toISOString(), '2028-02-29T06:00:00.000Z', 'a leap year')
  // Auckland is 13 hours ahead in its summer: 06:00 on 28 February is 17:00Z the day before.
  t.equal(nextOccurrence(monthEnd, 'Pacific/Auckland', new Date('2027-02-01T00:00:00Z')).toISOString(), '2027-02-27T17:00:00.000Z')
  const first = { every: 'month', day: 1, at: '00:00' } as const
  t.equal(nextOccurrence(first, 'Pacific/Kiritimati', new Date('2027-06-30T09:59:00Z')).toISOString(), '2027-06-30T10:00:00.000Z', 'UTC+14')
  const sunday = { every: 'week', weekday: 'sunday', at: '23:30' } as const
  t.equal(nextOccurrence(sunday, 'Pacific/Pago_Pago', new Date('2027-06-07T00:00:00Z')).toISOString(), '2027-06-07T10:30:00.000Z', 'UTC-11')
})
