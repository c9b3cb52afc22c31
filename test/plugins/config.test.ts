import { test } from 'tap'
import Fastify from 'fastify'
import fp from 'fastify-plugin'
import app from '../../app.ts'
import configPlugin, { loadConfig } from '../../plugins/config.ts'
import { TEST_JWT_SECRET } from '../helper.ts'

// Production mode (a real database) refuses JWT secrets anyone could know, before it touches a
// store: with them anyone could mint admin tokens.

const DATABASE_URL = 'postgres://postgres@127.0.0.1:1/never-reached'

async function start (env: Record<string, unknown>): Promise<void> {
  const fastify = Fastify({ logger: false })
  try {
    await fastify.register(configPlugin, { config: loadConfig({ LOG_LEVEL: 'silent', ...env }) })
    await fastify.ready()
  } finally {
    await fastify.close().catch(() => {})
  }
}

test('known placeholders and short secrets are refused with a real database', async (t) => {
  const refused: Record<string, [string, RegExp]> = {
    'the docker-compose default': ['change-me-to-your-supabase-jwt-secret', /placeholder/],
    "Supabase's self-hosting example": ['your-super-secret-jwt-token-with-at-least-32-characters-long', /placeholder/],
    "Supabase's local development secret": ['super-secret-jwt-token-with-at-least-32-characters-long', /placeholder/],
    'a change-me variant': ['CHANGEME-please-0123456789abcdef0123456789', /placeholder/],
    '31 bytes': ['a'.repeat(31), /31 bytes: at least 32/],
    '15 two-byte characters (30 bytes)': ['é'.repeat(15), /30 bytes/]
  }
  for (const [name, [secret, message]] of Object.entries(refused)) {
    await t.rejects(start({ DATABASE_URL, JWT_SECRET: secret }), message, name)
  }
})

test('strong secrets, JWKS only and embedded mode start', async (t) => {
  await t.resolves(start({ DATABASE_URL, JWT_SECRET: TEST_JWT_SECRET }), 'a long secret')
  await t.resolves(start({ DATABASE_URL, JWT_SECRET: 'é'.repeat(16) }), '32 bytes')
  await t.resolves(start({ DATABASE_URL, JWT_SECRET: '', JWKS_URL: 'http://127.0.0.1:1/jwks.json' }), 'asymmetric keys only')
  await t.resolves(start({ DATABASE_URL: '', JWT_SECRET: 'change-me' }), 'embedded mode is for trying out')
})

test('the application stops at start-up with the reason, before touching a store', async (t) => {
  const fastify = Fastify({ logger: false })
  t.teardown(async () => await fastify.close().catch(() => {}))
  const config = loadConfig({ LOG_LEVEL: 'silent', DATABASE_URL, JWT_SECRET: 'change-me-to-your-supabase-jwt-secret' })
  const started = Date.now()
  await t.rejects(async () => await fastify.register(fp(app), { config }).ready(), /JWT_SECRET is a published placeholder/)
  t.ok(Date.now() - started < 2000, 'refused at once, not after a connection attempt')
})
