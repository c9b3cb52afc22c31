import { test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build } from '../../helper.ts'
import { createCompetition, signIn, TEST_CONFIG, type Person } from './fixtures.ts'

// Private competitions are for those invited: joining needs a usable invite (not revoked, not
// expired, not used up), except for the creator and admins; non-members without one do not see it.

const CONFIG = { ...TEST_CONFIG, RATE_LIMIT_MAX: 100000, COMPETITION_CREATORS: 'users' as const, INVITE_LINK_BASE: 'https://app.example.com/invite' }

async function invite (app: FastifyInstance, who: Person, competitionId: string, body: Record<string, unknown> | null = null) {
  return await app.inject({ method: 'POST', url: `/api/v1/competitions/${competitionId}/invites`, headers: who.headers, ...(body === null ? {} : { payload: body }) })
}

async function join (app: FastifyInstance, who: Person, competitionId: string, inviteCode?: string) {
  return await app.inject({ method: 'POST', url: `/api/v1/competitions/${competitionId}/join`, headers: who.headers, ...(inviteCode === undefined ? {} : { payload: { inviteCode } }) })
}

test('joining a private competition: without, with a revoked, an expired, a used-up and a valid invite', async (t) => {
  const app = await build(t, { config: CONFIG })
  const creator = await signIn(app)
  const [ada, bob, cy, dee] = [await signIn(app), await signIn(app), await signIn(app), await signIn(app)]
  const admin = await signIn(app, { admin: true })
  const competition = await createCompetition(app, creator, { visibility: 'private', name: 'Friends only' })
  const id = competition.id as string

  const without = await join(app, ada, id)
  t.equal(without.statusCode, 403)
  t.match(without.json(), { code: 'FORBIDDEN', message: /needs an invite/ })
  t.equal((await join(app, ada, id, 'ABCDEFGHJKLM')).json().message, 'This invite is not valid for this competition')

  const created = await invite(app, creator, id, { maxUses: 2 })
  t.equal(created.statusCode, 201)
  const valid = created.json()
  t.match(valid, { competitionId: id, maxUses: 2, uses: 0, usable: true, revokedAt: null, expiresAt: null })
  t.match(valid.code, /^[A-HJ-NP-Z2-9]{12}$/)
  t.equal(valid.link, `https://app.example.com/invite/${valid.code}`)

  // Another competition's invite does not open this one.
  const elsewhere = await createCompetition(app, creator, { visibility: 'private' })
  const foreign = (await invite(app, creator, elsewhere.id)).json()
  t.equal((await join(app, ada, id, foreign.code)).statusCode, 403)

  const revoked = (await invite(app, creator, id)).json()
  const revoke = await app.inject({ method: 'DELETE', url: `/api/v1/competitions/${id}/invites/${revoked.code}`, headers: creator.headers })
  t.equal(revoke.statusCode, 200)
  t.match(revoke.json(), { usable: false, revokedAt: /Z$/ })
  t.match((await join(app, ada, id, revoked.code)).json(), { statusCode: 403, message: 'This invite was revoked' })

  const expiring = (await invite(app, creator, id, { expiresAt: new Date(Date.now() + 60_000).toISOString() })).json()
  await app.pg.query('UPDATE competition_invites SET expires_at = now() - interval \'1 second\' WHERE code = $1', [expiring.code])
  t.match((await join(app, ada, id, expiring.code)).json(), { statusCode: 403, message: 'This invite has expired' })
  t.equal((await invite(app, creator, id, { expiresAt: new Date(Date.now() - 60_000).toISOString() })).statusCode, 400, 'an invite cannot be born expired')

  // A valid invite, in any case of letters, admits maxUses joins; joining again uses nothing.
  t.equal((await join(app, ada, id, valid.code.toLowerCase())).statusCode, 200)
  t.equal((await join(app, ada, id, valid.code)).statusCode, 200, 'joining again returns the membership')
  t.equal((await join(app, bob, id, valid.code)).statusCode, 200)
  t.match((await join(app, cy, id, valid.code)).json(), { statusCode: 403, message: 'This invite has been used up' })
  const { rows: [used] } = await app.pg.query('SELECT uses FROM competition_invites WHERE code = $1', [valid.code])
  t.equal(used.uses, 2)
  const { rows: members } = await app.pg.query('SELECT p.user_id, i.code FROM participants p LEFT JOIN competition_invites i ON i.id = p.invite_id WHERE p.competition_id = $1 ORDER BY p.joined_at', [id])
  t.same(members.map((m) => m.code), [valid.code, valid.code], 'each member is recorded with the invite that let them in')
  const { rows: [count] } = await app.pg.query('SELECT participant_count FROM competitions WHERE id = $1', [id])
  t.equal(count.participant_count, 2, 'refused joins changed nothing')

  // The creator and admins need no invite.
  t.equal((await join(app, creator, id)).statusCode, 200, 'the creator joins without one')
  t.equal((await join(app, admin, id)).statusCode, 200, 'an admin joins without one')
  const forDee = await app.inject({ method: 'POST', url: `/api/v1/competitions/${id}/join`, headers: admin.headers, payload: { userId: dee.id } })
  t.equal(forDee.statusCode, 200, 'an admin may add someone without one')

  // A public competition needs none.
  const open = await createCompetition(app, creator)
  t.equal((await join(app, cy, open.id)).statusCode, 200)
})

test('what a non-member sees of a private competition, and who manages its invites', async (t) => {
  const app = await build(t, { config: CONFIG })
  const creator = await signIn(app)
  const [member, outsider] = [await signIn(app), await signIn(app)]
  const admin = await signIn(app, { admin: true })
  const competition = await createCompetition(app, creator, { visibility: 'private' })
  const id = competition.id as string
  const code = (await invite(app, creator, id)).json().code as string
  t.equal((await join(app, member, id, code)).statusCode, 200)

  const details = async (who: Person, query = '') => (await app.inject({ url: `/api/v1/competitions/${id}${query}`, headers: who.headers })).statusCode
  t.equal(await details(creator), 200)
  t.equal(await details(member), 200)
  t.equal(await details(admin), 200)
  t.equal(await details(outsider), 404, 'a non-member without an invite: as if it did not exist')
  t.equal(await details(outsider, `?invite=${code}`), 200, 'with a usable invite: the details, to decide')
  t.equal((await app.inject({ url: `/api/v1/leaderboard/${id}`, headers: outsider.headers })).statusCode, 404)
  const listed = (await app.inject({ url: '/api/v1/competitions', headers: outsider.headers })).json()
  t.notOk(listed.items.some((c: { id: string }) => c.id === id), 'not listed for outsiders')
  await app.inject({ method: 'DELETE', url: `/api/v1/competitions/${id}/invites/${code}`, headers: creator.headers })
  t.equal(await details(outsider, `?invite=${code}`), 404, 'a revoked invite shows nothing')

  // Only the creator and admins make, list and revoke invites.
  t.equal((await invite(app, member, id)).statusCode, 403)
  t.equal((await invite(app, admin, id)).statusCode, 201)
  t.equal((await app.inject({ url: `/api/v1/competitions/${id}/invites`, headers: outsider.headers })).statusCode, 403)
  const page = (await app.inject({ url: `/api/v1/competitions/${id}/invites?limit=1`, headers: creator.headers })).json()
  t.equal(page.items.length, 1)
  t.ok(page.nextCursor)
  const second = (await app.inject({ url: `/api/v1/competitions/${id}/invites?limit=1&cursor=${page.nextCursor}`, headers: creator.headers })).json()
  t.same(second.items.map((i: { code: string }) => i.code), [code], 'newest first: the revoked one is older')
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/competitions/${id}/invites/ABCDEFGHJKLM`, headers: creator.headers })).statusCode, 404)
  t.equal((await invite(app, creator, '6f1c4b7e-2d3a-4c5b-8e9f-0a1b2c3d4e5f')).statusCode, 404)
  t.equal((await invite(app, creator, id, { maxUses: 0 })).statusCode, 400)
  t.equal((await invite(app, creator, id, { uses: 5 })).statusCode, 400, 'an unknown field is refused')
})
