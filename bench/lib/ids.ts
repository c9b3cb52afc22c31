import { createHash } from 'node:crypto'

// Deterministic ids shared by the SQL seed and the load generators: md5 of a label, read as a
// uuid. Postgres computes the same with md5(label)::uuid.
export function benchUuid (label: string): string {
  const h = createHash('md5').update(label).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

export const userId = (i: number): string => benchUuid(`bench-user-${i}`)
export const competitionId = (name: string): string => benchUuid(`bench-competition-${name}`)
