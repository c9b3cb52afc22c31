// Validators for wire formats (WebSocket frames, hand-built response bodies) compiled the way
// the app compiles request bodies (lib/validators.ts): Fastify's Ajv with its formats, strict
// types, discriminated unions and finite numbers only. Plus a seeded pseudo-random generator
// for the property-style tests, so a failure replays with its seed.
import { AjvCompiler } from '@fastify/ajv-compiler'
import { finiteNumbers } from '../lib/finite-numbers.ts'

interface Validate {
  (data: unknown): boolean
  errors?: unknown[] | null
}
type Compile = (route: { schema: unknown, method: string, url: string, httpPart?: string }) => Validate

// No defaults: a validator must never fill in what the wire left out.
const compile = AjvCompiler()({} as never, {
  customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, discriminator: true, allErrors: true },
  plugins: [finiteNumbers]
} as never) as unknown as Compile

const compiled = new Map<unknown, Validate>()

// The faults of `value` against `schema` (compiled once per schema); [] when it conforms.
export function faults (schema: unknown, value: unknown): unknown[] {
  let validate = compiled.get(schema)
  if (!validate) {
    validate = compile({ schema, method: 'POST', url: '/wire', httpPart: 'body' })
    compiled.set(schema, validate)
  }
  return validate(value) ? [] : [...(validate.errors ?? [])]
}

// mulberry32: small, fast and good enough to generate test states.
export function prng (seed: number) {
  let a = seed >>> 0
  function next (): number {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1))
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)]!
  const chance = (p: number): boolean => next() < p
  return { next, int, pick, chance }
}
export type Random = ReturnType<typeof prng>

// Names that JSON built by hand gets wrong: quotes, backslashes, control and invisible
// characters, surrogate pairs, emoji sequences, right-to-left text, long strings.
const AWKWARD_NAMES = [
  'Ann "The Rocket" O\'Neil', 'back\\slash', 'tab\there', 'new\nline', '\u0000nul', '</script>', '{"type":"update"}',
  'Zoë Ångström', '李小龍', 'عدّاء', '🏃‍♀️🔥', '👩‍👩‍👧‍👦', '𝕳𝖊𝖑𝖑𝖔', 'e\u0301', '\u202eevil', '\u200b', '\u2028\u2029', '',
  'x'.repeat(300)
]

export function displayName (random: Random): string | null {
  if (random.chance(0.15)) return null
  return random.chance(0.6) ? random.pick(AWKWARD_NAMES) : `Runner ${random.int(1, 1_000_000)}`
}

export function avatarUrl (random: Random): string | null {
  return random.chance(0.4) ? null : `https://img.example/${random.int(1, 1e6)}.png?q="a b"&x=${random.pick(['é', '%20', '🏃'])}`
}

// Scores with ties, zeros and values near 2^53.
export function score (random: Random): number {
  const r = random.next()
  if (r < 0.2) return random.int(0, 3)
  if (r < 0.3) return Number.MAX_SAFE_INTEGER - random.int(0, 3)
  if (r < 0.4) return random.int(2 ** 40, 2 ** 52)
  return random.int(0, 500)
}

// The seed of a run: TEST_SEED replays a failure, else a fresh one (printed by the tests).
export function seedOf (): number {
  return process.env.TEST_SEED ? Number(process.env.TEST_SEED) : Math.floor(Math.random() * 2 ** 31)
}

// A version 4 uuid from the generator (replayable, unlike randomUUID).
export function uuid (random: Random): string {
  const hex = (n: number): string => Array.from({ length: n }, () => random.int(0, 15).toString(16)).join('')
  return `${hex(8)}-${hex(4)}-4${hex(3)}-${random.pick(['8', '9', 'a', 'b'])}${hex(3)}-${hex(12)}`
}
