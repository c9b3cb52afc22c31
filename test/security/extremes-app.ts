// The application for extremes.test.ts, run in a worker thread: a request that loops without
// end blocks this thread only, so the test's own thread can still time it out, name it and
// stop the worker (a loop inside the test's thread would hang it or abort the whole process).
// Protocol: the worker posts { type: 'ready', routes, people, ids } once, then answers each
// { id, method, url, headers, payload } with { id, statusCode, bytes, elapsedMs, body }.
import { parentPort, workerData } from 'node:worker_threads'
import { performance } from 'node:perf_hooks'
import { buildWithRoutes } from '../route-table.ts'
import { startGoogleFitFake } from '../routes/fitness/google-fit-fake.ts'
import { startFakeStripe } from '../fakes/stripe.ts'
import { createCompetition, signIn } from '../routes/competitions/fixtures.ts'
import { ADMIN_ID, admin, seedCompetition, seedParticipants } from '../routes/leaderboard/fixtures.ts'

export interface AppRequest { id: number, method: string, url: string, headers: Record<string, string>, payload?: string }
export interface AppReply { id: number, statusCode: number, bytes: number, elapsedMs: number, body: string }

const closers: Array<() => unknown> = []
const t = { teardown: (fn: () => unknown) => { closers.push(fn) }, comment: () => {} }
const { databaseUrl, redisPrefix, googleToken, config } = workerData as { databaseUrl: string, redisPrefix: string, googleToken: string, config: Record<string, unknown> }
const port = parentPort!

// The Google Fit stand-in runs here too: a range it cannot handle must not block the test's thread.
const google = await startGoogleFitFake({ token: googleToken })
closers.push(google.close)
const stripe = await startFakeStripe()
closers.push(stripe.close)
const { app, routes } = await buildWithRoutes(t, {
  databaseUrl,
  redisPrefix,
  config: { ...config, GOOGLE_FIT_BASE_URL: google.baseUrl, STRIPE_SECRET_KEY: stripe.secretKey, STRIPE_WEBHOOK_SECRET: stripe.webhookSecret, STRIPE_API_URL: stripe.url }
})
const self = await signIn(app)
const other = await signIn(app)
// An active competition with the caller in it, so score updates and leaderboards reach their rules.
const active = await seedCompetition(app)
const scheduled = await createCompetition(app, { id: ADMIN_ID, headers: admin })
await seedParticipants(app, active, [self.id, other.id])

port.postMessage({
  type: 'ready',
  // Plain JSON: route schemas as the OpenAPI document sees them.
  routes: JSON.parse(JSON.stringify(routes.map(({ method, url, key, websocket, schema }) => ({ method, url, key, websocket, schema })))),
  people: { self, admin: { id: ADMIN_ID, headers: admin } },
  ids: { scheduled: scheduled.id as string, active }
})

port.on('message', (message: AppRequest | { type: 'close' }) => {
  if ('type' in message) {
    Promise.all(closers.reverse().map(async (close) => await close())).finally(() => port.close())
    return
  }
  const started = performance.now()
  app.inject({ method: message.method as 'GET', url: message.url, headers: message.headers, ...(message.payload === undefined ? {} : { payload: message.payload }) })
    .then((res) => {
      const reply: AppReply = { id: message.id, statusCode: res.statusCode, bytes: res.rawPayload.length, elapsedMs: performance.now() - started, body: res.body.slice(0, 300) }
      port.postMessage(reply)
    })
    .catch((err: Error) => port.postMessage({ id: message.id, statusCode: 0, bytes: 0, elapsedMs: performance.now() - started, body: String(err) }))
})
