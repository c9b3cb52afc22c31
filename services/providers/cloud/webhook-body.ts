import { timingSafeEqual } from 'node:crypto'

// What the provider modules share when reading a webhook: the JSON body, and signatures
// compared in constant time.

export function jsonBody (body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'))
  } catch {
    return undefined
  }
}

export function sameBytes (given: Buffer, expected: Buffer): boolean {
  return given.length === expected.length && timingSafeEqual(given, expected)
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
