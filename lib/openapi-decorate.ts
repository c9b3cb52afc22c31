import { STATUS_CODES } from './http-status.ts'
import { documentedCode, ERROR_CODES_BY_STATUS } from './error-codes.ts'
import { ErrorSchema } from '../schemas/common.ts'
import { hoistNamedSchemas } from './openapi-components.ts'
import { exampleFromSchema, SERVER_GIVEN_PARAMETERS, type RefResolver } from './openapi-examples.ts'

// Finishing touches on the generated OpenAPI document, applied to every route alike so no
// domain has to repeat them: one shared Error component, a description for every status,
// the errors every route can return, and an example for every parameter, body and response.

type Obj = Record<string, any>

const ERROR_REF = '#/components/schemas/Error'
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']

const ERROR_DESCRIPTIONS: Record<string, string> = {
  400: 'Bad request: a field failed validation (`details` names it) or the request is malformed',
  401: 'Missing, expired or invalid bearer token',
  403: 'Signed in, but not allowed to act on this resource',
  404: 'Not found',
  409: 'Conflict with the current state (duplicate, full, already done, insufficient funds)',
  413: 'Payload too large',
  415: 'Unsupported media type',
  422: 'Well-formed but not acceptable in the current state',
  429: 'Rate limit exceeded: wait for `Retry-After` seconds',
  500: 'Unexpected failure; the body never shows internals',
  502: 'A payment gateway or fitness service refused the request or answered something unusable',
  503: 'A data store or provider is temporarily unavailable, the service is overloaded or restarting, or the feature is not ' +
    'configured (PAYMENTS_DISABLED): retry after `Retry-After` seconds'
}

const IF_NONE_MATCH = 'The ETag of the copy the caller holds (or a list of them): 304 Not Modified, no body, while it is current'
const CONDITIONAL_HEADERS = {
  ETag: { description: 'The version of this answer: send it back in If-None-Match to get 304 while it is current', schema: { type: 'string' } },
  'Cache-Control': { description: 'private, no-cache: keep it, but ask again (with If-None-Match) before using it', schema: { type: 'string' } }
}

const SUCCESS_DESCRIPTIONS: Record<string, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No content'
}

const ERROR_KEYS = JSON.stringify(Object.keys(ErrorSchema.properties).sort())
const ERROR_DESCRIPTION = (ErrorSchema as { description?: string }).description

function isErrorSchema (schema: unknown): boolean {
  if (typeof schema !== 'object' || schema === null) return false
  const s = schema as Obj
  if (s.$ref === ERROR_REF) return true
  return s.type === 'object' && typeof s.properties === 'object' &&
    JSON.stringify(Object.keys(s.properties).sort()) === ERROR_KEYS
}

function errorExample (status: string): Obj {
  const statusCode = Number(status)
  const example: Obj = {
    statusCode,
    code: documentedCode(statusCode, undefined),
    error: STATUS_CODES[statusCode] ?? 'Error',
    message: ERROR_DESCRIPTIONS[status]?.split(':')[0] ?? 'Request failed',
    requestId: 'req-6f1c4b7e'
  }
  if (statusCode === 400) {
    example.message = 'body.name must NOT have fewer than 1 characters'
    example.details = [{ field: 'body.name', message: 'must NOT have fewer than 1 characters' }]
  }
  return example
}

// One component per status, e.g. ConflictError: the Error shape with the codes that status
// carries (lib/error-codes.ts) as an enum, so clients can switch on them.
function statusErrorName (status: string): string {
  const words = (STATUS_CODES[Number(status)] ?? `Status ${status}`).replace(/[^A-Za-z0-9 ]/g, ' ').split(' ').filter(Boolean)
  return `${words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('').replace(/Error$/, '')}Error`
}

function statusErrorSchema (status: string): Obj {
  const codes = ERROR_CODES_BY_STATUS.get(Number(status))
  if (codes === undefined) return { $ref: ERROR_REF }
  return {
    allOf: [
      { $ref: ERROR_REF },
      { type: 'object', required: ['code'], properties: { code: { type: 'string', enum: [...codes], description: `What went wrong; ${FALLBACK_NOTE}` } } }
    ]
  }
}
const FALLBACK_NOTE = 'new codes may be added to this list, so treat an unknown one like the status alone'

function errorContent (status: string, schemas: Obj): Obj {
  const name = statusErrorName(status)
  schemas[name] ??= statusErrorSchema(status)
  return { 'application/json': { schema: { $ref: `#/components/schemas/${name}` }, example: errorExample(status) } }
}

function decorateResponses (operation: Obj, resolve: RefResolver, secured: boolean, schemas: Obj): void {
  const responses: Obj = operation.responses ??= {}
  for (const [status, response] of Object.entries(responses) as Array<[string, Obj]>) {
    const json = response.content?.['application/json']
    const isError = Number(status) >= 400
    if (isError && (json === undefined || isErrorSchema(json.schema))) {
      response.content = errorContent(status, schemas)
    } else if (json?.schema !== undefined && json.example === undefined && json.examples === undefined) {
      const example = exampleFromSchema(json.schema, resolve)
      if (example !== undefined) json.example = example
    }
    if (response.description === undefined || response.description === 'Default Response' ||
      response.description === ERROR_DESCRIPTION) {
      response.description = (isError ? ERROR_DESCRIPTIONS[status] : SUCCESS_DESCRIPTIONS[status]) ??
        STATUS_CODES[Number(status)] ?? 'Response'
    }
  }
  // Every route validates its input and every secured route checks the token; any route may
  // fail unexpectedly (500) or find a store unavailable or the service overloaded (503).
  const hasInput = (operation.parameters?.length ?? 0) > 0 || operation.requestBody !== undefined
  const implied = [...(hasInput ? ['400'] : []), ...(secured ? ['401'] : []), '500', '503']
  for (const status of implied) {
    responses[status] ??= { description: ERROR_DESCRIPTIONS[status], content: errorContent(status, schemas) }
  }
  if (responses['503']) {
    responses['503'].headers ??= { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' } } }
  }
  // A conditional read (lib/conditional.ts) takes If-None-Match and states its validators on the
  // full answer and the 304.
  if (responses['304'] !== undefined) {
    const parameters: Obj[] = operation.parameters ??= []
    if (!parameters.some((p) => p.in === 'header' && String(p.name).toLowerCase() === 'if-none-match')) {
      parameters.push({ name: 'If-None-Match', in: 'header', required: false, description: IF_NONE_MATCH, schema: { type: 'string' }, example: '"1795574609304372000.6f1c4b7e-2d3a-4c5b-8e9f-0a1b2c3d4e5f.-"' })
    }
    for (const status of ['200', '304']) {
      if (responses[status] !== undefined) responses[status].headers = { ...CONDITIONAL_HEADERS, ...responses[status].headers }
    }
  }
  if (responses['429']) {
    responses['429'].headers ??= { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' } } }
  }
}

// The server fills in defaults, so a caller may leave those fields out: in inputs, a field
// with a default is optional (TypeBox lists it as required, which generated clients follow).
function relaxDefaults (schema: unknown, depth = 0): void {
  if (typeof schema !== 'object' || schema === null || depth > 8) return
  const s = schema as Obj
  if (Array.isArray(s.required) && typeof s.properties === 'object') {
    s.required = s.required.filter((name: string) => s.properties[name]?.default === undefined)
    if (s.required.length === 0) delete s.required
  }
  for (const key of ['properties', 'patternProperties']) {
    for (const sub of Object.values((s[key] ?? {}) as Obj)) relaxDefaults(sub, depth + 1)
  }
  for (const key of ['anyOf', 'oneOf', 'allOf']) {
    for (const sub of (s[key] ?? []) as unknown[]) relaxDefaults(sub, depth + 1)
  }
  if (s.items !== undefined) relaxDefaults(s.items, depth + 1)
}

// A body schema that accepts null accepts no body at all (Fastify validates a missing body as
// null), so the document must not mark it required (@fastify/swagger always does).
function acceptsNull (schema: unknown, resolve: RefResolver, depth = 0): boolean {
  if (typeof schema !== 'object' || schema === null || depth > 8) return false
  const s = schema as Obj
  if (typeof s.$ref === 'string') return acceptsNull(resolve(s.$ref), resolve, depth + 1)
  if (s.type === 'null' || (Array.isArray(s.type) && s.type.includes('null'))) return true
  return [...(s.anyOf ?? []), ...(s.oneOf ?? [])].some((sub: unknown) => acceptsNull(sub, resolve, depth + 1))
}

function decorateInputs (operation: Obj, resolve: RefResolver): void {
  for (const parameter of (operation.parameters ?? []) as Obj[]) {
    if (parameter.in !== 'path' && parameter.required === true && parameter.schema?.default !== undefined) parameter.required = false
    if (parameter.example !== undefined || parameter.examples !== undefined || SERVER_GIVEN_PARAMETERS.has(parameter.name)) continue
    const example = exampleFromSchema(parameter.schema, resolve, parameter.name)
    if (example !== undefined) parameter.example = example
  }
  const bodies = Object.values((operation.requestBody?.content ?? {}) as Obj)
  if (bodies.length > 0 && bodies.every((media) => acceptsNull(media.schema, resolve))) operation.requestBody.required = false
  for (const media of bodies) {
    relaxDefaults(media.schema)
    if (media.schema === undefined || media.example !== undefined || media.examples !== undefined) continue
    const example = exampleFromSchema(media.schema, resolve)
    if (example !== undefined) media.example = example
  }
}

export function decorateOpenApi<T extends Obj> (document: T): T {
  const components: Obj = (document as Obj).components ??= {}
  const schemas: Obj = components.schemas ??= {}
  const { $id: _id, ...errorSchema } = JSON.parse(JSON.stringify(ErrorSchema)) as Obj
  schemas.Error ??= errorSchema
  const resolve: RefResolver = (ref) => ref.startsWith('#/components/schemas/') ? schemas[ref.slice(21)] : undefined
  const globalSecured = Array.isArray(document.security) && document.security.length > 0

  const operations = operationsOf(document)
  for (const operation of operations) {
    const secured = Array.isArray(operation.security) ? operation.security.length > 0 : globalSecured
    decorateInputs(operation, resolve)
    decorateResponses(operation, resolve, secured, schemas)
  }
  return hoistNamedSchemas(document, [...operations, ...operationsOf({ paths: document.webhooks })])
}

function operationsOf (document: Obj): Obj[] {
  return Object.values((document.paths ?? {}) as Obj).flatMap((pathItem: Obj) =>
    METHODS.map((method) => pathItem?.[method] as Obj | undefined).filter((operation) => operation !== undefined))
}
