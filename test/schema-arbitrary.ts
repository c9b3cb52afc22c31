// fast-check arbitraries derived from the routes' JSON schemas (TypeBox output): values the
// schema accepts, values just outside it, and hostile values with no regard for it.
import fc from 'fast-check'

type Schema = Record<string, unknown>
const MAX_DEPTH = 6

function isObject (value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

// Payloads that have broken real services: injections, encodings, confusable or invisible
// characters, numbers at the edges, prototype keys.
export const HOSTILE_STRINGS = [
  "' OR '1'='1", "'; DROP TABLE users; --", '1; SELECT pg_sleep(10)--', '$1', '\\', '%', '_', "''",
  '<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', 'javascript:alert(1)', '{{7*7}}', '$' + '{7*7}',
  '../../../etc/passwd', '%2e%2e%2f', '%00', '\u0000', 'a\u0000b', '\r\nSet-Cookie: x=1', '\u202eevil', '\u200b', '\ufeff',
  '𝕳𝖊𝖑𝖑𝖔', '👩‍👩‍👧‍👦', 'Ω≈ç√∫', '🏃‍♀️'.repeat(20), 'ﷺ', 'Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇',
  '__proto__', 'constructor', 'prototype', 'null', 'undefined', 'NaN', 'Infinity', '-1', '0', '1e309', '9007199254740993',
  ' ', '', 'true', '[]', '{}', '\t\n'
]

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 80 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 80 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 200_000 }).map((n) => 'x'.repeat(n)) }
)

function nest (depth: number): unknown {
  let value: unknown = 'bottom'
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? { a: value } : [value]
  return value
}

// Anything JSON can carry, including shapes no schema expects.
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.integer(),
  fc.double(),
  fc.constantFrom(Number.MAX_SAFE_INTEGER + 2, -Number.MAX_SAFE_INTEGER - 2, 1e308, -1e308, 5e-324, -0, 0.1 + 0.2),
  fc.boolean(),
  fc.constant(null),
  fc.integer({ min: 50, max: 1500 }).map(nest),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 5 }),
  fc.dictionary(hostileString, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
  fc.constant({ __proto__: { isAdmin: true } }),
  fc.constant(JSON.parse('{"__proto__": {"isAdmin": true}, "constructor": {"prototype": {"role": "admin"}}}'))
)

const FORMATS: Record<string, fc.Arbitrary<string>> = {
  uuid: fc.uuid(),
  'date-time': fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59.999Z'), noInvalidDate: true }).map((d) => d.toISOString()),
  date: fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59.999Z'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
  email: fc.emailAddress(),
  uri: fc.webUrl(),
  binary: fc.string()
}

function validString (schema: Schema): fc.Arbitrary<string> {
  if (typeof schema.format === 'string' && FORMATS[schema.format]) return FORMATS[schema.format] as fc.Arbitrary<string>
  if (typeof schema.pattern === 'string') {
    const minLength = typeof schema.minLength === 'number' ? schema.minLength : 0
    const maxLength = typeof schema.maxLength === 'number' ? schema.maxLength : Infinity
    return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length >= minLength && s.length <= maxLength)
  }
  const minLength = typeof schema.minLength === 'number' ? schema.minLength : 0
  const maxLength = Math.min(typeof schema.maxLength === 'number' ? schema.maxLength : 200, 2000)
  return fc.oneof(
    fc.string({ unit: 'grapheme', minLength, maxLength }),
    fc.constantFrom(...HOSTILE_STRINGS).filter((s) => [...s].length >= minLength && s.length <= maxLength)
  ).filter((s) => s.length >= minLength && s.length <= maxLength)
}

function validNumber (schema: Schema, integer: boolean): fc.Arbitrary<number> {
  const min = typeof schema.minimum === 'number' ? schema.minimum : typeof schema.exclusiveMinimum === 'number' ? schema.exclusiveMinimum + 1 : undefined
  const max = typeof schema.maximum === 'number' ? schema.maximum : typeof schema.exclusiveMaximum === 'number' ? schema.exclusiveMaximum - 1 : undefined
  if (integer) {
    const lo = Math.max(min ?? Number.MIN_SAFE_INTEGER, Number.MIN_SAFE_INTEGER)
    const hi = Math.min(max ?? Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)
    return fc.oneof(fc.integer({ min: lo, max: hi }), fc.constantFrom(lo, hi))
  }
  return fc.double({ min: min ?? -1e12, max: max ?? 1e12, noNaN: true, noDefaultInfinity: true })
}

// Values the schema accepts (optional properties sometimes left out).
export function validArbitrary (schema: unknown, depth = 0): fc.Arbitrary<unknown> {
  if (!isObject(schema) || depth > MAX_DEPTH) return fc.constant(undefined)
  if (schema.const !== undefined) return fc.constant(schema.const)
  if (Array.isArray(schema.enum)) return fc.constantFrom(...schema.enum)
  const variants = (schema.anyOf ?? schema.oneOf) as unknown
  if (Array.isArray(variants) && variants.length > 0) return fc.oneof(...variants.map((v) => validArbitrary(v, depth + 1)))
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type ?? (isObject(schema.properties) ? 'object' : undefined)
  switch (type) {
    case 'object': {
      const properties = isObject(schema.properties) ? schema.properties : {}
      const required = new Set(Array.isArray(schema.required) ? schema.required as string[] : [])
      const record: Record<string, fc.Arbitrary<unknown>> = {}
      for (const [key, sub] of Object.entries(properties)) record[key] = validArbitrary(sub, depth + 1)
      const requiredKeys = Object.keys(properties).filter((k) => required.has(k))
      const minProperties = typeof schema.minProperties === 'number' ? schema.minProperties : 0
      return fc.record(record, { requiredKeys }).filter((o) => Object.keys(o).length >= minProperties)
    }
    case 'array': {
      const minLength = typeof schema.minItems === 'number' ? schema.minItems : 0
      const maxLength = Math.max(minLength, Math.min(typeof schema.maxItems === 'number' ? schema.maxItems : 5, 5))
      return fc.array(validArbitrary(schema.items, depth + 1), { minLength, maxLength })
    }
    case 'string': return validString(schema)
    case 'integer': return validNumber(schema, true)
    case 'number': return validNumber(schema, false)
    case 'boolean': return fc.boolean()
    case 'null': return fc.constant(null)
    default: return fc.jsonValue({ maxDepth: 2 })
  }
}

// Values near and past the schema's edges: each property valid, hostile or missing, plus
// keys the schema does not know.
export function edgeArbitrary (schema: unknown, depth = 0): fc.Arbitrary<unknown> {
  if (!isObject(schema) || depth > MAX_DEPTH) return hostileValue
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type ?? (isObject(schema.properties) ? 'object' : undefined)
  if (type === 'object' && isObject(schema.properties)) {
    const record: Record<string, fc.Arbitrary<unknown>> = {}
    for (const [key, sub] of Object.entries(schema.properties)) {
      record[key] = fc.oneof(validArbitrary(sub, depth + 1), edgeArbitrary(sub, depth + 1), hostileValue)
    }
    return fc.tuple(fc.record(record, { requiredKeys: [] }), fc.dictionary(hostileString, hostileValue, { maxKeys: 3 }))
      .map(([known, extra]) => ({ ...extra, ...known }))
  }
  if (type === 'array') {
    const max = typeof schema.maxItems === 'number' ? schema.maxItems : 10
    return fc.oneof(
      fc.array(fc.oneof(validArbitrary(schema.items, depth + 1), hostileValue), { maxLength: 5 }),
      // One past the limit, with valid items, to meet the batch caps.
      fc.constant(max + 1).chain((n) => fc.array(validArbitrary(schema.items, depth + 1), { minLength: Math.min(n, 2001), maxLength: Math.min(n, 2001) }))
    )
  }
  if (type === 'integer' || type === 'number') {
    const edges = [schema.minimum, schema.maximum].filter((v): v is number => typeof v === 'number').flatMap((v) => [v - 1, v + 1, v + 0.5])
    return fc.oneof(fc.constantFrom(...edges, 0.5, -1, 2 ** 53, 2 ** 63, NaN), hostileValue)
  }
  if (type === 'string') {
    const max = typeof schema.maxLength === 'number' ? schema.maxLength : 1000
    return fc.oneof(fc.constant('x'.repeat(max + 1)), fc.constant(''), hostileString)
  }
  return hostileValue
}

// Mostly-valid, edge and hostile values in one stream, so every run reaches the handlers too.
export function inputArbitrary (schema: unknown): fc.Arbitrary<unknown> {
  if (!isObject(schema)) return fc.oneof(fc.constant(undefined), hostileValue)
  return fc.oneof(
    { weight: 3, arbitrary: validArbitrary(schema) },
    { weight: 2, arbitrary: edgeArbitrary(schema) },
    { weight: 1, arbitrary: hostileValue }
  )
}
