import fp from 'fastify-plugin'
import { envSchema } from 'env-schema'
import { EnvSchema, type Config } from '../schemas/env.ts'
import { jwtSecretProblem } from '../lib/jwt-secret-policy.ts'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

// The only reader of process.env. Values given in `data` take its place (tests do that).
export function loadConfig (data: Record<string, unknown> = process.env): Config {
  return envSchema<Config>({ schema: EnvSchema, data, dotenv: false })
}

export interface ConfigPluginOptions {
  config?: Config
}

// Start-up stops here, before any store is touched, when the configuration is unsafe to serve.
export default fp<ConfigPluginOptions>(async function configPlugin (fastify, opts) {
  const config = opts.config ?? loadConfig()
  const problem = jwtSecretProblem(config)
  if (problem !== null) throw new Error(problem)
  fastify.decorate('config', config)
}, { name: 'config' })
