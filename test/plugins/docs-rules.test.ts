import t from 'tap'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { build } from '../helper.ts'
import { START_SKEW_SECONDS } from '../../schemas/competitions.ts'
import { MAX_RECORD_SPAN_HOURS, SAMPLE_CLOCK_SKEW_MINUTES } from '../../schemas/fitness.ts'
import { SEQ_RULE } from '../../schemas/realtime.ts'
import { FITNESS_TEST_CONFIG, HOUR, insertCompetition, iso, join, participant, person, sample, sync } from '../routes/fitness/fixtures.ts'
import {
  eventually, LEADERBOARD_TEST_CONFIG, leaderboard, listen, liveClient, seedCompetition, seedParticipants, seedUsers, updateScore
} from '../routes/leaderboard/fixtures.ts'
import { inlineSchemaRefs } from '../openapi-refs.ts'

// The rules that lived only in code, said in the API document and the README with the numbers
// the code uses (the same constants), and each shown to be what the service does.

type Obj = Record<string, any>
const README = fileURLToPath(new URL('../../README.md', import.meta.url))
const MINUTE = 60_000
const DAY = 24 * HOUR

t.test('the document and the README state the rules with the numbers the code uses', async (t) => {
  const app = await build(t, { config: { PUBLIC_URL: '' } })
  const document = inlineSchemaRefs((await app.inject({ url: '/docs/json' })).json() as Obj)
  // Line breaks of the Markdown do not matter.
  const readme = (await readFile(README, 'utf8')).replace(/\s+/g, ' ')
  const sync = document.paths['/api/v1/fitness/sync'].post
  const create = document.paths['/api/v1/competitions'].post
  const record = sync.requestBody.content['application/json'].schema.properties.samples.items.properties

  const skew = `${SAMPLE_CLOCK_SKEW_MINUTES} minutes ahead`
  const span = `${MAX_RECORD_SPAN_HOURS} hours`
  const start = `${START_SKEW_SECONDS} s`
  t.match(sync.description, skew, 'sync: clock skew')
  t.match(sync.description, span, 'sync: longest record')
  t.match(sync.description, /clipped to the window/, 'sync: clipping to the competition window')
  t.match(sync.description, /spread\s+over the competition's local days/, 'sync: spreading over days')
  t.match(record.startTime.description, skew, 'startTime field')
  t.match(record.endTime.description, skew, 'endTime field')
  t.match(record.endTime.description, span, 'endTime field')
  t.match(create.description, start, 'create: startsAt allowance')
  t.match(create.requestBody.content['application/json'].schema.properties.startsAt.description, start, 'startsAt field')
  t.match(document.info.description, SEQ_RULE, 'the live feed\'s seq')

  t.match(readme, `may start up to ${SAMPLE_CLOCK_SKEW_MINUTES} minutes ahead`)
  t.match(readme, `may end up to ${SAMPLE_CLOCK_SKEW_MINUTES} minutes ahead`)
  t.match(readme, `spans at most ${MAX_RECORD_SPAN_HOURS} hours`)
  t.match(readme, `up to ${START_SKEW_SECONDS} s in the past`)
  t.match(readme, /clipped to the competition's window/)
  t.match(readme, /spread over the competition's local days/)
  t.match(readme, /the seq it sees may jump by more than one/)
  t.notMatch(readme + document.info.description, /increases? by one per frame(?! of the competition)/, 'no promise of consecutive seqs to a client')
})

t.test('the allowances are the ones the service applies', async (t) => {
  const app = await build(t, { config: { ...FITNESS_TEST_CONFIG, RATE_LIMIT_MAX: 100000 } })
  const ada = person()
  const admin = person({ admin: true })
  const ahead = (minutes: number) => sample({ start: Date.now() - 10 * MINUTE + minutes * MINUTE, minutes: 10, value: 100 })
  t.equal((await sync(app, ada, { source: 'healthkit', samples: [ahead(SAMPLE_CLOCK_SKEW_MINUTES - 1)] })).statusCode, 200, 'a sample ending just inside the skew')
  const late = await sync(app, ada, { source: 'healthkit', samples: [ahead(SAMPLE_CLOCK_SKEW_MINUTES + 1)] })
  t.equal(late.statusCode, 400)
  t.match(late.json(), { details: [{ field: 'body.samples.0.endTime' }] })
  const today = sample({ kind: 'daily_total', start: Date.now() - HOUR, minutes: 20 * 60, value: 5000 })
  t.equal((await sync(app, ada, { source: 'garmin', samples: [today] })).statusCode, 200, 'a daily total may end later')
  const long = (minutes: number) => sample({ start: Date.now() - 2 * DAY, minutes, value: 100 })
  t.equal((await sync(app, ada, { source: 'fitbit', samples: [long(MAX_RECORD_SPAN_HOURS * 60)] })).statusCode, 200)
  t.equal((await sync(app, ada, { source: 'fitbit', samples: [long(MAX_RECORD_SPAN_HOURS * 60 + 1)] })).statusCode, 400)

  const create = async (secondsAgo: number) => await app.inject({
    method: 'POST',
    url: '/api/v1/competitions',
    headers: admin.headers,
    payload: { name: 'Now', metric: 'steps', startsAt: iso(Date.now() - secondsAgo * 1000), endsAt: iso(Date.now() + DAY) }
  })
  t.equal((await create(START_SKEW_SECONDS - 10)).statusCode, 201, 'a start just inside the allowance')
  t.equal((await create(START_SKEW_SECONDS + 10)).statusCode, 400)
})

t.test('competition scores clip records to the window and spread them over its days', async (t) => {
  const app = await build(t, { config: FITNESS_TEST_CONFIG })
  const ada = person()
  const day = Math.floor(Date.now() / DAY) * DAY - 2 * DAY
  const competitionId = await insertCompetition(app, { startsAt: day, endsAt: day + 3 * DAY, timeZone: 'UTC' })
  await join(app, ada, competitionId)
  const res = await sync(app, ada, {
    source: 'healthkit',
    samples: [
      // A UTC+1 device's daily total: its first hour falls before the window.
      sample({ kind: 'daily_total', start: day - HOUR, minutes: 24 * 60, value: 2400, tzOffsetMinutes: 60 }),
      // A walk across midnight: half on each day.
      sample({ start: day + 23.5 * HOUR, minutes: 60, value: 600 })
    ]
  })
  t.equal(res.statusCode, 200, res.body)
  // Day 1: the daily total's 2,300 inside the window beats the walk's 300; day 2: the walk's 300.
  t.equal((await participant(app, competitionId, ada.id)).score, 2300 + 300)
})

t.test('a client\'s seq starts from the clock and jumps over frames that do not change its view', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const url = await listen(app)
  const before = Date.now()
  const competitionId = await seedCompetition(app)
  const [leader, other] = await seedUsers(app, 2)
  await seedParticipants(app, competitionId, [leader!, other!])
  await eventually(async () => (await leaderboard(app, competitionId, leader!)).body.degraded === false, 5000, 'projection ready')
  t.equal((await updateScore(app, { competitionId, userId: leader!, value: 100 })).statusCode, 200)

  const top1 = await liveClient(url, competitionId, { userId: leader!, query: '&limit=1' })
  const all = await liveClient(url, competitionId, { query: '&limit=100' })
  const snapshot = await top1.next((f) => f.type === 'snapshot')
  await all.next((f) => f.type === 'snapshot')
  t.ok(snapshot.seq >= before * 1000 && snapshot.seq < Date.now() * 1000 + 1000, `seq ${snapshot.seq as number} is the clock in ms times 1000, plus frames`)

  // Below the leader: a frame of the competition, nothing in the leader's view.
  t.equal((await updateScore(app, { competitionId, userId: other!, value: 50 })).statusCode, 200)
  const unseen = await all.next((f) => f.type === 'update' && f.entries.some((e: Obj) => e.userId === other && e.score === 50))
  t.equal((await updateScore(app, { competitionId, userId: leader!, value: 200 })).statusCode, 200)
  const seen = await top1.next((f) => f.type === 'update')
  t.ok(unseen.seq > snapshot.seq && seen.seq > unseen.seq, 'one counter for the competition')
  t.same(top1.frames.filter((f) => f.type !== 'snapshot').map((f) => f.seq), [seen.seq], 'the top-1 client skipped the frame it had no part in')
  await top1.close()
  await all.close()
})
