import type { Channel } from './categories.ts'
import type { Senders } from './dispatch.ts'

// The providers configured for this instance. Each SDK is loaded only when its provider is
// configured; a channel with none is not offered (its deliveries are never created).

export interface SenderConfig {
  NOTIFY_PROVIDER_TIMEOUT_MS: number
  FCM_PROJECT_ID: string
  FCM_CLIENT_EMAIL: string
  FCM_PRIVATE_KEY: string
  FCM_API_URL: string
  FCM_TOKEN_URL: string
  EXPO_PUSH_ENABLED: boolean
  EXPO_ACCESS_TOKEN: string
  EXPO_API_URL: string
  EMAIL_FROM: string
  SENDGRID_API_KEY: string
  SENDGRID_API_URL: string
  SMTP_URL: string
  TWILIO_ACCOUNT_SID: string
  TWILIO_AUTH_TOKEN: string
  TWILIO_FROM: string
  TWILIO_MESSAGING_SERVICE_SID: string
  TWILIO_API_URL: string
}

const orUndefined = (value: string) => value === '' ? undefined : value

export async function createSenders (config: SenderConfig): Promise<Senders> {
  const timeoutMs = config.NOTIFY_PROVIDER_TIMEOUT_MS
  const senders: Senders = {}
  if (config.FCM_PROJECT_ID !== '') {
    const { createFcmSender } = await import('./channels/fcm.ts')
    senders.fcm = await createFcmSender({
      projectId: config.FCM_PROJECT_ID,
      clientEmail: config.FCM_CLIENT_EMAIL,
      privateKey: config.FCM_PRIVATE_KEY,
      apiUrl: orUndefined(config.FCM_API_URL),
      tokenUrl: orUndefined(config.FCM_TOKEN_URL),
      timeoutMs
    })
  }
  if (config.EXPO_PUSH_ENABLED) {
    const { createExpoSender } = await import('./channels/expo.ts')
    senders.expo = await createExpoSender({ accessToken: orUndefined(config.EXPO_ACCESS_TOKEN), apiUrl: orUndefined(config.EXPO_API_URL), timeoutMs })
  }
  if (config.SENDGRID_API_KEY !== '') {
    const { createSendgridSender } = await import('./channels/sendgrid.ts')
    senders.email = await createSendgridSender({ apiKey: config.SENDGRID_API_KEY, from: config.EMAIL_FROM, apiUrl: orUndefined(config.SENDGRID_API_URL), timeoutMs })
  } else if (config.SMTP_URL !== '') {
    const { createSmtpSender } = await import('./channels/smtp.ts')
    senders.email = await createSmtpSender({ url: config.SMTP_URL, from: config.EMAIL_FROM, timeoutMs })
  }
  if (config.TWILIO_ACCOUNT_SID !== '') {
    const { createTwilioSender } = await import('./channels/twilio.ts')
    senders.sms = await createTwilioSender({
      accountSid: config.TWILIO_ACCOUNT_SID,
      authToken: config.TWILIO_AUTH_TOKEN,
      from: orUndefined(config.TWILIO_FROM),
      messagingServiceSid: orUndefined(config.TWILIO_MESSAGING_SERVICE_SID),
      apiUrl: orUndefined(config.TWILIO_API_URL),
      timeoutMs
    })
  }
  return senders
}

export function channelsOf (senders: Senders): Channel[] {
  return [
    ...(senders.fcm !== undefined || senders.expo !== undefined ? ['push' as const] : []),
    ...(senders.email !== undefined ? ['email' as const] : []),
    ...(senders.sms !== undefined ? ['sms' as const] : [])
  ]
}
