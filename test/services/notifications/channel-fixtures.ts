import type { OutgoingEmail, OutgoingPush, SendResult } from '../../../services/notifications/channels/types.ts'

// Shared set-up of the provider tests: a fake and the real sender pointed at it, closed
// together, and the messages they send.

export interface Teardown { teardown: (fn: () => unknown) => void }

export async function senderAndFake<F extends { close: () => Promise<void> }, S extends { close?: () => Promise<void> }> (
  test: Teardown, startFake: () => Promise<F>, createSender: (fake: F) => Promise<S>): Promise<{ fake: F, sender: S }> {
  const fake = await startFake()
  const sender = await createSender(fake)
  test.teardown(async () => {
    await sender.close?.()
    await fake.close()
  })
  return { fake, sender }
}

export function byKey (results: SendResult[]): Map<string, SendResult> {
  return new Map(results.map((result) => [result.key, result]))
}

export function email (n: number): OutgoingEmail {
  return { key: `k${n}`, to: `user${n}@example.com`, subject: `Subject ${n}`, text: `Text ${n}`, html: `<p>Html ${n}</p>` }
}

export function push (n: number, token: string, overrides: Partial<OutgoingPush> = {}): OutgoingPush {
  return { key: `k${n}`, token, title: `Title ${n}`, body: `Body ${n}`, data: { n: String(n) }, priority: 'normal', ...overrides }
}
