import { test } from 'tap'
import { randomBytes } from 'node:crypto'
import { createTokenCipher, parseKeyRing } from '../../lib/token-cipher.ts'

const key = (): string => randomBytes(32).toString('base64')

test('a sealed token opens only with its context, and under a rotated ring', async (t) => {
  const k1 = key()
  const old = createTokenCipher(parseKeyRing(`k1:${k1}`))
  const sealed = old.seal('at-secret', 'fitbit:user-1:access')
  t.notOk(sealed.includes('at-secret'))
  t.equal(old.keyIdOf(sealed), 'k1')
  t.equal(old.open(sealed, 'fitbit:user-1:access'), 'at-secret')
  t.throws(() => old.open(sealed, 'fitbit:user-2:access'), 'moved to another row, it does not open')
  const tampered = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'BB' : 'AA')
  t.throws(() => old.open(tampered, 'fitbit:user-1:access'), 'a changed ciphertext does not open')

  // Rotation: the new key seals, the old one still opens what it sealed.
  const rotated = createTokenCipher(parseKeyRing(`k2:${key()},k1:${k1}`))
  t.equal(rotated.currentKeyId, 'k2')
  t.equal(rotated.open(sealed, 'fitbit:user-1:access'), 'at-secret')
  t.equal(rotated.keyIdOf(rotated.seal('x', 'c')), 'k2')
  // Once the old key is dropped, its values no longer open.
  const dropped = createTokenCipher(parseKeyRing(`k2:${key()}`))
  t.throws(() => dropped.open(sealed, 'fitbit:user-1:access'), /no longer configured/)
})

test('the key ring is refused when malformed', async (t) => {
  t.throws(() => parseKeyRing(''), /no key/)
  t.throws(() => parseKeyRing(`k1:${randomBytes(16).toString('base64')}`), /32 bytes/)
  t.throws(() => parseKeyRing(`bad id:${key()}`), /not a key id/)
  const k = key()
  t.throws(() => parseKeyRing(`k1:${k},k1:${k}`), /twice/)
})
