import { join } from 'node:path'
import { startFakeFcm } from '../../test/fakes/fcm.ts'
import { int } from './report.ts'
import { competitionEndNotifies, fcmServiceEnv, type NotifyResult } from './scenario-notify.ts'
import { seed } from './seed.ts'
import type { ScalingContext } from './scaling-context.ts'
import { writePlot } from './scaling-plot.ts'
import type { Curve } from './scaling-report.ts'

// A large competition's final results pushed to every participant's phone, at growing sizes:
// the competition-end scenario of the main bench (bench/lib/scenario-notify.ts), each size in
// a database of its own, with the service's production send settings.
export async function notifyCurve (ctx: ScalingContext, opts: { sizes: number[], plotDir: string }): Promise<Curve> {
  const results: NotifyResult[] = []
  for (const n of [...opts.sizes].sort((a, b) => a - b)) {
    // The drain runs at the configured send rate (250 a second by default), plus margin.
    if (ctx.timeLeftMs() < n / 250 * 1000 + 120_000) { ctx.log(`notify: stopping before ${int(n)} (deadline)`); break }
    await ctx.withStores(async (stores) => {
      await seed(stores.databaseUrl, { users: n, competitions: [] })
      const fcm = await startFakeFcm()
      ctx.track({ stop: fcm.close })
      const service = await ctx.startService(stores, `notify-${n}`, fcmServiceEnv(fcm))
      const r = await competitionEndNotifies(ctx.target(service), fcm, stores.databaseUrl, { participants: n, users: n, timeoutMs: Math.max(60_000, ctx.timeLeftMs() - 90_000) })
      ctx.log(`notify ${int(n)}: ${int(r.delivered)} delivered in ${r.drainMs} ms`)
      results.push(r)
    })
  }
  if (results.length === 0) throw new Error('no size measured before the deadline')
  await writePlot(join(opts.plotDir, 'notify.svg'), {
    title: 'Final results pushed to every participant',
    x: { title: 'participants' },
    y: { title: 'seconds from the event to the last push' },
    points: results.map((r) => ({ x: r.participants, y: r.drainMs / 1000, series: 'drain' }))
  })
  const s = ctx.settings
  return {
    key: 'notify',
    title: 'Notifications of a large competition ending',
    method: [
      'A competition of n participants, each with one phone registered, is made final as the lifecycle does it (status and `competition.final` event in one statement); ' +
        'the final-results push goes through the outbox, the notifications consumer and batched send jobs (up to 500 pushes each) to a local FCM fake, with the ' +
        'production defaults NOTIFY_SEND_CONCURRENCY=2 and NOTIFY_SEND_RATE=250 a second. Measured from the event\'s write to the last push reaching the fake; ' +
        `profile reads (autocannon, ${s.connections} connections) load the API before and over the drain's first 30 s, so the service CPU per 1,000 pushes includes those reads.`
    ],
    columns: ['participants', 'delivered (twice)', 'event to last push', 'pushes/s', 'FCM requests', 'service CPU per 1,000 pushes', 'profile reads before / during'],
    rows: results.map((r) => [
      int(r.participants), `${int(r.delivered)} (${r.duplicates})`, `${(r.drainMs / 1000).toFixed(1)} s`, int(r.pushesPerSecond), int(r.fcmRequests),
      `${int(r.serviceCpuMsPerThousand)} ms`, `${int(r.apiBefore.rps)} / ${int(r.apiDuring.rps)} req/s`
    ]),
    plots: ['scaling/notify.svg'],
    targets: [],
    notes: ['The issue sets no target for this curve. The drain is bound by the configured send rate: n / 250 s at the defaults; raising NOTIFY_SEND_RATE shortens it as far as the provider allows.']
  }
}
