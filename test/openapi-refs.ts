// The OpenAPI document with every local schema $ref replaced by the component it names, for
// tests that read a route's schema where it is used (the document names shared schemas once).
type Obj = Record<string, any>

export function inlineSchemaRefs<T> (document: T): T {
  const schemas = ((document as Obj).components?.schemas ?? {}) as Obj
  const inline = (value: unknown, depth: number): unknown => {
    if (Array.isArray(value)) return value.map((item) => inline(item, depth))
    if (typeof value !== 'object' || value === null) return value
    const { $ref, ...rest } = value as Obj
    if (typeof $ref === 'string' && $ref.startsWith('#/components/schemas/') && depth < 32) {
      return { ...(inline(schemas[$ref.slice(21)], depth + 1) as Obj), ...(inline(rest, depth) as Obj) }
    }
    return Object.fromEntries(Object.entries(value as Obj).map(([key, item]) => [key, inline(item, depth)]))
  }
  return inline(document, 0) as T
}
