// Prints a signed development token: npm run token -- --sub <uuid> [--admin] [--service] [--hours N]
import { parseArgs } from 'node:util'
import { randomUUID } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import { loadConfig } from '../plugins/config.ts'
import { loadDevSecret } from '../lib/dev-secret.ts'

const { values } = parseArgs({
  options: {
    sub: { type: 'string' },
    email: { type: 'string' },
    name: { type: 'string' },
    admin: { type: 'boolean', default: false },
    service: { type: 'boolean', default: false },
    hours: { type: 'string', default: '24' }
  }
})

const config = loadConfig()
if (config.JWT_SECRET === '' && config.JWKS_URL !== '') {
  console.error('This service verifies tokens with JWKS_URL only: get a token from your identity provider instead.')
  process.exit(1)
}
const secret = config.JWT_SECRET || await loadDevSecret(config.DATA_DIR)
const sub = values.sub ?? randomUUID()
const sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: Number(values.hours) * 3600_000 })
const claims: Record<string, unknown> = {
  sub,
  aud: config.JWT_AUDIENCE || undefined,
  iss: config.JWT_ISSUER || undefined,
  email: values.email ?? `${sub.slice(0, 8)}@example.test`,
  role: values.service ? 'service_role' : 'authenticated',
  app_metadata: values.admin ? { role: 'admin' } : {},
  user_metadata: values.name ? { full_name: values.name } : {}
}
process.stdout.write(sign(claims) + '\n')
