import { NotificationSchema } from '../schemas/notifications.ts'
import {
  CloseCodes, FeedEntrySchema, OwnChangeSchema, PingMessageSchema, ResumeMessageSchema, SEQ_RULE, ServerFrameSchemas, SocketQuerySchema, UpdateEntrySchema
} from '../schemas/realtime.ts'

// The AsyncAPI 3 document of the live feed, built from the schemas the feed's frames are
// validated and typed with, so the document cannot drift from what is sent.

const CLOSE_CODES: Record<keyof typeof CloseCodes, string> = {
  GOING_AWAY: 'the server is shutting down; reconnect (to another instance) and resume',
  TRY_AGAIN_LATER: 'live updates are unavailable for now, or too many refused connections; reconnect later',
  SLOW_CONSUMER: 'the client stopped reading and its unsent data passed the server\'s limit',
  TOO_MANY_MESSAGES: 'the client sent more messages per second than allowed',
  BAD_REQUEST: 'seq, limit (1-100) or k (0-50) is not an integer in range',
  UNAUTHORIZED: 'the token is missing, invalid or expired, or its account was deleted',
  NOT_FOUND: 'no such competition, or the caller may not see it'
}

const DESCRIPTION = [
  'The live leaderboard of a competition over a WebSocket: JSON text messages both ways.',
  'The first frame is a `snapshot` (the top `limit` entries, the caller\'s entry and `k` neighbours). Then `update` frames carry what changed in the ' +
    'client\'s view (upsert the entries, re-sort by the ranking rule, keep the first `limit`; `removed` left the competition) and `rank` frames the ' +
    'caller\'s own rank or score when nothing in its top moved: at most one per client per tick, none when nothing in its view changed. ' +
    '`notification` frames bring new inbox items, outside the seq numbering and never replayed.',
  'Resume by connecting with `?seq=n` or by sending `{"type":"resume","seq":n}`: a `resumed` frame and the missed frames in order, or a fresh ' +
    'snapshot when the server no longer holds them. `{"type":"ping"}` is answered with `{"type":"pong"}`; any other message with an `error` frame ' +
    '(the socket stays open). ' + SEQ_RULE,
  'A refused or dropped connection is closed with a code and a reason (browsers cannot read the status of a failed upgrade):\n\n' +
    Object.entries(CLOSE_CODES).map(([name, meaning]) => `- ${CloseCodes[name as keyof typeof CloseCodes]} ${name}: ${meaning}`).join('\n') +
    '\n- 1006 (abnormal closure): a client that stops reading for more than a second is cut off.'
].join('\n\n')

// One message per frame type (every server frame of ServerFrameSchemas, so a new one is
// documented too) and per client message, each with its payload schema's name.
const capital = (word: string): string => word.charAt(0).toUpperCase() + word.slice(1)
const SERVER_MESSAGES: Record<string, [string, unknown]> = Object.fromEntries(
  Object.entries(ServerFrameSchemas).map(([type, schema]) => [type, [`${capital(type)}Frame`, schema]]))
const CLIENT_MESSAGES: Record<string, [string, unknown]> = { resume: ['ResumeMessage', ResumeMessageSchema], ping: ['PingMessage', PingMessageSchema] }
const MESSAGES = { ...SERVER_MESSAGES, ...CLIENT_MESSAGES }

// Every named schema once under components.schemas; where it is nested in another, a $ref.
const SCHEMAS: Record<string, unknown> = {
  ...Object.fromEntries(Object.values(MESSAGES)),
  LeaderboardEntry: FeedEntrySchema,
  UpdateEntry: UpdateEntrySchema,
  OwnChange: OwnChangeSchema,
  Notification: NotificationSchema
}

// Keywords the AsyncAPI schema format refuses (its discriminator is a string) or that would
// change how the document's $refs resolve ($id); none of the schemas above has them today.
const DROPPED = new Set(['$id', 'discriminator'])

// A JSON copy of a TypeBox schema (plain JSON Schema), nested named schemas replaced by $refs.
function copy (schema: unknown, byJson: Map<string, string>, top = true): unknown {
  if (Array.isArray(schema)) return schema.map((item) => copy(item, byJson, false))
  if (typeof schema !== 'object' || schema === null) return schema
  const name = top ? undefined : byJson.get(JSON.stringify(schema))
  if (name !== undefined) return { $ref: `#/components/schemas/${name}` }
  return Object.fromEntries(Object.entries(schema).filter(([key]) => !DROPPED.has(key)).map(([key, value]) => [key, copy(value, byJson, false)]))
}

const channelMessages = (types: Record<string, unknown>) => Object.keys(types).map((type) => ({ $ref: `#/channels/leaderboard/messages/${type}` }))

export function asyncApiDocument (opts: { publicUrl: string, version: string }): Record<string, unknown> {
  const byJson = new Map(Object.entries(SCHEMAS).map(([name, schema]) => [JSON.stringify(schema), name]))
  const url = opts.publicUrl ? new URL(opts.publicUrl) : undefined
  // limit and k have defaults: only the token must be sent.
  const query = copy(SocketQuerySchema, byJson) as { properties: Record<string, { default?: unknown }>, required: string[] }
  query.required = query.required.filter((key) => query.properties[key]?.default === undefined)
  return {
    asyncapi: '3.0.0',
    info: { title: 'Health Competition live feed', version: opts.version, description: DESCRIPTION },
    defaultContentType: 'application/json',
    servers: {
      // Without PUBLIC_URL: the service on its default port.
      api: url
        ? { host: url.host, protocol: url.protocol === 'https:' ? 'wss' : 'ws', description: 'The service' }
        : { host: 'localhost:8080', protocol: 'ws', description: 'The service on this machine' }
    },
    channels: {
      leaderboard: {
        address: '/ws/leaderboard/{competitionId}',
        title: 'Live leaderboard',
        parameters: { competitionId: { description: 'The competition\'s id (a uuid)' } },
        messages: Object.fromEntries(Object.keys(MESSAGES).map((type) => [type, { $ref: `#/components/messages/${type}` }])),
        bindings: { ws: { method: 'GET', query, bindingVersion: '0.1.0' } }
      }
    },
    operations: {
      sendFrames: {
        action: 'send',
        channel: { $ref: '#/channels/leaderboard' },
        summary: 'Frames the server sends to a client',
        messages: channelMessages(SERVER_MESSAGES)
      },
      receiveClientMessages: {
        action: 'receive',
        channel: { $ref: '#/channels/leaderboard' },
        summary: 'Messages a client may send; anything else is answered with an error frame',
        messages: channelMessages(CLIENT_MESSAGES)
      }
    },
    components: {
      messages: Object.fromEntries(Object.entries(MESSAGES).map(([type, [schema]]) => [type, {
        name: type,
        title: `${type} ${type in SERVER_MESSAGES ? 'frame' : 'message'}`,
        payload: { $ref: `#/components/schemas/${schema}` }
      }])),
      schemas: Object.fromEntries(Object.entries(SCHEMAS).map(([name, schema]) => [name, copy(schema, byJson)]))
    }
  }
}
