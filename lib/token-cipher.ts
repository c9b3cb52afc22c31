import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

// Provider tokens are encrypted at rest with AES-256-GCM under a key ring from config:
// `PROVIDER_TOKEN_KEYS=k2:<base64 32 bytes>,k1:<base64 32 bytes>`. The first key encrypts; every
// key decrypts, so a key is rotated by putting a new one first, letting stored tokens be
// re-encrypted (each refresh does it, and `reencrypt` on demand), then dropping the old one.
// A sealed value is `v1.<key id>.<iv>.<tag>.<ciphertext>` (base64url), with the purpose (e.g.
// the column and owner) bound as associated data so a value cannot be moved to another row.

export interface TokenCipher {
  readonly currentKeyId: string
  seal: (plain: string, context: string) => string
  open: (sealed: string, context: string) => string
  // The key id a sealed value was made with.
  keyIdOf: (sealed: string) => string
}

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/

export function parseKeyRing (spec: string): Map<string, Buffer> {
  const ring = new Map<string, Buffer>()
  for (const part of spec.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const at = part.indexOf(':')
    const id = part.slice(0, at)
    const key = Buffer.from(part.slice(at + 1), 'base64')
    if (at < 1 || !KEY_ID.test(id)) throw new Error(`PROVIDER_TOKEN_KEYS: "${id}" is not a key id (letters, digits, _ or -, at most 32)`)
    if (key.length !== 32) throw new Error(`PROVIDER_TOKEN_KEYS: key "${id}" must be 32 bytes in base64 (it is ${key.length})`)
    if (ring.has(id)) throw new Error(`PROVIDER_TOKEN_KEYS: key id "${id}" appears twice`)
    ring.set(id, key)
  }
  if (ring.size === 0) throw new Error('PROVIDER_TOKEN_KEYS holds no key')
  return ring
}

export function createTokenCipher (ring: Map<string, Buffer>): TokenCipher {
  const [currentKeyId, currentKey] = [...ring.entries()][0]!

  function keyIdOf (sealed: string): string {
    const parts = sealed.split('.')
    if (parts.length !== 5 || parts[0] !== 'v1') throw new Error('not a sealed token')
    return parts[1]!
  }

  return {
    currentKeyId,
    keyIdOf,
    seal (plain, context) {
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', currentKey, iv)
      cipher.setAAD(Buffer.from(context))
      const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
      return ['v1', currentKeyId, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')].join('.')
    },
    open (sealed, context) {
      const [, keyId, iv, tag, data] = sealed.split('.')
      const key = ring.get(keyIdOf(sealed))
      if (key === undefined) throw new Error(`token sealed with key "${keyId}", which is no longer configured`)
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv!, 'base64url'))
      decipher.setAAD(Buffer.from(context))
      decipher.setAuthTag(Buffer.from(tag!, 'base64url'))
      return Buffer.concat([decipher.update(Buffer.from(data!, 'base64url')), decipher.final()]).toString('utf8')
    }
  }
}
