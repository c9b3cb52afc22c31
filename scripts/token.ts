// Prints a signed development token: npm run token -- --sub <uuid> [--admin] [--service] [--hours N]
import { randomUUID } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import { loadConfig } from '../plugins/config.ts'
import { loadDevSecret } from '../lib/dev-secret.ts'
import { parseCli } from '../lib/cli-args.ts'

const TOKEN_CLI = {
  command: 'npm run token --',
  summary: 'Prints a bearer token signed with JWT_SECRET (or, in embedded mode, the development secret in DATA_DIR), ' +
    'with the audience and issuer the service expects.',
  options: {
    sub: { type: 'string', value: 'uuid', description: 'The user id (default: a new random uuid)' },
    email: { type: 'string', value: 'address', description: 'The email claim (default: <first 8 characters of sub>@example.test)' },
    name: { type: 'string', value: 'text', description: 'The display name (user_metadata.full_name)' },
    admin: { type: 'boolean', default: false, description: 'An admin token (app_metadata.role = admin)' },
    service: { type: 'boolean', default: false, description: 'A trusted service token (role = service_role)' },
    hours: { type: 'string', default: '24', value: 'n', description: 'Hours until the token expires' }
  }
} as const

const values = parseCli(TOKEN_CLI)
const hours = Number(values.hours)
if (!(hours > 0)) {
  console.error('--hours must be a positive number')
  process.exit(2)
}

const config = loadConfig()
if (config.JWT_SECRET === '' && config.JWKS_URL !== '') {
  console.error('This service verifies tokens with JWKS_URL only: get a token from your identity provider instead.')
  process.exit(1)
}
const secret = config.JWT_SECRET || await loadDevSecret(config.DATA_DIR)
const sub = values.sub ?? randomUUID()
const sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: hours * 3600_000 })
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
