import fp from 'fastify-plugin'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import { decorateOpenApi } from '../lib/openapi-decorate.ts'
import { SEQ_RULE } from '../schemas/realtime.ts'
import { DOMAIN_EVENT_TYPES } from '../schemas/domain-events.ts'
import { eventDescription, WEBHOOK_HEADERS, webhookMessageSchema } from '../schemas/webhooks.ts'

export const API_TAGS = [
  { name: 'health', description: 'Liveness and readiness' },
  { name: 'users', description: 'Profiles, avatars, dashboard, activity and wallet' },
  { name: 'competitions', description: 'Competition lifecycle, joining and leaving' },
  { name: 'leaderboard', description: 'Rankings and score updates' },
  { name: 'prizes', description: 'Prize calculation and distribution' },
  { name: 'fitness', description: 'Fitness data sync and statistics' },
  { name: 'admin', description: 'Operator actions' },
  { name: 'webhooks', description: 'Outbound webhooks (Standard Webhooks): endpoints, delivery log, replays' },
  { name: 'payments', description: 'Money in and out through Stripe: wallet, deposits, payout account, withdrawals, Stripe events' },
  {
    name: 'connections',
    description: 'Cloud fitness services (Fitbit, Garmin, Strava, Oura) connected with OAuth 2.0 and PKCE; their redirects and webhooks'
  },
  {
    name: 'notifications',
    description: 'What happened to you: the in-app inbox, push devices, preferences. New notifications also arrive on the ' +
      'user\'s open leaderboard WebSockets as {"type":"notification","notification":{...}} (the inbox item\'s shape)'
  }
]

// The OpenAPI 3.1 `webhooks` object: what an endpoint receives, one entry per event type, built
// from the same payload schemas the outbox is written with.
function webhooksDocument () {
  const parameters = Object.entries(WEBHOOK_HEADERS).map(([name, description]) => ({ name, in: 'header', required: true, description, schema: { type: 'string' as const } }))
  return Object.fromEntries(DOMAIN_EVENT_TYPES.map((type) => [type, {
    post: {
      operationId: `webhook.${type}`,
      tags: ['webhooks'],
      summary: eventDescription(type),
      description: 'Signed per the Standard Webhooks specification; verify with any of its libraries and the endpoint secret. ' +
        'Retried with exponential backoff until a 2xx answer: deduplicate on webhook-id.',
      security: [],
      parameters,
      requestBody: { required: true, content: { 'application/json': { schema: JSON.parse(JSON.stringify(webhookMessageSchema(type))) } } },
      responses: {
        '2XX': { description: 'Received. Any other answer, a redirect, or none within the timeout is retried; after the last retry the endpoint is disabled.' }
      }
    }
  }]))
}

export default fp(async function docsPlugin (fastify) {
  // Every operation is named after its handler, so generated clients get stable method and type
  // names (listCompetitions, joinCompetition, ...). A test of the document refuses an operation
  // left without one (an anonymous handler, or a name already taken).
  const operationIds = new Set<string>()
  fastify.addHook('onRoute', (route) => {
    if (route.method === 'HEAD' || route.schema?.hide === true) return
    const schema = route.schema ??= {}
    const operationId = (schema as { operationId?: string }).operationId ?? route.handler.name
    if (operationId === '' || operationIds.has(operationId)) return
    operationIds.add(operationId)
    Object.assign(schema, { operationId })
  })

  await fastify.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Health Competition API',
        description: 'Competitions, fitness sync, live leaderboards and prizes. Money is in integer minor units; times are ISO-8601 UTC.\n\n' +
          'Live updates: `WS /ws/leaderboard/{competitionId}?token=JWT` sends a `snapshot`, then `update` frames with sequence numbers; ' +
          'reconnect with `&seq=n` or send `{"type":"resume","seq":n}` to get the missed frames (or a fresh snapshot). ' +
          '`/live/{competitionId}` is a ready-made page that shows it; `/docs/asyncapi.json` describes the feed (AsyncAPI 3). ' + SEQ_RULE,
        version: '1.0.0'
      },
      servers: fastify.config.PUBLIC_URL ? [{ url: fastify.config.PUBLIC_URL }] : [],
      tags: API_TAGS,
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: 'Supabase access token (HS256 with the project secret, or RS256/ES256 with a key from the project\'s JWKS). ' +
              'The first call with a valid token, whatever the operation and whether it then succeeds, creates the caller\'s user ' +
              '(id from `sub`, email and display name from the token\'s claims). Refused tokens count against the caller\'s ' +
              'address rate limit, then answer 429 with Retry-After.'
          }
        }
      },
      security: [{ bearerAuth: [] }],
      webhooks: webhooksDocument()
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`)
    },
    // Examples, status descriptions and the shared Error component for every route, derived
    // from the route schemas (a copy: the route schemas themselves are never touched).
    transformObject: (document) => 'openapiObject' in document
      ? decorateOpenApi(structuredClone(document.openapiObject))
      : document.swaggerObject
  })
  await fastify.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    // Swagger UI styles some elements inline (response highlighting); a hash list would block
    // those, so its style-src allows inline styles like the rest of the service does.
    transformStaticCSP: (header) => header.replace(/style-src [^;]*/, "style-src 'self' https: 'unsafe-inline'"),
    // No validator badge: it would send the document's URL to a third-party validator.
    uiConfig: { persistAuthorization: true, deepLinking: true, tryItOutEnabled: true, displayRequestDuration: true, filter: true, validatorUrl: null }
  })
}, { name: 'docs', dependencies: ['config'] })
