import type { Db, Transact } from '../shared/transactions.ts'
import type { JobQueue } from '../shared/jobs.ts'
import type { ExpoSender, OutgoingEmail, OutgoingPush, OutgoingSms, SendResult, Sender } from './channels/types.ts'
import { isRoutine, type Category, type Channel } from './categories.ts'
import { enqueueSends, type SendJob } from './create.ts'
import { render, type Params, type TemplateName } from './templates.ts'
import type { SendRate } from './send-rate.ts'

// Sends a batch of queued deliveries of one channel and writes what became of each. A delivery
// is claimed (queued -> sending) in its own commit before the provider is called, so a second
// run never sends it again: one found still `sending` was cut off mid-call by a crash, and
// since nobody can tell whether it went out, it is failed rather than sent twice.

export const RECEIPTS_QUEUE = 'notifications.push-receipts'

export interface Senders {
  fcm?: Sender<OutgoingPush>
  expo?: ExpoSender
  email?: Sender<OutgoingEmail>
  sms?: Sender<OutgoingSms>
}

export interface DispatchMetrics {
  deliveries: { inc: (labels: { channel: string, provider: string, outcome: string }, value?: number) => void }
}

export interface DispatchDeps {
  transact: Transact
  db: Db
  jobs: Pick<JobQueue, 'sendMany' | 'send'>
  senders: Senders
  metrics: DispatchMetrics
  log: { warn: (obj: object, msg: string) => void }
  // Sends of one delivery before it is failed for good.
  maxAttempts: number
  // Delay before a retry of a delivery's nth attempt: exponential from this, at most an hour.
  retryBaseSeconds?: number
  // When to look for Expo's receipts (it reports uninstalled apps there).
  receiptDelaySeconds?: number
  // Waits until this instance may hand that many more messages to providers.
  rate?: SendRate
}

// Messages handed to a provider between two looks at the send rate.
const RATE_SLICE = 100

interface ContentRow {
  id: string
  user_id: string
  category: Category
  template: TemplateName
  params: Params
  locale: string
  time_zone: string
  units: 'metric' | 'imperial'
  email: string | null
  phone_number: string | null
  attempts: number
}

interface DeviceRow { id: string, user_id: string, provider: 'fcm' | 'expo', token: string }

// What became of one delivery.
type Outcome =
  | { status: 'sent', provider: string, providerIds: string[] }
  | { status: 'failed', provider: string | null, reason: string }
  | { status: 'retry', provider: string | null, reason: string, afterSeconds: number }

interface Sent {
  outcomes: Map<string, Outcome>
  unregistered: string[]
  tickets: Array<{ id: string, token: string }>
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

export function createDispatcher (deps: DispatchDeps) {
  const { transact, db, jobs, senders, metrics, log, maxAttempts } = deps
  const retryBase = deps.retryBaseSeconds ?? 5

  // Claims the job's deliveries that are due; ones left `sending` by a crashed run are failed.
  async function claim (job: SendJob): Promise<ContentRow[]> {
    return await transact(async (tx) => {
      await tx.query(`UPDATE notification_deliveries SET status = 'failed', reason = 'interrupted', updated_at = now()
        WHERE notification_id = ANY($1) AND channel = $2 AND status = 'sending'`, [job.ids, job.channel])
      const { rows } = await tx.query<ContentRow>(`WITH claimed AS (
          UPDATE notification_deliveries SET status = 'sending', attempts = attempts + 1, updated_at = now()
          WHERE notification_id = ANY($1) AND channel = $2 AND status = 'queued' AND send_after <= now() + interval '5 seconds'
          RETURNING notification_id, attempts)
        SELECT n.id, n.user_id, n.category, n.template, n.params, u.locale, u.time_zone, u.units, u.email, u.phone_number, c.attempts
        FROM claimed c JOIN notifications n ON n.id = c.notification_id JOIN users u ON u.id = n.user_id`, [job.ids, job.channel])
      return rows
    })
  }

  function content (row: ContentRow) {
    return render(row.template, row.params, { locale: row.locale, timeZone: row.time_zone, units: row.units })
  }

  // Sends in the sender's batch size; a batch whose fate is unknown (the sender threw) is retried.
  async function sendAll<M extends { key: string }> (sender: Sender<M>, messages: M[]): Promise<Map<string, SendResult>> {
    const results = new Map<string, SendResult>()
    const slice = Math.min(sender.maxBatch, RATE_SLICE)
    for (let i = 0; i < messages.length; i += slice) {
      const batch = messages.slice(i, i + slice)
      await deps.rate?.(batch.length)
      try {
        for (const result of await sender.send(batch)) results.set(result.key, result)
      } catch (err) {
        log.warn({ err, provider: sender.provider }, 'notification provider call failed; the batch is retried')
        for (const m of batch) results.set(m.key, { key: m.key, outcome: 'failed', reason: 'provider_unreachable', retryable: true })
      }
    }
    return results
  }

  function fromResult (provider: string, result: SendResult | undefined): Outcome {
    if (result === undefined) return { status: 'retry', provider, reason: 'no_answer', afterSeconds: 0 }
    if (result.outcome === 'sent') return { status: 'sent', provider, providerIds: result.providerId === null ? [] : [result.providerId] }
    return result.retryable
      ? { status: 'retry', provider, reason: result.reason, afterSeconds: result.retryAfterSeconds ?? 0 }
      : { status: 'failed', provider, reason: result.reason }
  }

  async function sendPush (rows: ContentRow[]): Promise<Sent> {
    const { rows: devices } = await db.query<DeviceRow>('SELECT id, user_id, provider, token FROM push_devices WHERE user_id = ANY($1)',
      [[...new Set(rows.map((r) => r.user_id))]])
    const byUser = Map.groupBy(devices, (d) => d.user_id)
    const messages: Record<'fcm' | 'expo', Array<OutgoingPush & { notificationId: string }>> = { fcm: [], expo: [] }
    for (const row of rows) {
      const { title, body } = content(row)
      for (const device of byUser.get(row.user_id) ?? []) {
        messages[device.provider].push({
          key: `${row.id}|${device.token}`,
          notificationId: row.id,
          token: device.token,
          title,
          body,
          data: { notificationId: row.id, template: row.template, category: row.category },
          priority: isRoutine(row.category) ? 'normal' : 'high'
        })
      }
    }
    // Per notification: sent if any device took it; else retried if any may take it later.
    const perDevice = new Map<string, Outcome[]>()
    const unregistered: string[] = []
    const tickets: Array<{ id: string, token: string }> = []
    for (const provider of ['fcm', 'expo'] as const) {
      if (messages[provider].length === 0) continue
      const sender = senders[provider]
      const results = sender === undefined ? null : await sendAll(sender, messages[provider])
      for (const m of messages[provider]) {
        const result = results?.get(m.key)
        const outcome = results === null ? { status: 'failed' as const, provider, reason: 'provider_not_configured' } : fromResult(provider, result)
        if (result?.outcome === 'failed' && result.unregistered === true) unregistered.push(m.token)
        if (provider === 'expo' && result?.outcome === 'sent' && result.providerId !== null) tickets.push({ id: result.providerId, token: m.token })
        perDevice.set(m.notificationId, [...perDevice.get(m.notificationId) ?? [], outcome])
      }
    }
    const outcomes = new Map<string, Outcome>()
    for (const row of rows) {
      const all = perDevice.get(row.id) ?? []
      const sent = all.filter((o) => o.status === 'sent')
      const retry = all.find((o) => o.status === 'retry')
      outcomes.set(row.id, sent.length > 0
        ? { status: 'sent', provider: sent.map((o) => o.provider).join(','), providerIds: sent.flatMap((o) => o.providerIds) }
        : retry ?? all[0] ?? { status: 'failed', provider: null, reason: 'no_devices' })
    }
    return { outcomes, unregistered, tickets }
  }

  async function sendTo<M extends { key: string }> (rows: ContentRow[], sender: Sender<M> | undefined,
    message: (row: ContentRow) => M | null): Promise<Sent> {
    const outcomes = new Map<string, Outcome>()
    const messages: M[] = []
    for (const row of rows) {
      const m = message(row)
      if (m === null) outcomes.set(row.id, { status: 'failed', provider: sender?.provider ?? null, reason: 'no_address' })
      else messages.push(m)
    }
    if (sender === undefined) {
      for (const m of messages) outcomes.set(m.key, { status: 'failed', provider: null, reason: 'provider_not_configured' })
      return { outcomes, unregistered: [], tickets: [] }
    }
    const results = await sendAll(sender, messages)
    for (const m of messages) outcomes.set(m.key, fromResult(sender.provider, results.get(m.key)))
    return { outcomes, unregistered: [], tickets: [] }
  }

  async function send (channel: Channel, rows: ContentRow[]): Promise<Sent> {
    switch (channel) {
      case 'push': return await sendPush(rows)
      case 'email': return await sendTo(rows, senders.email, (row) => {
        if (row.email === null) return null
        const { title, body } = content(row)
        return { key: row.id, to: row.email, subject: title, text: body, html: `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(body)}</p>` }
      })
      case 'sms': return await sendTo(rows, senders.sms, (row) => {
        if (row.phone_number === null) return null
        const { title, body } = content(row)
        return { key: row.id, to: row.phone_number, body: `${title}: ${body}` }
      })
    }
  }

  // Writes the outcomes; retries go back to the queue with their own job, after a backoff.
  // Devices whose tokens a provider called unregistered are removed, and Expo's receipts are
  // looked up later, in the same commit.
  async function record (channel: Channel, rows: ContentRow[], { outcomes, unregistered, tickets }: Sent): Promise<void> {
    const attempts = new Map(rows.map((r) => [r.id, r.attempts]))
    const retries: Array<{ notificationId: string, channel: Channel, sendAfter: Date }> = []
    await transact(async (tx) => {
      if (unregistered.length > 0) await tx.query('DELETE FROM push_devices WHERE token = ANY($1)', [unregistered])
      if (tickets.length > 0) {
        await jobs.send(tx, RECEIPTS_QUEUE, { tickets }, { startAfter: new Date(Date.now() + (deps.receiptDelaySeconds ?? 900) * 1000) })
      }
      const finished: Array<[string, string, string | null, string | null, string[]]> = []
      for (const [id, outcome] of outcomes) {
        const tries = attempts.get(id) ?? maxAttempts
        if (outcome.status === 'retry' && tries < maxAttempts) {
          const backoff = Math.min(3600, retryBase * 2 ** (tries - 1))
          retries.push({ notificationId: id, channel, sendAfter: new Date(Date.now() + Math.max(backoff, outcome.afterSeconds) * 1000) })
          continue
        }
        if (outcome.status === 'sent') finished.push([id, 'sent', outcome.provider, null, outcome.providerIds])
        else finished.push([id, 'failed', outcome.provider, outcome.status === 'retry' ? `retries_exhausted: ${outcome.reason}` : outcome.reason, []])
        metrics.deliveries.inc({ channel, provider: outcome.provider ?? 'none', outcome: outcome.status === 'sent' ? 'sent' : 'failed' })
      }
      if (finished.length > 0) {
        await tx.query(`UPDATE notification_deliveries d SET status = f.status, provider = f.provider, reason = f.reason,
            provider_ids = ARRAY(SELECT jsonb_array_elements_text(f.ids)), updated_at = now()
          FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[]) AS f(id, status, provider, reason, ids)
          WHERE d.notification_id = f.id AND d.channel = $6 AND d.status = 'sending'`,
        [finished.map((f) => f[0]), finished.map((f) => f[1]), finished.map((f) => f[2]), finished.map((f) => f[3]),
          finished.map((f) => JSON.stringify(f[4])), channel])
      }
      if (retries.length > 0) {
        await tx.query(`UPDATE notification_deliveries d SET status = 'queued', send_after = r.send_after, updated_at = now()
          FROM unnest($1::uuid[], $2::timestamptz[]) AS r(id, send_after) WHERE d.notification_id = r.id AND d.channel = $3 AND d.status = 'sending'`,
        [retries.map((r) => r.notificationId), retries.map((r) => r.sendAfter), channel])
        await enqueueSends(tx, jobs, retries)
        metrics.deliveries.inc({ channel, provider: 'any', outcome: 'retried' }, retries.length)
      }
    })
  }

  return {
    async handle (job: SendJob): Promise<void> {
      const rows = await claim(job)
      if (rows.length === 0) return
      let sent: Sent
      try {
        sent = await send(job.channel, rows)
      } catch (err) {
        // Nothing reached a provider (reading devices failed): the claim is undone.
        await db.query(`UPDATE notification_deliveries SET status = 'queued', attempts = attempts - 1, updated_at = now()
          WHERE notification_id = ANY($1) AND channel = $2 AND status = 'sending'`, [rows.map((r) => r.id), job.channel])
        throw err
      }
      await record(job.channel, rows, sent)
    },

    // Expo tells in its receipts which tokens belong to uninstalled apps; those devices go.
    async checkReceipts (tickets: Array<{ id: string, token: string }>): Promise<number> {
      if (senders.expo === undefined || tickets.length === 0) return 0
      const receipts = await senders.expo.checkReceipts(tickets.map((t) => t.id))
      const gone = new Set(receipts.filter((r) => r.unregistered).map((r) => r.id))
      const tokens = tickets.filter((t) => gone.has(t.id)).map((t) => t.token)
      if (tokens.length === 0) return 0
      const { rowCount } = await db.query('DELETE FROM push_devices WHERE token = ANY($1)', [tokens])
      return rowCount ?? 0
    }
  }
}

export type Dispatcher = ReturnType<typeof createDispatcher>
