import { Type, type Static } from 'typebox'
import { CursorSchema, DayInputSchema, DaySchema, LimitSchema, TimestampInputSchema, TimestampSchema, UuidSchema } from './common.ts'

export const METRICS = ['steps', 'distance_m', 'active_kcal', 'active_minutes'] as const

export const MetricSchema = Type.Union([Type.Literal('steps'), Type.Literal('distance_m'), Type.Literal('active_kcal'), Type.Literal('active_minutes')], {
  description: 'steps (count), distance_m (metres), active_kcal (kilocalories), active_minutes'
})
export type Metric = Static<typeof MetricSchema>

export const SourceSchema = Type.Union([
  Type.Literal('healthkit'), Type.Literal('health_connect'), Type.Literal('google_fit'), Type.Literal('manual'),
  Type.Literal('fitbit'), Type.Literal('garmin'), Type.Literal('strava'), Type.Literal('oura'), Type.Literal('other')
], {
  description: 'Where the data was recorded. Part of a sample\'s identity with its external id'
})
export type Source = Static<typeof SourceSchema>

export const ProviderSchema = Type.Union([Type.Literal('google_fit')], {
  description: 'A server-side provider to pull from instead of pushing samples. Deprecated: Google is shutting Google Fit down; ' +
    'cloud services are connected under /users/{userId}/connections instead'
})
export type ProviderName = Static<typeof ProviderSchema>

// Longest span of one record: a whole local day, 25 hours on the day clocks go back.
export const MAX_RECORD_SPAN_HOURS = 25
// Devices' clocks drift: a record a little ahead of the server's clock is accepted.
export const SAMPLE_CLOCK_SKEW_MINUTES = 10

// The priority between devices of one source (services/fitness/device-priority.ts), stated once
// for the schema, the API document, stats and the code.
export const DEVICE_PRIORITY_RULE = 'Within one source, samples fall in device lanes ordered watch, ring, band, phone, scale, ' +
  'other (then by device id); a sample counts only for the part of its time no higher lane\'s sample covers, so a phone and ' +
  'a watch recording the same walk count once (the watch). A manual entry never hides a recorded sample. Samples without a ' +
  'device are one lane and are added.'

const deviceText = (description: string) => Type.Optional(Type.String({ minLength: 1, maxLength: 100, description }))

export const DeviceInputSchema = Type.Object({
  type: Type.Union([Type.Literal('watch'), Type.Literal('ring'), Type.Literal('band'), Type.Literal('phone'), Type.Literal('scale'), Type.Literal('other')], {
    description: 'Decides priority within one source: watch, ring, band, phone, scale, other. HealthKit: HKDevice.model ' +
      '("Watch" -> watch, "iPhone" -> phone) or the source revision\'s productType ("Watch6,1", "iPhone15,2"). Health Connect: ' +
      'Metadata.device.type (Device.TYPE_WATCH, TYPE_PHONE, TYPE_RING, TYPE_FITNESS_BAND, TYPE_SCALE, else other)'
  }),
  id: Type.Optional(Type.String({
    minLength: 1,
    maxLength: 200,
    description: 'A stable id of the device, the same on every sync; of two devices of one type the lower id wins. HealthKit: ' +
      'HKDevice.udiDeviceIdentifier or localIdentifier when set, else HKSourceRevision.source.bundleIdentifier plus ' +
      'productType (e.g. "com.apple.health.5A1B…/Watch6,1"). Health Connect: Metadata.dataOrigin.packageName plus ' +
      'Device.manufacturer and Device.model. Two devices of one type are told apart by it'
  })),
  name: deviceText('HKDevice.name / HKSource.name, for display'),
  model: deviceText('HKDevice.model / Device.model'),
  manufacturer: deviceText('HKDevice.manufacturer / Device.manufacturer')
}, {
  additionalProperties: false,
  description: 'The device that recorded the sample (HealthKit: HKSample.device and sourceRevision; Health Connect: ' +
    'Metadata.device and Metadata.dataOrigin). ' + DEVICE_PRIORITY_RULE
})

export const SampleInputSchema = Type.Object({
  externalId: Type.String({ minLength: 1, maxLength: 200, description: 'The source\'s id for this record (HealthKit UUID, Health Connect clientRecordId, ...)' }),
  version: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0, description: 'A higher version replaces the stored record; an equal or lower one is ignored' }),
  metric: MetricSchema,
  kind: Type.Union([Type.Literal('sample'), Type.Literal('daily_total')], {
    default: 'sample',
    description: 'sample: an interval measurement. daily_total: the source\'s own total for one local day. ' +
      'Within one source and day the larger of the two sums counts, so a source sending both is not counted twice. ' +
      'A client may send the deduplicated totals of a statistics query (HKStatisticsCollectionQuery with .cumulativeSum, ' +
      'Health Connect aggregate / aggregateGroupByPeriod) as daily_total, one per local day and metric with a stable ' +
      'externalId such as "daily:steps:2026-11-02" and a growing version'
  }),
  startTime: TimestampInputSchema(`ISO-8601 UTC; at most ${SAMPLE_CLOCK_SKEW_MINUTES} minutes ahead of the server's clock (device clocks drift)`),
  endTime: TimestampInputSchema(`ISO-8601 UTC, not before startTime; a record spans at most ${MAX_RECORD_SPAN_HOURS} hours. A sample ends at most ` +
    `${SAMPLE_CLOCK_SKEW_MINUTES} minutes ahead of the server's clock; a daily_total may end later (its day is still running)`),
  value: Type.Number({ minimum: 0, maximum: 1e9 }),
  recordingMethod: Type.Union([Type.Literal('automatic'), Type.Literal('active'), Type.Literal('manual'), Type.Literal('unknown')], {
    default: 'unknown',
    description: 'manual for user-entered data (HealthKit WasUserEntered, Health Connect RECORDING_METHOD_MANUAL_ENTRY); ' +
      'manual data counts only in competitions that allow manual entries'
  }),
  tzOffsetMinutes: Type.Integer({ minimum: -840, maximum: 840, description: 'The device\'s UTC offset when recorded; the local day is taken from startTime plus this offset' }),
  device: Type.Optional(DeviceInputSchema)
}, { additionalProperties: false })
export type SampleInput = Static<typeof SampleInputSchema>

export const DeletionInputSchema = Type.Object({
  externalId: Type.String({ minLength: 1, maxLength: 200 }),
  version: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'When given, a stored record with a higher version is kept' }))
}, { additionalProperties: false })
export type DeletionInput = Static<typeof DeletionInputSchema>

// A phone's push: one half-hour walk, and a record the device no longer has.
const SYNC_PUSH_EXAMPLE = {
  source: 'healthkit',
  samples: [{
    externalId: 'B7A1E3C2-5D4F-4A8B-9C6D-1E2F3A4B5C6D',
    version: 1,
    metric: 'steps',
    kind: 'sample',
    startTime: '2026-11-02T08:00:00.000Z',
    endTime: '2026-11-02T08:30:00.000Z',
    value: 3200,
    recordingMethod: 'automatic',
    tzOffsetMinutes: 60,
    device: { type: 'watch', id: 'com.apple.health.5A1B2C3D/Watch6,1', name: 'Apple Watch', model: 'Watch', manufacturer: 'Apple Inc.' }
  }],
  deletions: [{ externalId: '0C9D8E7F-6A5B-4C3D-8E1F-2A3B4C5D6E7F', version: 2 }]
}

// One flat object rather than a union, so a refusal names the one field at fault instead of
// every branch's. The service checks that exactly one of the two modes is used.
export function SyncBodySchema (batchMax: number) {
  return Type.Object({
    source: Type.Optional(SourceSchema),
    samples: Type.Optional(Type.Array(SampleInputSchema, { maxItems: batchMax, description: `At most ${batchMax} records per request` })),
    deletions: Type.Optional(Type.Array(DeletionInputSchema, { maxItems: batchMax, description: `At most ${batchMax} deletions per request` })),
    provider: Type.Optional(ProviderSchema),
    accessToken: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'The user\'s OAuth access token for the provider; without it the stored token is used' })),
    from: Type.Optional(DayInputSchema('Provider pull: first local day to fetch (default: the last day already pulled, or a week back)')),
    to: Type.Optional(DayInputSchema('Provider pull: last local day to fetch (default: today in the user\'s time zone)'))
  }, {
    additionalProperties: false,
    description: 'Either a push from a device (`source` with `samples` and/or `deletions`) or a server-side pull (`provider`), never both. ' +
      'A push is all-or-nothing: one invalid record rejects the whole batch and names it (e.g. `body.samples.3.value`)',
    examples: [SYNC_PUSH_EXAMPLE]
  })
}
export type SyncBody = Static<ReturnType<typeof SyncBodySchema>>

export const DayTotalSchema = Type.Object({ day: DaySchema, metric: MetricSchema, value: Type.Number() }, { title: 'DayTotal' })

export const CompetitionScoreSchema = Type.Object({
  competitionId: UuidSchema,
  score: Type.Integer({ description: 'The participant\'s score after this sync' }),
  applied: Type.Boolean({ description: 'false when the recomputed total was already the stored one' })
}, { title: 'CompetitionScore' })

export const SyncResultSchema = Type.Object({
  source: SourceSchema,
  received: Type.Integer(),
  inserted: Type.Integer(),
  replaced: Type.Integer(),
  unchanged: Type.Integer({ description: 'Records already stored with the same or a higher version' }),
  deleted: Type.Integer(),
  flagged: Type.Array(Type.Object({ externalId: Type.String(), reason: Type.String() })),
  days: Type.Array(DayTotalSchema, { description: 'Combined daily totals (all sources) of the days this sync touched' }),
  competitions: Type.Array(CompetitionScoreSchema),
  provider: Type.Optional(Type.Object({ name: ProviderSchema, from: DaySchema, to: DaySchema, days: Type.Integer() }))
}, {
  title: 'SyncResult',
  examples: [{
    source: 'healthkit',
    received: 2,
    inserted: 1,
    replaced: 0,
    unchanged: 0,
    deleted: 1,
    flagged: [],
    days: [{ day: '2026-11-02', metric: 'steps', value: 3200 }],
    competitions: [{ competitionId: '6f1c4b7e-2d3a-4c5b-8e9f-0a1b2c3d4e5f', score: 48250, applied: true }]
  }]
})
export type SyncResult = Static<typeof SyncResultSchema>

// The longest range of days one stats request covers.
export const MAX_STATS_DAYS = 366

export const StatsQuerySchema = Type.Object({
  from: Type.Optional(DayInputSchema(`First local day (default: 29 days before \`to\`); the range spans at most ${MAX_STATS_DAYS} days`)),
  to: Type.Optional(DayInputSchema('Last local day (default: today in the user\'s time zone)')),
  metric: Type.Optional(MetricSchema),
  goal: Type.Optional(Type.Number({ minimum: 0, maximum: 1e9, examples: [10000], description: 'Daily goal for streaks when one metric is asked for (defaults: 10000 steps, 5000 m, 300 kcal, 30 minutes)' }))
})

const PeriodValueSchema = Type.Object({ start: DaySchema, value: Type.Number() }, { title: 'PeriodValue' })
const BestSchema = Type.Union([PeriodValueSchema, Type.Null()])

export const MetricStatsSchema = Type.Object({
  metric: MetricSchema,
  total: Type.Number({ description: 'Sum over the range' }),
  daily: Type.Array(PeriodValueSchema, { description: 'Every day of the range, 0 when nothing was recorded' }),
  weekly: Type.Array(PeriodValueSchema, { description: 'ISO weeks (Monday start) overlapping the range, summed within the range' }),
  monthly: Type.Array(PeriodValueSchema, { description: 'Calendar months overlapping the range, summed within the range' }),
  streak: Type.Object({
    goal: Type.Number(),
    current: Type.Integer({ description: 'Consecutive days meeting the goal ending on `to` (or the day before, while `to` is still open)' }),
    longest: Type.Integer({ description: 'Longest run of days meeting the goal, all history' })
  }),
  personalBests: Type.Object({ day: BestSchema, week: BestSchema, month: BestSchema }, { description: 'All history' })
}, { title: 'MetricStats' })

export const StatsSchema = Type.Object({
  userId: UuidSchema,
  from: DaySchema,
  to: DaySchema,
  timeZone: Type.String(),
  rule: Type.String({ description: 'How overlapping sources are combined' }),
  metrics: Type.Array(MetricStatsSchema)
}, { title: 'FitnessStats' })
export type Stats = Static<typeof StatsSchema>

export const FlagStatusSchema = Type.Union([Type.Literal('open'), Type.Literal('cleared'), Type.Literal('confirmed')])
export type FlagStatus = Static<typeof FlagStatusSchema>

export const FlagSchema = Type.Object({
  id: Type.Integer(),
  userId: UuidSchema,
  status: FlagStatusSchema,
  reason: Type.String({ description: 'steps_rate, daily_ceiling or speed' }),
  details: Type.Record(Type.String(), Type.Unknown()),
  sample: Type.Union([Type.Object({
    id: Type.Integer(),
    source: SourceSchema,
    externalId: Type.String(),
    version: Type.Integer(),
    metric: MetricSchema,
    startTime: TimestampSchema,
    endTime: TimestampSchema,
    value: Type.Number(),
    recordingMethod: Type.String(),
    deleted: Type.Boolean(),
    rejected: Type.Boolean()
  }, { title: 'FlaggedSample' }), Type.Null()]),
  competitionIds: Type.Array(UuidSchema, { description: 'Competitions this flag holds the participant out of prizes in' }),
  createdAt: TimestampSchema,
  resolvedBy: Type.Union([UuidSchema, Type.Null()]),
  resolvedAt: Type.Union([TimestampSchema, Type.Null()]),
  note: Type.Union([Type.String(), Type.Null()])
}, { title: 'FitnessFlag' })
export type Flag = Static<typeof FlagSchema>

export const FlagListQuerySchema = Type.Object({
  status: Type.Optional(FlagStatusSchema),
  userId: Type.Optional(UuidSchema),
  cursor: Type.Optional(CursorSchema),
  limit: Type.Optional(LimitSchema)
})

export const FlagIdParamsSchema = Type.Object({ id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) })

export const FlagResolutionSchema = Type.Object({
  note: Type.Optional(Type.String({ maxLength: 500, description: 'Why the flag was cleared or confirmed (kept in the audit trail)', examples: ['Checked with the participant: a treadmill run'] }))
}, { title: 'FlagResolution', additionalProperties: false })
