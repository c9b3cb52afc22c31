import { Type, type Static } from 'typebox'
import { TimestampSchema, UuidSchema } from './common.ts'

// Leaving the service: deleting an account and exporting what the service holds about it.

export const DELETION_CONFIRMATION = 'delete my account'

export const AccountDeletionRequestSchema = Type.Object({
  confirm: Type.Literal(DELETION_CONFIRMATION, { description: `Must be "${DELETION_CONFIRMATION}": a request without it deletes nothing` })
}, { title: 'AccountDeletionRequest', additionalProperties: false })

export const AdminAccountDeletionRequestSchema = Type.Object({
  force: Type.Optional(Type.Boolean({
    default: false,
    description: 'Delete even while money can be withdrawn, a withdrawal or dispute is open or a competition is not over: competitions not started are left (fees refunded), and what the wallet holds stays in it'
  }))
}, { title: 'AdminAccountDeletionRequest', additionalProperties: false, examples: [{ force: false }] })
export type AdminAccountDeletionRequest = Static<typeof AdminAccountDeletionRequestSchema>

export const AccountDeletionSchema = Type.Object({
  userId: UuidSchema,
  deletedAt: TimestampSchema,
  erased: Type.Boolean({ description: 'false when the account had been deleted before (nothing changed)' })
}, { title: 'AccountDeletion' })

// Supabase Database Webhooks on auth.users: the deleted row is old_record. Checked in the
// handler, not as a body schema: the rows carry whatever columns auth.users has.
export const SupabaseAuthEventSchema = Type.Object({
  type: Type.Enum(['INSERT', 'UPDATE', 'DELETE']),
  table: Type.String(),
  schema: Type.String(),
  old_record: Type.Union([Type.Object({ id: UuidSchema }), Type.Null()])
})
export type SupabaseAuthEvent = Static<typeof SupabaseAuthEventSchema>

export const SupabaseAuthEventReplySchema = Type.Object({
  received: Type.Literal(true),
  // null for events that are not a deletion of an auth user (acknowledged, nothing done).
  deletion: Type.Union([AccountDeletionSchema, Type.Null()])
}, { title: 'SupabaseAuthEventReply' })

// The archive: one section per kind of record, each a list of rows as stored (column names as
// in the database). Credentials (push tokens, provider tokens, webhook secrets) are left out.
export const ARCHIVE_SECTIONS = [
  'participations', 'scoreEvents', 'fitnessSamples', 'dailyTotals', 'fitnessFlags', 'activity',
  'walletAccounts', 'ledgerEntries', 'deposits', 'withdrawals', 'disputes', 'prizePayouts', 'payoutAccounts',
  'devices', 'notificationPreferences', 'notificationSettings', 'notifications', 'notificationDeliveries',
  'connections', 'competitionsCreated', 'invitesCreated', 'webhookEndpointsCreated', 'seriesCreated', 'seriesSubscriptions',
  'seriesAutoJoins', 'events', 'exports'
] as const
export type ArchiveSection = typeof ARCHIVE_SECTIONS[number]

const RowSchema = Type.Object({}, { additionalProperties: true, description: 'A stored row, column names as in the database' })

export const AccountArchiveSchema = Type.Object({
  format: Type.Literal('account-archive/1'),
  generatedAt: TimestampSchema,
  userId: UuidSchema,
  profile: RowSchema,
  sections: Type.Object(Object.fromEntries(ARCHIVE_SECTIONS.map((name) => [name, Type.Array(RowSchema)])) as Record<ArchiveSection, ReturnType<typeof Type.Array<typeof RowSchema>>>)
}, { title: 'AccountArchive', description: 'Everything the service holds about the user, except credentials' })
export type AccountArchive = Static<typeof AccountArchiveSchema>

export const AccountExportSchema = Type.Object({
  id: UuidSchema,
  status: Type.Enum(['pending', 'ready', 'failed']),
  createdAt: TimestampSchema,
  completedAt: Type.Union([TimestampSchema, Type.Null()]),
  expiresAt: TimestampSchema,
  bytes: Type.Union([Type.Integer(), Type.Null()]),
  archive: Type.Union([AccountArchiveSchema, Type.Null()], { description: 'Present once the status is ready' })
}, { title: 'AccountExport' })
