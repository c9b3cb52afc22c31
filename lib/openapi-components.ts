// Named schemas of the OpenAPI document. A schema gets a name by its `title` (given where it is
// declared, in schemas/); every place the document uses it becomes a $ref to one component, so
// generated clients get one named type per shape instead of an anonymous copy per operation.
// The route schemas keep their inline form: validation and serialization never see a $ref.

type Obj = Record<string, any>

const COMPONENTS_PREFIX = '#/components/schemas/'
const SCHEMA_LISTS = ['anyOf', 'oneOf', 'allOf', 'prefixItems']
const SCHEMA_MAPS = ['properties', 'patternProperties', '$defs']
const SCHEMA_VALUES = ['items', 'additionalProperties', 'not', 'contains']

interface Use { holder: Obj, key: string | number, input: boolean }

// Calls `visit` for every schema nested in `schema` (not `schema` itself), with where it sits.
function eachSubschema (schema: Obj, visit: (holder: Obj, key: string | number) => void): void {
  for (const key of SCHEMA_VALUES) if (isObject(schema[key])) visit(schema, key)
  for (const key of SCHEMA_LISTS) (schema[key] as unknown[] | undefined)?.forEach((_, i) => visit(schema[key], i))
  for (const key of SCHEMA_MAPS) for (const name of Object.keys((schema[key] ?? {}) as Obj)) visit(schema[key], name)
}

function isObject (value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

// Every titled schema of a tree, innermost first, so a named schema inside another named one is
// already a $ref when the outer one is compared and stored.
function collect (holder: Obj, key: string | number, input: boolean, uses: Map<string, Use[]>): void {
  const schema = holder[key]
  if (!isObject(schema)) return
  eachSubschema(schema, (h, k) => collect(h, k, input, uses))
  if (typeof schema.title !== 'string') return
  const list = uses.get(schema.title) ?? []
  list.push({ holder, key, input })
  uses.set(schema.title, list)
}

// The schemas of an operation: request body (input), parameters (input), responses (output).
function collectOperation (operation: Obj, uses: Map<string, Use[]>): void {
  for (const media of Object.values((operation.requestBody?.content ?? {}) as Obj)) collect(media, 'schema', true, uses)
  for (const parameter of (operation.parameters ?? []) as Obj[]) collect(parameter, 'schema', true, uses)
  for (const response of Object.values((operation.responses ?? {}) as Obj)) {
    for (const media of Object.values((response.content ?? {}) as Obj)) collect(media, 'schema', false, uses)
  }
}

const stable = (schema: Obj): string => JSON.stringify(schema, (key, value) => key === 'example' || key === 'examples' ? undefined : value)

// Moves every titled schema into components.schemas and points its uses there. The same title
// on two different shapes is a mistake in schemas/ and fails the document, except that the
// request side of a shape may differ from its response side (fields with a server default are
// optional in a request): that copy is named `<title>Input`.
export function hoistNamedSchemas<T extends Obj> (document: T, operations: Obj[]): T {
  const components: Obj = ((document as Obj).components ??= {}).schemas ??= {}
  const uses = new Map<string, Use[]>()
  for (const operation of operations) collectOperation(operation, uses)
  for (const [title, list] of uses) {
    const shapes = new Map<string, { name: string, uses: Use[] }>()
    // Responses first: the response side of a shape keeps the plain name.
    for (const use of list.sort((a, b) => Number(a.input) - Number(b.input))) {
      const shape = stable(use.holder[use.key])
      const known = shapes.get(shape)
      if (known !== undefined) { known.uses.push(use); continue }
      const name = shapes.size === 0 ? title : `${title}Input`
      if (shapes.size > 1 || (shapes.size === 1 && !use.input)) {
        throw new Error(`Two different schemas are titled "${title}": give one of them another title`)
      }
      shapes.set(shape, { name, uses: [use] })
    }
    for (const { name, uses: same } of shapes.values()) {
      const schema = same[0]!.holder[same[0]!.key] as Obj
      if (components[name] !== undefined && stable(components[name]) !== stable(schema)) {
        throw new Error(`The component "${name}" is declared twice with different shapes`)
      }
      components[name] = schema
      for (const use of same) use.holder[use.key] = { $ref: `${COMPONENTS_PREFIX}${name}` }
    }
  }
  // In name order, so the document and the clients generated from it read like an index.
  document.components.schemas = Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b)))
  return document
}
