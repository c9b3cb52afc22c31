import { randomBytes } from 'node:crypto'
import { errors } from '../../lib/errors.ts'
import { createdBeyond, createdKey, createdKeyOf, createdOrder, createdPageRequest, CREATED_AT_MICROS, pageOf, type Page } from '../shared/cursors.ts'
import type { Db } from '../shared/transactions.ts'
import { managedBy, type Viewer } from '../shared/competition-access.ts'

// Invitations to private competitions. A private competition is seen and joined only by its
// creator, its participants, admins, and whoever holds a usable invite: not revoked, not
// expired, not used up. Joining with an invite uses it once, in the join's transaction.

export interface Invite {
  id: string
  code: string
  competitionId: string
  link: string | null
  createdBy: string | null
  createdAt: string
  expiresAt: string | null
  maxUses: number | null
  uses: number
  revokedAt: string | null
  usable: boolean
}

export type InviteManager = Viewer
export interface NewInvite { expiresAt?: string, maxUses?: number }

// 12 letters and digits without the look-alikes (I, O, 0, 1): 60 random bits, easy to type.
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'

function newCode (): string {
  const bytes = randomBytes(12)
  return Array.from(bytes, (b) => ALPHABET[b % 32]).join('')
}

const COLUMNS = 'i.id, i.code, i.competition_id, i.created_by, i.created_at, i.expires_at, i.max_uses, i.uses, i.revoked_at'

interface InviteState { id: string, revoked_at: Date | null, expires_at: Date | null, max_uses: number | null, uses: number }

// Why an invite cannot be used now, or null when it can: the one rule for seeing and joining.
function refusal (row: InviteState, now: Date): string | null {
  if (row.revoked_at !== null) return 'This invite was revoked'
  if (row.expires_at !== null && row.expires_at <= now) return 'This invite has expired'
  if (row.max_uses !== null && row.uses >= row.max_uses) return 'This invite has been used up'
  return null
}

export function createInvites ({ pool, clock = () => new Date(), linkBase = '' }: { pool: Db, clock?: () => Date, linkBase?: string }) {
  function toInvite (r: Record<string, any>): Invite {
    return {
      id: r.id,
      code: r.code,
      competitionId: r.competition_id,
      link: linkBase === '' ? null : `${linkBase.replace(/\/+$/, '')}/${r.code}`,
      createdBy: r.created_by,
      createdAt: (r.created_at as Date).toISOString(),
      expiresAt: r.expires_at === null ? null : (r.expires_at as Date).toISOString(),
      maxUses: r.max_uses,
      uses: r.uses,
      revokedAt: r.revoked_at === null ? null : (r.revoked_at as Date).toISOString(),
      usable: refusal(r as InviteState, clock()) === null
    }
  }

  // Invites are the creator's and admins' to hand out.
  async function checkManager (competitionId: string, manager: InviteManager): Promise<void> {
    const { rows } = await pool.query('SELECT created_by FROM competitions WHERE id = $1', [competitionId])
    if (rows.length === 0) throw errors.NotFound('Competition not found')
    if (!managedBy(rows[0]!.created_by, manager)) throw errors.Forbidden('Only the competition\'s creator and admins manage its invites')
  }

  async function create (competitionId: string, manager: InviteManager, input: NewInvite): Promise<Invite> {
    await checkManager(competitionId, manager)
    if (input.expiresAt !== undefined && new Date(input.expiresAt) <= clock()) throw errors.BadRequest('expiresAt must be in the future')
    const { rows } = await pool.query(`INSERT INTO competition_invites AS i (code, competition_id, created_by, expires_at, max_uses)
      VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`, [newCode(), competitionId, manager.id, input.expiresAt ?? null, input.maxUses ?? null])
    return toInvite(rows[0]!)
  }

  async function list (competitionId: string, manager: InviteManager, page: { cursor?: string, limit: number }): Promise<Page<Invite>> {
    await checkManager(competitionId, manager)
    const request = createdPageRequest(page.cursor)
    const { rows } = await pool.query(`SELECT ${COLUMNS}, ${CREATED_AT_MICROS} FROM competition_invites i
      WHERE competition_id = $1 AND ${createdBeyond(request, 2)} ORDER BY ${createdOrder(request)} LIMIT $4`,
    [competitionId, ...createdKey(request), page.limit + 1])
    const { rows: shown, nextCursor, prevCursor } = pageOf(rows, page.limit, request, createdKeyOf)
    return { items: shown.map(toInvite), nextCursor, prevCursor }
  }

  // Revoking twice keeps the first time.
  async function revoke (competitionId: string, code: string, manager: InviteManager): Promise<Invite> {
    await checkManager(competitionId, manager)
    const { rows } = await pool.query(`UPDATE competition_invites i SET revoked_at = COALESCE(revoked_at, now())
      WHERE competition_id = $1 AND code = $2 RETURNING ${COLUMNS}`, [competitionId, code.toUpperCase()])
    if (rows.length === 0) throw errors.NotFound('Invite not found')
    return toInvite(rows[0]!)
  }

  // The invite a code names for this competition (locked for a join: two joiners cannot both
  // take its last use).
  async function find (db: Db, competitionId: string, code: string, lock: boolean): Promise<InviteState | undefined> {
    const { rows } = await db.query<InviteState>(`SELECT id, revoked_at, expires_at, max_uses, uses FROM competition_invites
      WHERE competition_id = $1 AND code = $2${lock ? ' FOR UPDATE' : ''}`, [competitionId, code.toUpperCase()])
    return rows[0]
  }

  // Uses the invite once for a join, in the join's transaction; 403 naming why it cannot be.
  async function redeem (tx: Db, competitionId: string, code: string | undefined, now: Date): Promise<string> {
    if (code === undefined) throw errors.Forbidden('This competition is private: joining it needs an invite')
    const invite = await find(tx, competitionId, code, true)
    const why = invite === undefined ? 'This invite is not valid for this competition' : refusal(invite, now)
    if (why !== null) throw errors.Forbidden(why)
    await tx.query('UPDATE competition_invites SET uses = uses + 1 WHERE id = $1', [invite!.id])
    return invite!.id
  }

  // Whether a code lets its holder see the competition now (without using it).
  async function admits (competitionId: string, code: string): Promise<boolean> {
    const invite = await find(pool, competitionId, code, false)
    return invite !== undefined && refusal(invite, clock()) === null
  }

  return { create, list, revoke, redeem, admits }
}

export type InvitesService = ReturnType<typeof createInvites>
