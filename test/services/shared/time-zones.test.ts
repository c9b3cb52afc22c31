import { test } from 'tap'
import { addDays, daysBetween, localDay } from '../../../services/shared/time-zones.ts'

// Day strings keep their whole year, so stepping a day at a time always moves, even past the
// four-digit years the schemas allow (a truncated '+010000-01' or '-000001-12' never did).
test('days step across the ends of the four-digit years', async (t) => {
  t.equal(addDays('9999-12-31', 1), '+010000-01-01')
  t.equal(addDays('+010000-01-01', 1), '+010000-01-02')
  t.equal(addDays('0000-01-01', -1), '-000001-12-31')
  t.equal(addDays('-000001-12-31', -1), '-000001-12-30')
  t.equal(localDay(new Date(Date.UTC(10000, 0, 1, 23)), 120), '+010000-01-02')
  t.equal(daysBetween('9999-12-31', addDays('9999-12-31', 40)), 40)
  t.equal(addDays('2024-02-28', 1), '2024-02-29')
})
