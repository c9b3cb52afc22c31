import fp from 'fastify-plugin'
import { envSchema } from 'env-schema'
import { EnvSchema, type Config } from '../schemas/env.ts'

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

export default fp<ConfigPluginOptions>(async function configPlugin (fastify, opts) {
  fastify.decorate('config', opts.config ?? loadConfig())
}, { name: 'config' })
