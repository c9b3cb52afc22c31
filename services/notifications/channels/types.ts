// What the notification service hands a provider, and what it hears back. A provider sends a
// batch of messages in as few calls as its API allows and answers one result per message, in
// any order, matched by `key`. It throws only when it cannot tell what happened to the batch
// (a network fault before any answer): the whole batch is then retried.

export interface OutgoingPush {
  key: string
  token: string
  title: string
  body: string
  // Small string map the app reads (FCM `data` allows only strings).
  data: Record<string, string>
  // Android/iOS channel hint: 'high' for money and security, 'normal' otherwise.
  priority: 'high' | 'normal'
}

export interface OutgoingEmail {
  key: string
  to: string
  subject: string
  text: string
  html: string
}

export interface OutgoingSms {
  key: string
  // E.164, e.g. +14155550100.
  to: string
  body: string
}

export type SendResult =
  | { key: string, outcome: 'sent', providerId: string | null }
  | {
    key: string
    outcome: 'failed'
    // A short machine-readable reason from the provider (FCM `UNREGISTERED`, Expo
    // `DeviceNotRegistered`, Twilio `21211`, an HTTP status...).
    reason: string
    // true: worth another try later (rate limited, 5xx, timeout); false: it will never go.
    retryable: boolean
    // The push token is gone for good (uninstalled app): the device is removed.
    unregistered?: boolean
    // The provider asked us to wait (Retry-After), in seconds.
    retryAfterSeconds?: number
  }

export interface Sender<M> {
  // 'fcm' | 'expo' | 'sendgrid' | 'smtp' | 'twilio': metrics and the delivery log use it.
  readonly provider: string
  // The most messages one send() takes.
  readonly maxBatch: number
  send: (messages: M[]) => Promise<SendResult[]>
  close?: () => Promise<void>
}

// Expo answers a send with tickets and reports most uninstalled apps later, in receipts.
export interface PushReceipt { id: string, status: 'ok' | 'error', unregistered: boolean, reason?: string }
export interface ExpoSender extends Sender<OutgoingPush> {
  checkReceipts: (ids: string[]) => Promise<PushReceipt[]>
}
