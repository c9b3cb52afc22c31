import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import type { FastifyInstance } from 'fastify'
import { build } from '../helper.ts'
import { createCompetition, credit, signIn } from '../routes/competitions/fixtures.ts'
import { LEADERBOARD_TEST_CONFIG, leaderboard, listen, liveClient, updateScore } from '../routes/leaderboard/fixtures.ts'
import { HOUR, sample, sync } from '../routes/fitness/fixtures.ts'

// The business metrics beside the HTTP ones, read from /metrics as Prometheus scrapes them,
// each moved by the action it counts: score updates, syncs by source and outcome, samples,
// anti-cheat flags, leaderboard reads, WebSocket connections and frames, prize payouts, and
// the provider circuit breaker's state.

type Samples = Map<string, number>

// `name{a="1",b="2"} value` lines into a map keyed by name and sorted labels.
function parse (text: string): Samples {
  const out: Samples = new Map()
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m) continue
    const labels = (m[2] ?? '').match(/\w+="(?:[^"\\]|\\.)*"/g)?.sort().join(',') ?? ''
    out.set(`${m[1]}{${labels}}`, Number(m[3]))
  }
  return out
}

async function scrape (app: FastifyInstance): Promise<Samples> {
  const res = await app.inject({ url: '/metrics' })
  if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}`)
  return parse(res.body)
}

function value (samples: Samples, name: string, labels: Record<string, string> = {}): number {
  const key = `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).sort().join(',')}}`
  return samples.get(key) ?? 0
}

test('business metrics move with what they count', async (t) => {
  // A Google Fit that is down, so the breaker opens after one failure.
  const google = createServer((_req, res) => { res.writeHead(503, { 'content-type': 'application/json' }); res.end('{"error":{"code":503}}') })
  await new Promise<void>((resolve) => google.listen(0, '127.0.0.1', resolve))
  t.teardown(() => google.close())
  const app = await build(t, {
    config: {
      ...LEADERBOARD_TEST_CONFIG,
      MAX_EVENT_LOOP_DELAY_MS: 0,
      GOOGLE_FIT_BASE_URL: `http://127.0.0.1:${(google.address() as { port: number }).port}`,
      FITNESS_PROVIDER_RETRIES: 0,
      FITNESS_PROVIDER_BREAKER_THRESHOLD: 1,
      FITNESS_PROVIDER_TIMEOUT_MS: 2000
    }
  })
  const url = await listen(app)
  const before = await scrape(app)

  const boss = await signIn(app, { admin: true })
  const runner = await signIn(app)
  const rival = await signIn(app)
  for (const p of [runner, rival]) await credit(app, boss, p.id, 1000)

  // A custom competition: joins, score updates (applied and a duplicate), reads, live frames.
  const race = await createCompetition(app, boss, { metric: 'custom', entryFee: 100, prizeSplit: { type: 'percent', places: [100] } })
  for (const p of [runner, rival]) {
    t.equal((await app.inject({ method: 'POST', url: `/api/v1/competitions/${race.id}/join`, headers: p.headers, payload: {} })).statusCode, 200)
  }
  await app.lifecycle.sweep(new Date(Date.now() + 2 * HOUR))
  const client = await liveClient(url, race.id, { userId: runner.id })
  await client.next((f) => f.type === 'snapshot')
  const during = await scrape(app)
  t.equal(value(during, 'realtime_connections'), 1, 'one open WebSocket')

  const key = randomUUID()
  t.equal((await updateScore(app, { competitionId: race.id, userId: runner.id, value: 50 }, key)).statusCode, 200)
  t.equal((await updateScore(app, { competitionId: race.id, userId: runner.id, value: 50 }, key)).statusCode, 200)
  t.equal((await updateScore(app, { competitionId: race.id, userId: rival.id, value: 20 })).statusCode, 200)
  await client.next((f) => f.type === 'update' && f.entries.some((e: any) => e.userId === rival.id))
  t.equal((await leaderboard(app, race.id, runner.id)).statusCode, 200)
  await client.close()

  // A steps competition fed by syncs: accepted samples, and one that looks like cheating.
  const now = Date.now()
  const walk = await createCompetition(app, boss, { metric: 'steps' })
  await app.pg.query('UPDATE competitions SET starts_at = $2, status = \'active\' WHERE id = $1', [walk.id, new Date(now - 3 * HOUR)])
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/competitions/${walk.id}/join`, headers: runner.headers, payload: {} })).statusCode, 200)
  const ok = await sync(app, runner, { source: 'healthkit', samples: [sample({ start: now - 2 * HOUR, minutes: 10, value: 800 }), sample({ start: now - HOUR, minutes: 10, value: 900 })] })
  t.equal(ok.statusCode, 200)
  const cheat = await sync(app, runner, { source: 'health_connect', samples: [sample({ start: now - 30 * 60_000, minutes: 1, value: 5000 })] })
  t.equal(cheat.statusCode, 200)
  t.ok(cheat.json().flagged.length >= 1, 'the implausible sample is flagged')
  const invalid = await sync(app, runner, { source: 'healthkit', samples: [sample({ start: now + HOUR, value: 10 })] })
  t.equal(invalid.statusCode, 400, 'a sample in the future is refused')

  // A provider pull that fails: the breaker opens.
  const pull = await sync(app, runner, { provider: 'google_fit', accessToken: 'token-1' })
  t.ok([502, 503].includes(pull.statusCode), `the provider failure answers ${pull.statusCode}`)

  // The competition ends and its prize is paid.
  for (let i = 0; i < 2; i++) await app.inject({ method: 'POST', url: `/api/v1/competitions/${race.id}/end-early`, headers: boss.headers })
  const paid = await app.inject({ method: 'POST', url: `/api/v1/prizes/distribute/${race.id}`, headers: boss.headers })
  t.equal(paid.statusCode, 200, 'prizes paid')

  const after = await scrape(app)
  const delta = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels)
  t.equal(delta('leaderboard_score_updates_total', { result: 'applied' }) >= 2, true, 'score updates applied')
  t.equal(delta('leaderboard_score_updates_total', { result: 'duplicate' }), 1, 'the retried update counted as a duplicate')
  t.ok(delta('leaderboard_reads_total', { source: 'redis' }) >= 1, 'leaderboard reads by source')
  t.equal(delta('fitness_syncs_total', { source: 'healthkit', outcome: 'ok' }), 1, 'syncs by source and outcome')
  t.equal(delta('fitness_syncs_total', { source: 'health_connect', outcome: 'ok' }), 1)
  t.equal(delta('fitness_syncs_total', { source: 'healthkit', outcome: 'invalid' }), 1, 'refused syncs counted as invalid')
  t.equal(delta('fitness_samples_ingested_total', { source: 'healthkit', result: 'inserted' }), 2, 'samples ingested')
  t.ok(delta('fitness_flags_raised_total', { reason: 'steps_rate' }) >= 1, 'anti-cheat flags by reason')
  t.ok(delta('fitness_provider_requests_total', { provider: 'google_fit', outcome: 'retryable' }) +
    delta('fitness_provider_requests_total', { provider: 'google_fit', outcome: 'error' }) >= 1, 'provider calls by outcome')
  t.equal(value(after, 'fitness_provider_circuit_state', { provider: 'google_fit' }), 1, 'the circuit breaker is open (1)')
  t.equal(value(after, 'realtime_connections'), 0, 'the WebSocket closed')
  t.ok(delta('realtime_frames_sent_total', { type: 'snapshot' }) >= 1, 'snapshot frames sent')
  t.ok(delta('realtime_frames_sent_total', { type: 'update' }) >= 1, 'update frames sent')
  t.equal(delta('prize_payouts_total', { currency: 'USD' }), 1, 'one prize paid')
  t.equal(delta('prize_paid_minor_units_total', { currency: 'USD' }), 200, 'the whole pool paid out')
  t.ok(delta('http_request_duration_seconds_count', { method: 'POST', route: '/api/v1/leaderboard/update', status_code: '200' }) >= 3, 'HTTP metrics beside them')
})
