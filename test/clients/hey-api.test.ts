import t from 'tap'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { build, token } from '../helper.ts'
import { listen } from '../browser/chromium.ts'
import { RACE_CONFIG, startRace } from './race.ts'

// The second generated client (clients/hey-api/, @hey-api/openapi-ts) beside the
// openapi-typescript one: it compiles, names every operation, and works against the service.
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const run = promisify(execFile)

// Imported by path at run time: its types need the DOM library (clients/tsconfig.hey-api.json),
// which the project's own type check leaves out.
const SDK = new URL('../../clients/hey-api/sdk.gen.ts', import.meta.url).href
const EXAMPLE = new URL('../../clients/hey-api-example.ts', import.meta.url).href

t.test('the hey-api client compiles with its example', async (t) => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  const result = await run(process.execPath, [tsc, '-p', 'clients/tsconfig.hey-api.json'], { cwd: ROOT }).catch((err: { stdout: string, code: number }) => err)
  t.equal(result.stdout.trim(), '', 'no type errors')
})

t.test('the hey-api SDK has a function for every operationId', async (t) => {
  const document = JSON.parse(await readFile(new URL('../../clients/openapi.json', import.meta.url), 'utf8')) as { paths: Record<string, Record<string, { operationId?: string }>> }
  const sdk = await import(SDK) as Record<string, unknown>
  const ids = Object.values(document.paths).flatMap((item) => Object.values(item).map((op) => op.operationId))
  t.ok(ids.length > 60)
  for (const id of ids) t.type(sdk[id!], 'function', String(id))
})

t.test('the hey-api example joins a competition through the SDK, and reads an error code', async (t) => {
  const app = await build(t, { config: RACE_CONFIG })
  const baseUrl = await listen(app)
  const race = await startRace(baseUrl, { names: ['Ada'], metric: 'steps', name: 'Generated walk', startedMsAgo: 10_000 })
  const { joinWhenOpen } = await import(EXAMPLE) as { joinWhenOpen: (baseUrl: string, token: string, id: string) => Promise<unknown> }

  const newcomer = token({ sub: '0b7c6f2e-4d7e-4b8a-9c1d-2e3f4a5b6c7d' })
  t.match(await joinWhenOpen(baseUrl, newcomer, race.competitionId), { competitionId: race.competitionId, userId: '0b7c6f2e-4d7e-4b8a-9c1d-2e3f4a5b6c7d' }, 'a membership, typed Membership')

  const cancelled = await race.admin.POST('/api/v1/competitions/{id}/cancel', { params: { path: { id: race.competitionId } } })
  t.equal(cancelled.response.status, 200)
  t.equal(await joinWhenOpen(baseUrl, newcomer, race.competitionId), 'cancelled', 'a closed competition is told by its status')
  await t.rejects(joinWhenOpen(baseUrl, newcomer, '6f1c4b7e-2d3a-4c5b-8e9f-0a1b2c3d4e5f'), /NOT_FOUND/, 'an unknown competition: the 404 code, typed')
})
