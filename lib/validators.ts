// One validator choice per request part, stated here and nowhere else.
import { AjvCompiler } from '@fastify/ajv-compiler'
import type { FastifyServerOptions } from 'fastify'
import type { Options } from '@fastify/ajv-compiler'
import { finiteNumbers } from './finite-numbers.ts'

// Bodies are JSON: the client chose every type, so a value of the wrong type is refused,
// never converted ("100" is not 100, 0 is not null), and an unknown property is refused,
// never stripped (every body object declares additionalProperties: false). Unions of objects
// are told apart by a discriminator, so only the chosen variant's faults are reported.
const BODY_OPTIONS: Options = { coerceTypes: false, removeAdditional: false, useDefaults: true, discriminator: true }

// Both refuse a non-finite number (finite-numbers.ts): JSON's 1e999 and a coerced "Infinity"
// would otherwise pass every minimum and maximum.

// Query strings, path parameters and headers are strings on the wire: they coerce to the
// schema's types, and query keys a schema does not list are dropped.
const STRING_PART_OPTIONS: Options = { coerceTypes: 'array', removeAdditional: 'all', useDefaults: true, discriminator: true }

interface RouteSchema { schema: unknown, method: string, url: string, httpPart?: string }
type Compile = (route: RouteSchema) => unknown
type SchemaController = NonNullable<FastifyServerOptions['schemaController']>

export function validatorCompilers (): SchemaController {
  // Fastify's own Ajv factory (formats, safe defaults, an instance pool), twice.
  const bodyPool = AjvCompiler()
  const stringPartPool = AjvCompiler()
  function buildValidator (externalSchemas: Record<string, unknown>) {
    const body = bodyPool(externalSchemas as never, { customOptions: BODY_OPTIONS, plugins: [finiteNumbers] }) as unknown as Compile
    const stringPart = stringPartPool(externalSchemas as never, { customOptions: STRING_PART_OPTIONS, plugins: [finiteNumbers] }) as unknown as Compile
    return function compileForPart (route: RouteSchema) {
      return route.httpPart === 'body' ? body(route) : stringPart(route)
    }
  }
  return { compilersFactory: { buildValidator: buildValidator as never } }
}
