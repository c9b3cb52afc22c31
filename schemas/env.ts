import { Type, type Static } from 'typebox'

// The one description of the service's configuration. Every key is documented in env.template.
export const EnvSchema = Type.Object({
  NODE_ENV: Type.String({ default: 'production' }),
  HOST: Type.String({ default: '127.0.0.1' }),
  PORT: Type.Integer({ default: 8080, minimum: 0, maximum: 65535 }),
  LOG_LEVEL: Type.Union([
    Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'),
    Type.Literal('info'), Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent')
  ], { default: 'info' }),
  PUBLIC_URL: Type.String({ default: '' }),

  DATABASE_URL: Type.String({ default: '' }),
  DATABASE_POOL_MAX: Type.Integer({ default: 10, minimum: 1 }),
  DATABASE_STATEMENT_TIMEOUT_MS: Type.Integer({ default: 10000, minimum: 100 }),
  DATABASE_CONNECT_TIMEOUT_MS: Type.Integer({ default: 3000, minimum: 100 }),
  DATA_DIR: Type.String({ default: '.data' }),
  DATABASE_READ_URL: Type.String({ default: '' }),

  REDIS_URL: Type.String({ default: '' }),
  REDIS_KEY_PREFIX: Type.String({ default: 'hc:' }),
  REDIS_CLUSTER_NODES: Type.String({ default: '' }),

  SUPABASE_URL: Type.String({ default: '' }),
  SUPABASE_SERVICE_ROLE_KEY: Type.String({ default: '' }),
  STORAGE_BUCKET: Type.String({ default: 'avatars' }),
  AVATAR_MAX_BYTES: Type.Integer({ default: 5242880, minimum: 1024 }),

  JWT_SECRET: Type.String({ default: '' }),
  JWKS_URL: Type.String({ default: '' }),
  JWT_ISSUER: Type.String({ default: '' }),
  JWT_AUDIENCE: Type.String({ default: 'authenticated' }),
  JWKS_REFRESH_MIN_MS: Type.Integer({ default: 30000, minimum: 10 }),

  CORS_ORIGINS: Type.String({ default: '' }),
  BODY_LIMIT_BYTES: Type.Integer({ default: 1048576, minimum: 1024 }),
  RATE_LIMIT_MAX: Type.Integer({ default: 600, minimum: 1 }),
  RATE_LIMIT_WINDOW_MS: Type.Integer({ default: 60000, minimum: 1000 }),
  RATE_LIMIT_WRITE_MAX: Type.Integer({ default: 0, minimum: 0 }),
  RATE_LIMIT_SYNC_MAX: Type.Integer({ default: 0, minimum: 0 }),
  RATE_LIMIT_REALTIME_MAX: Type.Integer({ default: 0, minimum: 0 }),

  COMPETITION_CREATORS: Type.Union([Type.Literal('admins'), Type.Literal('users')], { default: 'admins' }),

  JOB_WORKERS: Type.Boolean({ default: true }),
  JOB_CONCURRENCY: Type.Integer({ default: 4, minimum: 1, maximum: 100 }),
  JOB_SHUTDOWN_TIMEOUT_MS: Type.Integer({ default: 8000, minimum: 0 }),
  JOB_EXPIRE_SECONDS: Type.Integer({ default: 300, minimum: 10 }),
  LIFECYCLE_JOBS: Type.Boolean({ default: true }),
  DOMAIN_EVENT_RETENTION_DAYS: Type.Integer({ default: 30, minimum: 1 }),

  WEBHOOK_TIMEOUT_MS: Type.Integer({ default: 10000, minimum: 100, maximum: 60000 }),
  WEBHOOK_ALLOW_PRIVATE_TARGETS: Type.Boolean({ default: false }),

  STRIPE_SECRET_KEY: Type.String({ default: '' }),
  STRIPE_PUBLISHABLE_KEY: Type.String({ default: '' }),
  STRIPE_WEBHOOK_SECRET: Type.String({ default: '' }),
  STRIPE_CONNECT_WEBHOOK_SECRET: Type.String({ default: '' }),
  STRIPE_API_URL: Type.String({ default: '' }),
  STRIPE_WEBHOOK_TOLERANCE_SECONDS: Type.Integer({ default: 300, minimum: 1, maximum: 3600 }),
  STRIPE_TIMEOUT_MS: Type.Integer({ default: 20000, minimum: 100 }),
  PAYMENTS_CURRENCIES: Type.String({ default: 'USD,EUR,GBP,JPY' }),
  PAYMENTS_LIMITS: Type.String({ default: '' }),
  PAYOUT_COUNTRY: Type.String({ default: 'US', pattern: '^[A-Z]{2}$' }),
  PAYOUT_RETURN_URL: Type.String({ default: '' }),

  NOTIFY_RANK_WINDOW_SECONDS: Type.Integer({ default: 900, minimum: 0, maximum: 86400 }),
  NOTIFY_TOP_N: Type.Integer({ default: 10, minimum: 1, maximum: 1000 }),
  NOTIFY_OVERTAKEN_PER_MOVER: Type.Integer({ default: 20, minimum: 0, maximum: 1000 }),
  NOTIFY_REMINDER_LEAD_MINUTES: Type.Integer({ default: 60, minimum: 1, maximum: 10080 }),
  NOTIFY_MAX_ATTEMPTS: Type.Integer({ default: 8, minimum: 1, maximum: 30 }),
  NOTIFY_RETRY_BASE_SECONDS: Type.Number({ default: 5, minimum: 0, maximum: 3600 }),
  NOTIFY_SEND_CONCURRENCY: Type.Integer({ default: 2, minimum: 1, maximum: 100 }),
  NOTIFY_SEND_RATE: Type.Integer({ default: 250, minimum: 1, maximum: 100000 }),
  NOTIFY_PROVIDER_TIMEOUT_MS: Type.Integer({ default: 10000, minimum: 100, maximum: 120000 }),
  FCM_PROJECT_ID: Type.String({ default: '' }),
  FCM_CLIENT_EMAIL: Type.String({ default: '' }),
  FCM_PRIVATE_KEY: Type.String({ default: '' }),
  FCM_API_URL: Type.String({ default: '' }),
  FCM_TOKEN_URL: Type.String({ default: '' }),
  EXPO_PUSH_ENABLED: Type.Boolean({ default: false }),
  EXPO_ACCESS_TOKEN: Type.String({ default: '' }),
  EXPO_API_URL: Type.String({ default: '' }),
  EXPO_RECEIPT_DELAY_SECONDS: Type.Integer({ default: 900, minimum: 0, maximum: 86400 }),
  EMAIL_FROM: Type.String({ default: '' }),
  SENDGRID_API_KEY: Type.String({ default: '' }),
  SENDGRID_API_URL: Type.String({ default: '' }),
  SMTP_URL: Type.String({ default: '' }),
  TWILIO_ACCOUNT_SID: Type.String({ default: '' }),
  TWILIO_AUTH_TOKEN: Type.String({ default: '' }),
  TWILIO_FROM: Type.String({ default: '' }),
  TWILIO_MESSAGING_SERVICE_SID: Type.String({ default: '' }),
  TWILIO_API_URL: Type.String({ default: '' }),

  FITNESS_SYNC_BATCH_MAX: Type.Integer({ default: 1000, minimum: 1, maximum: 10000 }),
  FITNESS_MAX_STEPS_PER_MINUTE: Type.Integer({ default: 300, minimum: 1 }),
  FITNESS_MAX_SPEED_MPS: Type.Number({ default: 15, minimum: 1 }),
  FITNESS_DAILY_STEPS_CEILING: Type.Integer({ default: 100000, minimum: 1 }),
  FITNESS_DAILY_DISTANCE_M_CEILING: Type.Integer({ default: 250000, minimum: 1 }),
  FITNESS_DAILY_ACTIVE_KCAL_CEILING: Type.Integer({ default: 10000, minimum: 1 }),
  FITNESS_SYNC_WAIT_MS: Type.Integer({ default: 15000, minimum: 100 }),
  FITNESS_PROVIDER_TIMEOUT_MS: Type.Integer({ default: 10000, minimum: 10 }),
  FITNESS_PROVIDER_RETRIES: Type.Integer({ default: 3, minimum: 0, maximum: 10 }),
  FITNESS_PROVIDER_BACKOFF_MS: Type.Integer({ default: 500, minimum: 1 }),
  FITNESS_PROVIDER_BACKOFF_MAX_MS: Type.Integer({ default: 10000, minimum: 1 }),
  FITNESS_PROVIDER_BREAKER_THRESHOLD: Type.Integer({ default: 5, minimum: 1 }),
  FITNESS_PROVIDER_BREAKER_OPEN_MS: Type.Integer({ default: 30000, minimum: 10 }),
  FITNESS_PULL_INITIAL_DAYS: Type.Integer({ default: 7, minimum: 1, maximum: 90 }),
  FITNESS_PULL_MAX_DAYS: Type.Integer({ default: 31, minimum: 1, maximum: 90 }),
  GOOGLE_FIT_BASE_URL: Type.String({ default: 'https://www.googleapis.com' }),

  LEADERBOARD_CACHE_MAX_AGE_MS: Type.Integer({ default: 500, minimum: 0, maximum: 60000 }),
  LEADERBOARD_FINISHED_TTL_SECONDS: Type.Integer({ default: 604800, minimum: 0, maximum: 31536000 }),
  PROFILE_CACHE_MAX_AGE_MS: Type.Integer({ default: 500, minimum: 0, maximum: 60000 }),

  REALTIME_TICK_MS: Type.Integer({ default: 100, minimum: 10, maximum: 10000 }),
  REALTIME_REPLAY_FRAMES: Type.Integer({ default: 512, minimum: 1, maximum: 100000 }),
  REALTIME_HEARTBEAT_MS: Type.Integer({ default: 30000, minimum: 100 }),
  REALTIME_MAX_BUFFERED_BYTES: Type.Integer({ default: 1048576, minimum: 1024 }),
  REALTIME_MAX_MESSAGES_PER_SECOND: Type.Integer({ default: 10, minimum: 1 }),

  MAX_EVENT_LOOP_DELAY_MS: Type.Integer({ default: 1000, minimum: 0 }),
  MAX_HEAP_USED_BYTES: Type.Integer({ default: 0, minimum: 0 }),
  METRICS_ENABLED: Type.Boolean({ default: true }),
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.String({ default: '' })
})

export type Config = Static<typeof EnvSchema>

// Derived, not configured: how the service talks to its stores.
export interface RuntimeMode {
  postgres: 'external' | 'embedded'
  redis: 'external' | 'embedded'
}
