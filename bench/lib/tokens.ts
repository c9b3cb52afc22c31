import { createSigner } from 'fast-jwt'
import { userId } from './ids.ts'

// Tokens shaped like Supabase Auth's (HS256, aud "authenticated"), signed with the secret the
// benchmark gives the service.
export function createTokens (secret: string) {
  const sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: 3 * 3600_000, aud: 'authenticated' })
  const cache = new Map<number, string>()
  function user (i: number): string {
    let t = cache.get(i)
    if (t === undefined) {
      const sub = userId(i)
      t = sign({ sub, email: `${sub.slice(0, 8)}@bench.test`, role: 'authenticated', app_metadata: {} })
      cache.set(i, t)
    }
    return t
  }
  const service = sign({ sub: userId(0), role: 'service_role', app_metadata: {} })
  return { user, service }
}

export type Tokens = ReturnType<typeof createTokens>
