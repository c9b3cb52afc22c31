import { test } from 'tap'
import { rateLimitWaitMs } from '../../../services/providers/cloud/http.ts'

test('a 429 waits as each provider says', async (t) => {
  const now = Date.parse('2026-12-05T10:07:30.000Z')
  t.equal(rateLimitWaitMs(new Headers({ 'retry-after': '12' }), now), 12_000, 'Retry-After first')
  t.equal(rateLimitWaitMs(new Headers({ 'fitbit-rate-limit-remaining': '0', 'fitbit-rate-limit-reset': '1500' }), now), 1_500_000, 'Fitbit: seconds to its window\'s reset')
  t.equal(rateLimitWaitMs(new Headers({ 'x-ratelimit-limit': '200,2000', 'x-ratelimit-usage': '200,310' }), now), 450_000, 'Strava: to the next quarter hour')
  t.equal(rateLimitWaitMs(new Headers({}), now), undefined)
})
