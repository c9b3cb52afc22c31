import { Type, type Static } from 'typebox'
import { PageQuerySchema, PageSchema, TimestampSchema, UuidSchema } from './common.ts'

export const UsernameSchema = Type.String({ pattern: '^[A-Za-z0-9_.]{3,30}$', description: '3-30 letters, digits, "_" or "."; unique ignoring case' })
export const UnitsSchema = Type.Enum(['metric', 'imperial'])
export const LocaleSchema = Type.String({ pattern: '^[a-z]{2,3}(-[A-Z]{2})?$', description: 'BCP 47 language, e.g. en or en-GB: the language of notifications (English where a text has no translation)', examples: ['en'] })
export const PhoneNumberSchema = Type.String({ pattern: '^\\+[1-9][0-9]{6,14}$', description: 'E.164, e.g. +14155550100: where money and security SMS go', examples: ['+14155550100'] })
export const TimeZoneSchema = Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone, e.g. Europe/Paris', examples: ['Europe/Paris'] })

const publicFields = {
  id: UuidSchema,
  username: Type.Union([UsernameSchema, Type.Null()]),
  displayName: Type.String({ maxLength: 64 }),
  bio: Type.String({ maxLength: 500 }),
  avatarUrl: Type.Union([Type.String(), Type.Null()])
}

// Others see the public fields; the user themselves and admins also see the private ones.
export const ProfileSchema = Type.Object({
  ...publicFields,
  email: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  timeZone: Type.Optional(Type.String()),
  units: Type.Optional(UnitsSchema),
  locale: Type.Optional(Type.String()),
  phoneNumber: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  createdAt: Type.Optional(TimestampSchema),
  updatedAt: Type.Optional(TimestampSchema)
}, { title: 'Profile', description: 'email, timeZone, units, locale, phoneNumber and timestamps are shown only to the user and admins' })

export const ProfileUpdateSchema = Type.Object({
  username: Type.Optional(UsernameSchema),
  displayName: Type.Optional(Type.String({ maxLength: 64 })),
  bio: Type.Optional(Type.String({ maxLength: 500 })),
  timeZone: Type.Optional(TimeZoneSchema),
  units: Type.Optional(UnitsSchema),
  locale: Type.Optional(LocaleSchema),
  phoneNumber: Type.Optional(Type.Union([PhoneNumberSchema, Type.Null()], { description: 'null removes it' }))
}, { title: 'ProfileUpdate', additionalProperties: false, minProperties: 1, description: 'Fields left out keep their value' })
export type ProfileUpdateBody = Static<typeof ProfileUpdateSchema>

export const AvatarSchema = Type.Object({
  avatarUrl: Type.String(),
  width: Type.Integer(),
  height: Type.Integer(),
  bytes: Type.Integer()
}, { title: 'Avatar' })

export const ActivityKindSchema = Type.Enum(['joined', 'left', 'synced', 'rank_changed', 'prize', 'refund', 'credit', 'competition_status', 'flagged', 'deposit', 'withdrawal', 'dispute'])
export const ActivityItemSchema = Type.Object({
  id: Type.Integer(),
  kind: ActivityKindSchema,
  competitionId: Type.Union([UuidSchema, Type.Null()]),
  data: Type.Object({}, { additionalProperties: true }),
  createdAt: TimestampSchema
}, { title: 'ActivityItem' })
export const ActivityPageSchema = PageSchema(ActivityItemSchema)

const MetricTotalsSchema = Type.Object({
  steps: Type.Number(),
  distance_m: Type.Number(),
  active_kcal: Type.Number(),
  active_minutes: Type.Number()
}, { title: 'MetricTotals' })

export const DashboardSchema = Type.Object({
  timeZone: Type.String(),
  today: Type.String({ format: 'date', description: 'The user\'s local date' }),
  weekStart: Type.String({ format: 'date', description: 'Monday of the user\'s local week' }),
  totals: Type.Object({ today: MetricTotalsSchema, week: MetricTotalsSchema }),
  competitions: Type.Array(Type.Object({
    id: UuidSchema,
    name: Type.String(),
    metric: Type.String(),
    status: Type.String(),
    endsAt: TimestampSchema,
    participantCount: Type.Integer(),
    score: Type.Integer(),
    rank: Type.Integer({ description: '1 + participants with a strictly better score (higher, or lower where the lowest wins)' })
  })),
  wallets: Type.Array(Type.Object({ currency: Type.String(), balance: Type.Integer({ description: 'All pockets together' }), withdrawable: Type.Integer({ description: 'Deposits and winnings: what may be withdrawn' }) })),
  recentActivity: Type.Array(ActivityItemSchema)
}, { title: 'Dashboard' })

export const UserPageQuerySchema = PageQuerySchema
