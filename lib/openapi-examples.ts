// Derives a plausible example value from a JSON schema, so every operation in the OpenAPI
// document shows (and Swagger UI pre-fills) a request and response that validate, even when
// the schema author gave no `examples`. Explicit examples, defaults, consts and enums win.

type Schema = Record<string, unknown>

// Parameters only the server can fill in: a page cursor comes from the previous page, and a
// made-up one is refused. Swagger UI sends every example it shows, so these get none.
export const SERVER_GIVEN_PARAMETERS: ReadonlySet<string> = new Set(['cursor'])
export type RefResolver = (ref: string) => Schema | undefined

const MAX_DEPTH = 8

// Stable values, so the document (and the client generated from it) never changes by itself.
const FORMAT_EXAMPLES: Record<string, string> = {
  uuid: '6f1c4b7e-2d3a-4c5b-8e9f-0a1b2c3d4e5f',
  'date-time': '2026-11-02T08:30:00.000Z',
  date: '2026-11-02',
  time: '08:30:00Z',
  email: 'ada@example.com',
  uri: 'https://example.com/resource',
  url: 'https://example.com/resource',
  'uri-reference': '/resource',
  hostname: 'example.com',
  ipv4: '192.0.2.10',
  ipv6: '2001:db8::10',
  byte: 'aGVsbG8=',
  binary: '<binary>'
}

// Field names that read better with a realistic value than with "string".
const NAME_EXAMPLES: Array<[RegExp, string]> = [
  [/avatar.*url|image.*url|photo/i, 'https://example.com/avatars/ada.webp'],
  [/url$/i, 'https://example.com/resource'],
  [/^email$/i, 'ada@example.com'],
  [/^username$/i, 'ada'],
  [/display.?name|full.?name|^name$/i, 'Ada Lovelace'],
  [/time.?zone|^tz$/i, 'Europe/London'],
  [/currency/i, 'USD'],
  [/idempotency/i, 'join-2026-11-02-ada-1'],
  [/token/i, 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...'],
  [/cursor/i, 'eyJzIjoxMjAwLCJpZCI6IjZmMWMifQ'],
  [/description|bio/i, 'Walk more this November'],
  [/message|reason/i, 'Explained in words']
]

function isObject (value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function fromPattern (pattern: string): string | undefined {
  // Only the patterns common in this API; anything else falls back to the generic string.
  if (pattern === '^[A-Z]{3}$') return 'USD'
  if (/^\^\[[^\]]+\]\+\$$/.test(pattern)) return 'key-1'
  return undefined
}

function stringExample (schema: Schema, name: string | undefined): string {
  const format = typeof schema.format === 'string' ? schema.format : undefined
  if (format && FORMAT_EXAMPLES[format] !== undefined) return FORMAT_EXAMPLES[format]
  const byPattern = typeof schema.pattern === 'string' ? fromPattern(schema.pattern) : undefined
  if (byPattern !== undefined) return byPattern
  const byName = name === undefined ? undefined : NAME_EXAMPLES.find(([re]) => re.test(name))?.[1]
  let value = byName ?? 'string'
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0
  const max = typeof schema.maxLength === 'number' ? schema.maxLength : Infinity
  if (value.length > max) value = value.slice(0, max)
  while (value.length < min) value += 'x'
  return value
}

function numberExample (schema: Schema, integer: boolean): number {
  const min = typeof schema.minimum === 'number'
    ? schema.minimum
    : typeof schema.exclusiveMinimum === 'number' ? schema.exclusiveMinimum + (integer ? 1 : 0.5) : undefined
  const max = typeof schema.maximum === 'number'
    ? schema.maximum
    : typeof schema.exclusiveMaximum === 'number' ? schema.exclusiveMaximum - (integer ? 1 : 0.5) : undefined
  let value = integer ? 10 : 1.5
  if (min !== undefined && value < min) value = min
  if (max !== undefined && value > max) value = max
  if (typeof schema.multipleOf === 'number' && schema.multipleOf > 0) value = Math.ceil(value / schema.multipleOf) * schema.multipleOf
  return value
}

function firstType (schema: Schema): string | undefined {
  if (typeof schema.type === 'string') return schema.type
  if (Array.isArray(schema.type)) return schema.type.find((t) => t !== 'null') ?? schema.type[0]
  if (isObject(schema.properties)) return 'object'
  if (schema.items !== undefined) return 'array'
  return undefined
}

export function exampleFromSchema (schema: unknown, resolve: RefResolver, name?: string, depth = 0): unknown {
  if (!isObject(schema) || depth > MAX_DEPTH) return undefined
  if (typeof schema.$ref === 'string') return exampleFromSchema(resolve(schema.$ref), resolve, name, depth + 1)
  if (schema.example !== undefined) return schema.example
  if (Array.isArray(schema.examples) && schema.examples.length > 0) return schema.examples[0]
  if (schema.const !== undefined) return schema.const
  if (schema.default !== undefined) return schema.default
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0]

  const variants = (schema.anyOf ?? schema.oneOf) as unknown
  if (Array.isArray(variants) && variants.length > 0) {
    // Prefer a non-null branch: `null` is rarely the interesting example.
    const chosen = variants.find((v) => !(isObject(v) && v.type === 'null')) ?? variants[0]
    return exampleFromSchema(chosen, resolve, name, depth + 1)
  }
  if (Array.isArray(schema.allOf)) {
    const parts = schema.allOf.map((s) => exampleFromSchema(s, resolve, name, depth + 1))
    if (parts.every(isObject)) return Object.assign({}, ...parts)
    return parts.find((p) => p !== undefined)
  }

  switch (firstType(schema)) {
    case 'object': {
      const properties = isObject(schema.properties) ? schema.properties : {}
      const out: Record<string, unknown> = {}
      for (const [key, sub] of Object.entries(properties)) {
        const value = exampleFromSchema(sub, resolve, key, depth + 1)
        if (value !== undefined) out[key] = value
      }
      return out
    }
    case 'array': {
      const item = exampleFromSchema(schema.items, resolve, name, depth + 1)
      const count = typeof schema.minItems === 'number' && schema.minItems > 1 ? schema.minItems : 1
      return item === undefined ? [] : Array.from({ length: count }, () => item)
    }
    case 'string': return stringExample(schema, name)
    case 'integer': return numberExample(schema, true)
    case 'number': return numberExample(schema, false)
    case 'boolean': return true
    case 'null': return null
    default: return undefined
  }
}
