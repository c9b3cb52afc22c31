import type { DeletionInput, SampleInput, Source } from '../../../schemas/fitness.ts'

// What a cloud fitness provider module offers. The connection service does OAuth, token
// storage, refresh, jobs and ingestion the same way for all; a module only knows its
// provider's URLs, payloads and signatures. Adding a provider is adding a module.

export const CLOUD_PROVIDERS = ['fitbit', 'garmin', 'strava', 'oura'] as const
export type CloudProviderName = typeof CLOUD_PROVIDERS[number]
export const PROVIDER_LABELS: Record<CloudProviderName, string> = { fitbit: 'Fitbit', garmin: 'Garmin', strava: 'Strava', oura: 'Oura' }

export interface ClientCredentials { clientId: string, clientSecret: string }

export interface TokenSet {
  accessToken: string
  // null when the provider issues none; a provider that does not rotate it keeps the old one.
  refreshToken: string | null
  expiresAt: Date | null
  scope: string | null
  // The provider's id of the account, when the token answer carries it.
  externalUserId: string | null
}

// What an inbound webhook request looks like to a module: the raw body as received, since
// signatures are over the bytes.
export interface InboundWebhook {
  method: 'GET' | 'POST'
  query: Record<string, string | undefined>
  headers: Record<string, string | undefined>
  body: Buffer
}

// Work a notification asks for, done later by a job with the user's token.
export type ProviderWork =
  // Fetch one local day's summary.
  | { kind: 'day', day: string }
  // Fetch (or, deleted, remove) one object, e.g. a Strava activity or an Oura document.
  | { kind: 'object', id: string, deleted: boolean }
  // The data itself came in the notification (Garmin push); already mapped.
  | { kind: 'records', samples: SampleInput[] }
  // Fetch what a Garmin ping's callback URL names.
  | { kind: 'callback', url: string }
  // The user revoked our access at the provider.
  | { kind: 'deauthorized' }

export interface Notification { externalUserId: string, work: ProviderWork }

export type WebhookOutcome =
  // A subscription handshake: answer it as given.
  | { kind: 'handshake', status: 200 | 204, body?: unknown }
  // Not from the provider (bad signature, wrong verification token): refused.
  | { kind: 'refused', status: 400 | 401 | 403 | 404, reason: string }
  // Accepted: answered with `status` at once, the work left to jobs.
  | { kind: 'notifications', status: 200 | 204, items: Notification[] }

export interface FetchedRecords { samples: SampleInput[], deletions: DeletionInput[] }

export interface FetchContext {
  accessToken: string
  // The user's IANA zone, for providers that report local days without an offset.
  timeZone: string
}

export interface CloudProvider {
  readonly name: CloudProviderName
  readonly source: Source
  readonly label: string
  readonly authorizeUrl: string
  readonly tokenUrl: string
  readonly scopes: string[]
  // How scopes are joined in the authorize URL (a space, as OAuth says, unless the provider differs).
  readonly scopeSeparator?: string
  // How the client authenticates at the token endpoint.
  readonly clientAuth: 'basic' | 'body'
  // Token endpoint answer (authorization code or refresh) to our shape.
  readTokens: (body: Record<string, unknown>, now: Date) => TokenSet
  // The provider's account id when the token answer lacks it.
  fetchUserId?: (accessToken: string) => Promise<string>
  // Asks the provider to notify us of this user's changes, where subscriptions are per user.
  subscribe?: (accessToken: string, externalUserId: string) => Promise<void>
  // Verifies and reads an inbound webhook.
  webhook: (request: InboundWebhook) => WebhookOutcome
  // Records for one notification's work.
  fetchWork: (work: ProviderWork, ctx: FetchContext) => Promise<FetchedRecords>
  // Records of a range of local days: backfill on connect and reconciliation.
  fetchDays: (from: string, to: string, ctx: FetchContext) => Promise<FetchedRecords>
  // Revokes our access at the provider (disconnect).
  revoke: (tokens: { accessToken: string, refreshToken: string | null }) => Promise<void>
}
