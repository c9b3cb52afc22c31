import type { Config } from '../schemas/env.ts'

// Secrets published in this repository's templates and in Supabase's self-hosting and local
// development setups: anyone can mint admin tokens with them.
const PUBLISHED_SECRETS = new Set([
  'change-me-to-your-supabase-jwt-secret',
  'your-super-secret-jwt-token-with-at-least-32-characters-long',
  'super-secret-jwt-token-with-at-least-32-characters-long'
])
const PLACEHOLDER = /change[-_ ]?me|placeholder|your[-_ ]?(super[-_ ]?)?secret/i
// HS256 keys shorter than the hash (32 bytes) are guessable offline from a single token.
export const JWT_SECRET_MIN_BYTES = 32

// Why the configured HS256 secret must not be used, or null when it may. Only with a real
// database (production mode): embedded mode uses its own generated development secret.
export function jwtSecretProblem (config: Pick<Config, 'DATABASE_URL' | 'JWT_SECRET'>): string | null {
  const secret = config.JWT_SECRET
  if (config.DATABASE_URL === '' || secret === '') return null
  if (PUBLISHED_SECRETS.has(secret.trim().toLowerCase()) || PLACEHOLDER.test(secret)) {
    return 'JWT_SECRET is a published placeholder: set your Supabase project\'s JWT secret'
  }
  const bytes = Buffer.byteLength(secret)
  if (bytes < JWT_SECRET_MIN_BYTES) {
    return `JWT_SECRET is ${bytes} bytes: at least ${JWT_SECRET_MIN_BYTES} are required with a real database`
  }
  return null
}
