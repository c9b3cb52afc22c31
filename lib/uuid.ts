// A UUID in its canonical text form, either case (Postgres accepts both and answers lowercase).
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export function isUuid (value: string): boolean {
  return UUID.test(value)
}

// Only the lowercase form Postgres writes: where an id is compared or sorted as text.
export function isLowercaseUuid (value: string): boolean {
  return UUID.test(value) && value === value.toLowerCase()
}
