import { Type, type Static } from 'typebox'
import { CursorSchema, LimitSchema, PageSchema, TimestampSchema, UuidSchema } from './common.ts'
import { CATEGORIES, CHANNELS } from '../services/notifications/categories.ts'
import { TEMPLATE_NAMES } from '../services/notifications/templates.ts'

export const CategorySchema = Type.Enum([...CATEGORIES], {
  description: 'rank: overtaken, entered the top; competition: starting, started, ending, ended, sync reminders, cancelled; ' +
    'results: final results; money: prizes, deposits, withdrawals; security: activity under review'
})
export const ChannelSchema = Type.Enum([...CHANNELS])

export const DeliverySchema = Type.Object({
  channel: ChannelSchema,
  status: Type.Enum(['queued', 'sending', 'sent', 'failed', 'skipped'], { description: 'skipped: over the daily cap, kept in the inbox only' }),
  reason: Type.Union([Type.String(), Type.Null()], { description: 'Why it failed or was skipped (a provider\'s error code, daily_cap, interrupted)' }),
  sendAfter: TimestampSchema,
  updatedAt: TimestampSchema
}, { title: 'NotificationDelivery' })

export const NotificationSchema = Type.Object({
  id: UuidSchema,
  category: CategorySchema,
  template: Type.Enum([...TEMPLATE_NAMES]),
  title: Type.String(),
  body: Type.String({ description: 'In the user\'s locale, units and time zone' }),
  competitionId: Type.Union([UuidSchema, Type.Null()]),
  createdAt: TimestampSchema,
  readAt: Type.Union([TimestampSchema, Type.Null()]),
  deliveries: Type.Array(DeliverySchema, { description: 'The delivery log: one entry per channel it was sent on' })
}, { title: 'Notification', additionalProperties: false })
export type NotificationView = Static<typeof NotificationSchema>

export const NotificationPageSchema = PageSchema(NotificationSchema)
export const InboxQuerySchema = Type.Object({
  cursor: Type.Optional(CursorSchema),
  limit: Type.Optional(LimitSchema),
  unread: Type.Optional(Type.Boolean({ description: 'true: only unread notifications' }))
}, { additionalProperties: false })

export const UnreadCountSchema = Type.Object({ unread: Type.Integer({ minimum: 0 }) }, { title: 'UnreadCount' })
export const MarkAllReadSchema = Type.Object({ updated: Type.Integer({ minimum: 0 }) }, { title: 'MarkAllReadResult' })

export const DeviceSchema = Type.Object({
  id: UuidSchema,
  provider: Type.Enum(['fcm', 'expo']),
  platform: Type.Enum(['android', 'ios', 'web']),
  appVersion: Type.String(),
  createdAt: TimestampSchema,
  lastSeenAt: TimestampSchema
}, { title: 'PushDevice' })
export const DeviceListSchema = Type.Object({ items: Type.Array(DeviceSchema) }, { title: 'PushDeviceList' })
export const NewDeviceSchema = Type.Object({
  provider: Type.Enum(['fcm', 'expo'], { description: 'fcm: a Firebase Cloud Messaging registration token (Android or iOS); expo: an Expo push token', examples: ['expo'] }),
  token: Type.String({ minLength: 1, maxLength: 4096, examples: ['ExponentPushToken[xxxxxxxxxxxxxxxxxxxxxx]'] }),
  platform: Type.Enum(['android', 'ios', 'web']),
  appVersion: Type.String({ minLength: 1, maxLength: 40, examples: ['2.4.1'] })
}, { title: 'NewPushDevice', additionalProperties: false })
export type NewDevice = Static<typeof NewDeviceSchema>

const ChannelSwitchesSchema = Type.Object({
  push: Type.Boolean(),
  email: Type.Boolean(),
  sms: Type.Boolean({ description: 'Only money and security may use SMS' })
}, { title: 'ChannelSwitches', additionalProperties: false })
const ChannelSwitchesPatchSchema = Type.Partial(ChannelSwitchesSchema, { title: 'ChannelSwitchesPatch', additionalProperties: false, minProperties: 1 })
const ClockSchema = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'HH:MM, local time in the user\'s time zone', examples: ['22:00'] })
const QuietHoursSchema = Type.Union([
  Type.Object({ start: ClockSchema, end: ClockSchema }, { title: 'QuietHours', additionalProperties: false }),
  Type.Null()
], { description: 'Routine messages wait until the end (it may wrap past midnight); money and security do not. null: none' })

export const PreferencesSchema = Type.Object({
  categories: Type.Object(Object.fromEntries(CATEGORIES.map((c) => [c, ChannelSwitchesSchema])) as Record<typeof CATEGORIES[number], typeof ChannelSwitchesSchema>, { title: 'CategoryChannels' }),
  quietHours: QuietHoursSchema,
  dailyCap: Type.Integer({ minimum: 0, maximum: 100, description: 'Routine messages per channel and local day; beyond it they reach the inbox only' })
}, { title: 'NotificationPreferences' })
export type Preferences = Static<typeof PreferencesSchema>

export const PreferencesPatchSchema = Type.Object({
  categories: Type.Optional(Type.Object(
    Object.fromEntries(CATEGORIES.map((c) => [c, Type.Optional(ChannelSwitchesPatchSchema)])) as Record<typeof CATEGORIES[number], Type.TOptional<typeof ChannelSwitchesPatchSchema>>,
    { additionalProperties: false, minProperties: 1 })),
  quietHours: Type.Optional(QuietHoursSchema),
  dailyCap: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 }))
}, {
  title: 'NotificationPreferencesPatch',
  additionalProperties: false,
  minProperties: 1,
  description: 'Fields left out keep their value',
  examples: [{ categories: { rank: { push: false }, money: { sms: true } }, quietHours: { start: '22:00', end: '07:00' }, dailyCap: 5 }]
})
export type PreferencesPatch = Static<typeof PreferencesPatchSchema>

// What a WebSocket connection receives when a notification is created for its user.
export const NotificationMessageSchema = Type.Object({
  type: Type.Literal('notification'),
  notification: NotificationSchema
}, { additionalProperties: false, description: 'A new item of the caller\'s inbox' })
