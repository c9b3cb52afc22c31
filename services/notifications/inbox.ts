import { errors } from '../../lib/errors.ts'
import { CREATED_AT_MICROS, createdBeyond, createdKey, createdKeyOf, createdOrder, createdPageRequest, type Page, pageOf } from '../shared/cursors.ts'
import type { Db } from '../shared/transactions.ts'
import type { NotificationView } from '../../schemas/notifications.ts'
import { render, type Params, type TemplateName } from './templates.ts'
import type { Category } from './categories.ts'

// The in-app inbox: every notification, whichever channels it went out on, newest first, with
// its delivery log; rendered when read, in the reader's current locale and units.

interface NotificationRow {
  id: string
  user_id: string
  category: Category
  template: TemplateName
  params: Params
  competition_id: string | null
  created_at: Date
  created_at_us: string
  read_at: Date | null
  locale: string
  time_zone: string
  units: 'metric' | 'imperial'
  deliveries: Array<{ channel: string, status: string, reason: string | null, send_after: string, updated_at: string }>
}

// The notifications `chosen` picks (a query on notifications alone, whose columns it names
// unqualified), with what rendering needs, in `order`.
function renderable (chosen: string, order: string): string {
  return `SELECT n.*, u.locale, u.time_zone, u.units,
      COALESCE((SELECT jsonb_agg(jsonb_build_object('channel', d.channel, 'status', d.status, 'reason', d.reason,
        'send_after', d.send_after, 'updated_at', d.updated_at) ORDER BY d.channel)
        FROM notification_deliveries d WHERE d.notification_id = n.id), '[]') AS deliveries
    FROM (SELECT id, user_id, category, template, params, competition_id, created_at, read_at, ${CREATED_AT_MICROS}
      FROM notifications ${chosen}) n
    JOIN users u ON u.id = n.user_id
    ORDER BY ${order}`
}

function toView (r: NotificationRow): NotificationView {
  const { title, body } = render(r.template, r.params, { locale: r.locale, timeZone: r.time_zone, units: r.units })
  return {
    id: r.id,
    category: r.category,
    template: r.template,
    title,
    body,
    competitionId: r.competition_id,
    createdAt: r.created_at.toISOString(),
    readAt: r.read_at?.toISOString() ?? null,
    deliveries: r.deliveries.map((d) => ({
      channel: d.channel as NotificationView['deliveries'][number]['channel'],
      status: d.status as NotificationView['deliveries'][number]['status'],
      reason: d.reason,
      sendAfter: new Date(d.send_after).toISOString(),
      updatedAt: new Date(d.updated_at).toISOString()
    }))
  }
}

export function createInbox ({ db }: { db: Db }) {
  return {
    async list (userId: string, query: { cursor?: string, limit: number, unread?: boolean }): Promise<Page<NotificationView>> {
      const request = createdPageRequest(query.cursor)
      const { rows } = await db.query<NotificationRow>(renderable(`WHERE user_id = $1 AND ($4::boolean IS NOT TRUE OR read_at IS NULL)
        AND ${createdBeyond(request, 2)} ORDER BY ${createdOrder(request)} LIMIT $5`, createdOrder(request, 'n.')),
      [userId, ...createdKey(request), query.unread ?? false, query.limit + 1])
      const { rows: shown, nextCursor, prevCursor } = pageOf(rows, query.limit, request, createdKeyOf)
      return { items: shown.map(toView), nextCursor, prevCursor }
    },

    async unreadCount (userId: string): Promise<number> {
      const { rows } = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM notifications WHERE user_id = $1 AND read_at IS NULL', [userId])
      return Number(rows[0]!.n)
    },

    // Reading twice keeps the first time.
    async markRead (userId: string, id: string): Promise<NotificationView> {
      const { rowCount } = await db.query('UPDATE notifications SET read_at = COALESCE(read_at, now()) WHERE id = $1 AND user_id = $2', [id, userId])
      if (rowCount === 0) throw errors.NotFound('Notification not found')
      const [view] = await this.views([id])
      return view!
    },

    async markAllRead (userId: string): Promise<number> {
      const { rowCount } = await db.query('UPDATE notifications SET read_at = now() WHERE user_id = $1 AND read_at IS NULL', [userId])
      return rowCount ?? 0
    },

    // Notifications by id, rendered for their users (the WebSocket channel).
    async views (ids: string[]): Promise<Array<NotificationView & { userId: string }>> {
      if (ids.length === 0) return []
      const { rows } = await db.query<NotificationRow>(renderable('WHERE id = ANY($1)', 'n.created_at, n.id'), [ids])
      return rows.map((r) => ({ ...toView(r), userId: r.user_id }))
    }
  }
}

export type Inbox = ReturnType<typeof createInbox>
