import { Type, type Static } from 'typebox'
import { CursorSchema, LimitSchema, PageSchema, TimestampSchema, UuidSchema } from './common.ts'
import { NewCompetitionSchema } from './competitions.ts'
import { TimeZoneSchema } from './users.ts'

// Repeating competitions: a template (a new competition's fields without its times) and a
// schedule in the series' time zone. Fields a competition gains later come with the template.
const { startsAt: _startsAt, endsAt: _endsAt, timeZone: _timeZone, ...templateFields } = NewCompetitionSchema.properties

export const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const

const AtSchema = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'Local wall-clock time, HH:MM (24 h)', examples: ['06:00'] })

const ScheduleVariants = Type.Union([
  Type.Object({ every: Type.Literal('day'), at: AtSchema }, { title: 'DailySchedule', additionalProperties: false }),
  Type.Object({
    every: Type.Literal('week'),
    weekday: Type.Enum([...WEEKDAYS]),
    at: AtSchema
  }, { title: 'WeeklySchedule', additionalProperties: false }),
  Type.Object({
    every: Type.Literal('month'),
    day: Type.Integer({ minimum: 1, maximum: 31, description: 'Day of the month; 29-31 fall on the last day of shorter months' }),
    at: AtSchema
  }, { title: 'MonthlySchedule', additionalProperties: false })
])

// Told apart by `every`, so a refusal names the fault within the variant the client chose.
export const ScheduleSchema = Type.Unsafe<Static<typeof ScheduleVariants>>({
  title: 'SeriesSchedule',
  type: 'object',
  required: ['every'],
  discriminator: { propertyName: 'every' },
  oneOf: ScheduleVariants.anyOf,
  description: 'When each competition starts, in the series\' time zone (DST-aware: a Monday 06:00 stays 06:00 local time). ' +
    'A time the clocks skip moves on by the gap; a time that happens twice is its first.'
})
export type Schedule = Static<typeof ScheduleSchema>

const SERIES_TIMING = {
  schedule: ScheduleSchema,
  timeZone: TimeZoneSchema,
  durationSeconds: Type.Integer({ minimum: 60, maximum: 366 * 24 * 3600, description: 'How long each competition runs', examples: [604800] }),
  createAheadSeconds: Type.Optional(Type.Integer({
    minimum: 0,
    maximum: 60 * 24 * 3600,
    default: 86400,
    description: 'How long before its start each competition is created, so people can see and join it (default one day)'
  }))
}

const TEMPLATE_EXAMPLE = {
  name: 'Monday steps',
  metric: 'steps',
  entryFee: 200,
  currency: 'USD',
  maxParticipants: 50,
  prizeSplit: { type: 'percent', places: [60, 40] },
  visibility: 'public'
}
const NEW_SERIES_EXAMPLE = {
  ...TEMPLATE_EXAMPLE,
  schedule: { every: 'week', weekday: 'monday', at: '06:00' },
  timeZone: 'Europe/London',
  durationSeconds: 604800,
  createAheadSeconds: 172800
}

export const NewSeriesSchema = Type.Object({ ...templateFields, ...SERIES_TIMING }, {
  title: 'NewCompetitionSeries',
  additionalProperties: false,
  examples: [NEW_SERIES_EXAMPLE]
})
export type NewSeriesBody = Static<typeof NewSeriesSchema>

export const CompetitionTemplateSchema = Type.Object(templateFields, {
  title: 'CompetitionTemplate',
  description: 'The fields each competition of the series is created with (its name gets the local start day)'
})

export const SeriesStatusSchema = Type.Enum(['active', 'paused', 'stopped'], {
  description: 'active creates competitions on schedule; paused creates none until resumed; stopped is for good'
})

export const SeriesSchema = Type.Object({
  id: UuidSchema,
  template: CompetitionTemplateSchema,
  schedule: ScheduleSchema,
  timeZone: Type.String(),
  durationSeconds: Type.Integer(),
  createAheadSeconds: Type.Integer(),
  status: SeriesStatusSchema,
  nextOccurrenceAt: Type.Union([TimestampSchema, Type.Null()], { description: 'Start of the next competition to be created; null unless active' }),
  subscribed: Type.Boolean({ description: 'Whether the caller joins each new competition automatically' }),
  createdBy: UuidSchema,
  createdAt: TimestampSchema
}, {
  title: 'CompetitionSeries',
  examples: [{
    id: '6f1c4b7e-2d3a-4c5b-8e9f-0a1b2c3d4e5f',
    template: TEMPLATE_EXAMPLE,
    schedule: NEW_SERIES_EXAMPLE.schedule,
    timeZone: 'Europe/London',
    durationSeconds: 604800,
    createAheadSeconds: 172800,
    status: 'active',
    nextOccurrenceAt: '2030-01-07T06:00:00.000Z',
    subscribed: true,
    createdBy: '6f1c4b7e-2d3a-4c5b-8e9f-0a1b2c3d4e5f',
    createdAt: '2026-11-02T08:30:00.000Z'
  }]
})
export const SeriesPageSchema = PageSchema(SeriesSchema)

export const SeriesListQuerySchema = Type.Object({
  subscribed: Type.Optional(Type.Boolean({ description: 'Only the series the caller is (or is not) subscribed to' })),
  status: Type.Optional(SeriesStatusSchema),
  cursor: Type.Optional(CursorSchema),
  limit: Type.Optional(LimitSchema)
})

export const AutoJoinReasonSchema = Type.Enum(['insufficient_funds', 'outstanding_debt', 'full', 'closed', 'not_allowed', 'limit_exceeded'], {
  description: 'Why an automatic join failed: the wallet could not pay the entry fee, a debt must be paid first, no place was left, ' +
    'the competition was no longer open, the user may not join it, or a limit refused it'
})

export const AutoJoinSchema = Type.Object({
  competitionId: UuidSchema,
  occursAt: TimestampSchema,
  status: Type.Enum(['joined', 'failed']),
  reason: Type.Union([AutoJoinReasonSchema, Type.Null()]),
  message: Type.Union([Type.String(), Type.Null()], { description: 'What the join said when it failed' }),
  at: TimestampSchema
}, { title: 'SeriesAutoJoin' })

export const SubscriptionSchema = Type.Object({
  seriesId: UuidSchema,
  userId: UuidSchema,
  subscribed: Type.Boolean(),
  subscribedAt: Type.Union([TimestampSchema, Type.Null()]),
  outcomes: Type.Array(AutoJoinSchema, { description: 'The latest automatic joins, newest first (at most 20)' })
}, { title: 'SeriesSubscription' })
