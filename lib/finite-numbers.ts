// Query strings and path parameters are coerced from text, and Ajv coerces "Infinity" and
// "1e999" (any run of digits too long for a double) to Infinity, which then skips every
// minimum and maximum, so `?limit=1e999` would pass `maximum: 100` (ajv-validator/ajv#2212).
// This Ajv plugin makes every validator the instance compiles refuse a value that holds a
// non-finite number after coercion, with the same error shape as a schema failure.

interface ValidationError { instancePath: string, schemaPath: string, keyword: string, params: Record<string, unknown>, message?: string }
// Ajv's own types come with Ajv, which is Fastify's dependency rather than ours.
interface Validate {
  (data: unknown, context?: any): unknown // context: Ajv's DataValidationCxt
  errors?: ValidationError[] | null
  schemaEnv?: unknown
  schema?: unknown
}
interface Compiling { compile: (schema: object, meta?: boolean) => Validate }

// The JSON pointer of the first non-finite number in `value`, or undefined.
function nonFinitePath (value: unknown, path: string, depth: number): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : path
  if (typeof value !== 'object' || value === null || depth > 32) return undefined
  for (const [key, item] of Object.entries(value)) {
    const found = nonFinitePath(item, `${path}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`, depth + 1)
    if (found !== undefined) return found
  }
  return undefined
}

function refuseNonFinite (validate: Validate): Validate {
  const finite: Validate = function validateFinite (data, context) {
    const valid = validate(data, context)
    finite.errors = validate.errors
    if (valid !== true) return valid
    // A root value coerced in place lives in the parent Fastify passes (request.query, ...).
    const { parentData, parentDataProperty } = (context ?? {}) as { parentData?: Record<string, unknown>, parentDataProperty?: string }
    const value = parentData !== undefined && parentDataProperty !== undefined ? parentData[parentDataProperty] : data
    const path = nonFinitePath(value, '', 0)
    if (path === undefined) return true
    finite.errors = [{ instancePath: path, schemaPath: '#/type', keyword: 'type', params: { type: 'number' }, message: 'must be a finite number' }]
    return false
  }
  finite.schemaEnv = validate.schemaEnv
  finite.schema = validate.schema
  return finite
}

export function finiteNumbers<T extends Compiling> (ajv: T): T {
  const compile = ajv.compile.bind(ajv)
  ajv.compile = (schema, meta) => refuseNonFinite(compile(schema, meta))
  return ajv
}
