import { createPublicKey } from 'node:crypto'

// The public keys of a JWKS endpoint (Supabase's asymmetric signing keys), fetched as one set.
// A token's kid picks the key. get-jwks, used before, fetched the set once per unknown kid and
// remembered no misses, so every request with a made-up kid cost one outbound fetch. Here the
// set is fetched at most once per minRefreshMs whatever the traffic: a kid missing from a set
// fetched within that interval is refused without a fetch, and a key published since is found
// by the first request after the interval. Known keys are re-read after maxAgeMs (so removed
// keys stop being accepted); while the endpoint fails, the keys read last stay in use.

export type AsymmetricAlg = 'RS256' | 'ES256'

export interface JwksKeySetOptions {
  url: string
  minRefreshMs: number
  maxAgeMs: number
  timeoutMs?: number
  now?: () => number
  // Told about each fetch of the set (ok or failed), for metrics and tests.
  onFetch?: (ok: boolean) => void
}

interface PublicKey {
  alg: string | undefined
  pem: string
  type: string | undefined
  curve: string | undefined
}

const KEY_TYPE: Record<AsymmetricAlg, { type: string, curve?: string }> = {
  RS256: { type: 'rsa' },
  ES256: { type: 'ec', curve: 'prime256v1' }
}

function toPublicKeys (body: unknown): Map<string, PublicKey> {
  const list = (body as { keys?: unknown } | null)?.keys
  if (!Array.isArray(list)) throw new Error('The JWKS has no keys array')
  const keys = new Map<string, PublicKey>()
  for (const jwk of list as Array<Record<string, unknown>>) {
    if (jwk === null || typeof jwk !== 'object' || (jwk.kid !== undefined && typeof jwk.kid !== 'string')) continue
    try {
      const key = createPublicKey({ key: jwk as never, format: 'jwk' })
      keys.set((jwk.kid as string | undefined) ?? '', {
        alg: typeof jwk.alg === 'string' ? jwk.alg : undefined,
        pem: key.export({ type: 'spki', format: 'pem' }).toString(),
        type: key.asymmetricKeyType,
        curve: key.asymmetricKeyDetails?.namedCurve
      })
    } catch {
      // Not a public key this service can use (a symmetric or malformed entry): skipped.
    }
  }
  return keys
}

export function createJwksKeySet ({ url, minRefreshMs, maxAgeMs, timeoutMs = 5000, now = Date.now, onFetch }: JwksKeySetOptions) {
  let keys = new Map<string, PublicKey>()
  let fetchedAt = -Infinity
  let attemptedAt = -Infinity
  let refreshing: Promise<void> | null = null

  async function load (): Promise<void> {
    attemptedAt = now()
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
      if (!response.ok) throw new Error(`The JWKS answered ${response.status}`)
      keys = toPublicKeys(await response.json())
      fetchedAt = now()
      onFetch?.(true)
    } catch (err) {
      onFetch?.(false)
      throw err
    }
  }

  // One fetch at a time: concurrent callers share it.
  async function refresh (): Promise<void> {
    refreshing ??= load().finally(() => { refreshing = null })
    await refreshing.catch(() => {})
  }

  // The PEM of the key `kid` for `alg`; rejects when the set has no such key.
  async function getPublicKey (alg: AsymmetricAlg, kid: string | undefined): Promise<string> {
    const id = kid ?? ''
    if (!keys.has(id) || now() - fetchedAt >= maxAgeMs) {
      if (refreshing !== null || now() - attemptedAt >= minRefreshMs) await refresh()
    }
    const key = keys.get(id)
    const expected = KEY_TYPE[alg]
    if (key === undefined) throw new Error('No key in the JWKS has this kid')
    if ((key.alg !== undefined && key.alg !== alg) || key.type !== expected.type || (expected.curve !== undefined && key.curve !== expected.curve)) {
      throw new Error(`The JWKS key ${id} is not an ${alg} key`)
    }
    return key.pem
  }

  return { getPublicKey }
}
