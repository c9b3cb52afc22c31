import { test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build } from '../../helper.ts'
import { createCompetition, signIn, TEST_CONFIG, type Person } from './fixtures.ts'

// Conditional reads and pages both ways for competitions and profiles, through the API.

async function get (app: FastifyInstance, who: Person, url: string, etag?: string) {
  return await app.inject({ url, headers: { ...who.headers, ...(etag === undefined ? {} : { 'if-none-match': etag }) } })
}

async function walk (app: FastifyInstance, who: Person, start: string, direction: 'next' | 'prev') {
  const ids: string[] = []
  let url = start
  for (let pages = 0; pages < 20; pages++) {
    const page = (await get(app, who, url)).json()
    const pageIds = page.items.map((c: { id: string }) => c.id)
    if (direction === 'next') ids.push(...pageIds)
    else ids.unshift(...pageIds)
    const cursor = page[`${direction}Cursor`] as string | null
    if (cursor === null) return { ids, page }
    url = `/api/v1/competitions?limit=5&cursor=${cursor}`
  }
  throw new Error('the walk did not end')
}

test('the competition list walks both ways; its pages answer 304 until a competition on them changes', async (t) => {
  const app = await build(t, { config: { ...TEST_CONFIG, RATE_LIMIT_MAX: 100000 } })
  const admin = await signIn(app, { admin: true })
  const runner = await signIn(app)
  const created: string[] = []
  for (let i = 0; i < 12; i++) created.unshift((await createCompetition(app, admin, { name: `Race ${i}` })).id)

  const forward = await walk(app, runner, '/api/v1/competitions?limit=5', 'next')
  t.same(forward.ids, created, 'newest first, each once')
  t.equal(forward.page.items.length, 2)
  const backward = await walk(app, runner, `/api/v1/competitions?limit=5&cursor=${forward.page.prevCursor}`, 'prev')
  t.same([...backward.ids, ...forward.page.items.map((c: { id: string }) => c.id)], created, 'backward: the same competitions in the same order')
  t.equal(backward.page.prevCursor, null, 'the first page has no previous page')

  const first = await get(app, runner, '/api/v1/competitions?limit=5')
  const etag = first.headers.etag as string
  t.ok(etag, 'a list page has an ETag')
  t.equal(first.headers['cache-control'], 'private, no-cache')
  t.equal((await get(app, runner, '/api/v1/competitions?limit=5', etag)).statusCode, 304)
  t.not((await get(app, admin, '/api/v1/competitions?limit=5')).headers.etag, etag, 'another caller may see other private competitions')

  // Joining changes a competition on the first page: its row version, so the page's.
  const join = await app.inject({ method: 'POST', url: `/api/v1/competitions/${created[1]}/join`, headers: runner.headers })
  t.equal(join.statusCode, 200)
  const after = await get(app, runner, '/api/v1/competitions?limit=5', etag)
  t.equal(after.statusCode, 200)
  t.equal(after.json().items[1].participantCount, 1)
  // A competition on another page does not touch this one.
  const now = after.headers.etag as string
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/competitions/${created[11]}/join`, headers: runner.headers })).statusCode, 200)
  t.equal((await get(app, runner, '/api/v1/competitions?limit=5', now)).statusCode, 304)
})

test('competition details and profiles: 304 with the version held, 200 after a change', async (t) => {
  const app = await build(t, { config: { ...TEST_CONFIG, RATE_LIMIT_MAX: 100000 } })
  const admin = await signIn(app, { admin: true })
  const runner = await signIn(app)
  const competition = await createCompetition(app, admin)
  const url = `/api/v1/competitions/${competition.id}`

  const details = await get(app, runner, url)
  const etag = details.headers.etag as string
  t.match(etag, /^"competition\.[0-9]+\.1"$/, 'the row version and whether it is joinable')
  t.equal((await get(app, runner, url, etag)).statusCode, 304)
  t.equal((await get(app, admin, url, etag)).statusCode, 304, 'details are the same for everyone')
  t.equal((await app.inject({ method: 'POST', url: `${url}/join`, headers: runner.headers })).statusCode, 200)
  const joined = await get(app, runner, url, etag)
  t.equal(joined.statusCode, 200)
  t.equal(joined.json().participantCount, 1)
  t.equal((await get(app, runner, url, joined.headers.etag as string)).statusCode, 304)
  t.equal((await get(app, runner, url, '*')).statusCode, 304, 'If-None-Match: * matches any version')

  const profileUrl = `/api/v1/users/${runner.id}/profile`
  const own = await get(app, runner, profileUrl)
  const ownTag = own.headers.etag as string
  t.equal((await get(app, runner, profileUrl, ownTag)).statusCode, 304)
  const seen = await get(app, admin, profileUrl, ownTag)
  t.equal(seen.statusCode, 304, 'an admin sees the whole profile too')
  const other = await signIn(app)
  const publicView = await get(app, other, profileUrl, ownTag)
  t.equal(publicView.statusCode, 200, 'the public part is another representation')
  t.equal((await get(app, other, profileUrl, publicView.headers.etag as string)).statusCode, 304)

  // Two changes in quick succession each give a new version (microseconds, not milliseconds).
  const tags = new Set([ownTag])
  for (const bio of ['first', 'second', 'third']) {
    const put = await app.inject({ method: 'PUT', url: profileUrl, headers: runner.headers, payload: { bio } })
    t.equal(put.statusCode, 200)
    const read = await get(app, runner, profileUrl, [...tags].join(', '))
    t.equal(read.statusCode, 200, `after "${bio}" the held versions are stale`)
    t.equal(read.json().bio, bio)
    tags.add(read.headers.etag as string)
  }
  t.equal(tags.size, 4)
})
