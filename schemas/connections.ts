import { Type, type Static } from 'typebox'
import { TimestampSchema, UuidSchema } from './common.ts'
import { CLOUD_PROVIDERS } from '../services/providers/cloud/types.ts'

export const DISCONNECT_RULE = 'Disconnecting revokes our access at the provider and deletes the stored tokens. Data already ' +
  'synced stays counted (it was real activity, and competitions already scored on it); with deleteData=true the ' +
  'provider\'s records are deleted as well and running competitions are recomputed without them.'

export const CloudProviderSchema = Type.Enum([...CLOUD_PROVIDERS], { description: 'A cloud fitness service connected by OAuth' })

export const ProviderParamsSchema = Type.Object({ provider: CloudProviderSchema })
export const UserProviderParamsSchema = Type.Object({ userId: UuidSchema, provider: CloudProviderSchema })

export const ConnectionSchema = Type.Object({
  provider: CloudProviderSchema,
  label: Type.String({ examples: ['Fitbit'] }),
  connected: Type.Boolean(),
  status: Type.Enum(['active', 'reauthorize', 'disconnected'], {
    description: 'reauthorize: the provider refused our refresh token; the user must connect again'
  }),
  externalUserId: Type.Union([Type.String(), Type.Null()], { description: 'The account id at the provider' }),
  scope: Type.Union([Type.String(), Type.Null()], { description: 'What the user granted' }),
  connectedAt: Type.Union([TimestampSchema, Type.Null()]),
  lastSyncAt: Type.Union([TimestampSchema, Type.Null()], { description: 'When data last came in from the provider' }),
  lastError: Type.Union([Type.String(), Type.Null()]),
  lastErrorAt: Type.Union([TimestampSchema, Type.Null()])
}, { title: 'Connection', additionalProperties: false })
export type ConnectionView = Static<typeof ConnectionSchema>

export const ConnectionListSchema = Type.Object({
  items: Type.Array(ConnectionSchema, { description: 'Every provider this server is configured for, connected or not' })
}, { title: 'ConnectionList' })

export const AuthorizationSchema = Type.Object({
  provider: CloudProviderSchema,
  authorizeUrl: Type.String({ format: 'uri', description: 'Open in a browser: the provider asks the user, then redirects to the callback' }),
  state: Type.String({ description: 'Binds the provider\'s redirect to this request (single use)' }),
  expiresAt: TimestampSchema
}, { title: 'ConnectionAuthorization', additionalProperties: false })

export const CallbackQuerySchema = Type.Object({
  code: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
  state: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  error: Type.Optional(Type.String({ maxLength: 200 })),
  error_description: Type.Optional(Type.String({ maxLength: 2000 })),
  scope: Type.Optional(Type.String({ maxLength: 2000 }))
})

export const CallbackResultSchema = Type.Object({
  provider: CloudProviderSchema,
  status: Type.Enum(['connected', 'failed']),
  reason: Type.Optional(Type.String())
}, { title: 'ConnectionCallbackResult' })

export const DisconnectQuerySchema = Type.Object({
  deleteData: Type.Optional(Type.Boolean({ default: false, description: DISCONNECT_RULE }))
}, { additionalProperties: false })

export const DisconnectResultSchema = Type.Object({
  provider: CloudProviderSchema,
  revoked: Type.Boolean({ description: 'false when the provider could not be reached or had already forgotten the token' }),
  deletedRecords: Type.Integer({ minimum: 0 })
}, { title: 'DisconnectResult' })
