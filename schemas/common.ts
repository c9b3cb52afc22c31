import { Type, type Static, type TSchema } from 'typebox'

export const UuidSchema = Type.String({ format: 'uuid', description: 'A uuid', examples: ['6f1c4b7e-2d3a-4c5b-8e9f-0a1b2c3d4e5f'] })
export const TimestampSchema = Type.String({ format: 'date-time', description: 'ISO-8601 UTC', examples: ['2026-11-02T08:30:00.000Z'] })
export const MinorUnitsSchema = Type.Integer({ minimum: 0, description: 'Money in integer minor units (e.g. cents)', examples: [2500] })
export const CurrencySchema = Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO-4217 currency code', examples: ['USD'] })
export const DaySchema = Type.String({ format: 'date', description: 'A calendar day, YYYY-MM-DD' })

// Every date and time a client sends lies in the years 2000 to 2099: far enough back for any
// device's history, far enough ahead for any competition, and always a four-digit year, so
// day arithmetic stays exact and days compare as strings (an expanded year such as +010000
// would sort before 9999 and never end a loop over days).
export const EARLIEST_DAY = '2000-01-01'
export const LATEST_DAY = '2099-12-31'
const YEAR_BOUNDS = 'between 2000-01-01 and 2099-12-31'
const BOUNDED_YEAR = '^20[0-9]{2}-'

// A calendar day a client sends, YYYY-MM-DD.
export function DayInputSchema (description: string) {
  return Type.String({ format: 'date', pattern: `${BOUNDED_YEAR}[0-9]{2}-[0-9]{2}$`, description: `${description}. A day ${YEAR_BOUNDS}` })
}

// An instant a client sends, ISO-8601 with a UTC offset (Z or +hh:mm).
export function TimestampInputSchema (description: string) {
  return Type.String({ format: 'date-time', pattern: BOUNDED_YEAR, description: `${description}. A date ${YEAR_BOUNDS}` })
}

export const CursorSchema = Type.String({ maxLength: 200, description: 'Opaque cursor from a previous page' })
export const LimitSchema = Type.Integer({ minimum: 1, maximum: 100, default: 20 })
export const IdempotencyKeySchema = Type.String({ minLength: 1, maxLength: 200, pattern: '^[\\x21-\\x7e]+$', description: 'Unique per logical operation; a retry with the same key changes nothing', examples: ['join-2026-11-02-ada-1'] })

// Ajv's removeAdditional: 'all' would strip every header a schema does not list from the
// request itself (authorization, user-agent, ...); patternProperties marks them all as known.
const KEEP_OTHER_HEADERS = { patternProperties: { '^': {} } }
export const IdempotencyHeadersSchema = Type.Object({ 'idempotency-key': Type.Optional(IdempotencyKeySchema) }, KEEP_OTHER_HEADERS)
export const RequiredIdempotencyHeadersSchema = Type.Object({ 'idempotency-key': IdempotencyKeySchema }, KEEP_OTHER_HEADERS)

// Conditional reads (lib/conditional.ts): send the ETag of the copy held, get 304 while it is
// current. If-None-Match is read as it comes (any text is a valid list of tags), so the routes
// declare no header schema, which would cost a validation of every header on hot reads; the
// API document lists it for every operation that answers 304 (lib/openapi-decorate.ts).
export const NotModifiedSchema = Type.Null({ description: 'Not modified: the copy whose ETag was sent in If-None-Match is current (no body)' })

export const ErrorSchema = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String(),
  requestId: Type.String(),
  details: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() })))
}, { $id: 'Error', description: 'The shape of every 4xx and 5xx response' })
export type ErrorBody = Static<typeof ErrorSchema>

export const NextCursorSchema = Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page; null at the end' })
export const PrevCursorSchema = Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the previous page; null on the first' })

// A list that can only be walked forward (its store pages one way): no prevCursor.
export function ForwardPageSchema<T extends TSchema> (item: T) {
  return Type.Object({ items: Type.Array(item), nextCursor: NextCursorSchema }, pageTitle(item))
}

export const PageQuerySchema = Type.Object({
  cursor: Type.Optional(CursorSchema),
  limit: Type.Optional(LimitSchema)
})

// A page of named items is named after them (a page of Deposit is DepositPage).
function pageTitle (item: TSchema): { title?: string } {
  const title = (item as { title?: unknown }).title
  return typeof title === 'string' ? { title: `${title}Page` } : {}
}

// A page of a list.
export function PageSchema<T extends TSchema> (item: T) {
  return Type.Object({ items: Type.Array(item), nextCursor: NextCursorSchema, prevCursor: PrevCursorSchema }, pageTitle(item))
}

// Error responses a route may return, by status, for the OpenAPI document.
export function errorResponses (...codes: number[]): Record<number, typeof ErrorSchema> {
  return Object.fromEntries(codes.map((code) => [code, ErrorSchema]))
}

export const IdParamsSchema = Type.Object({ id: UuidSchema })
export const UserIdParamsSchema = Type.Object({ userId: UuidSchema })
