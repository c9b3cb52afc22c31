// The application's route table as the server builds it, collected with an onRoute hook
// registered before the app, so tests can cover every route (and fail when one is added
// without being covered).
import Fastify, { type FastifyInstance, type RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import app from '../app.ts'
import { serverOptions } from '../lib/server-options.ts'
import { testConfig, type BuildOptions } from './helper.ts'

type Test = Parameters<typeof testConfig>[0]

export interface RouteInfo {
  method: string
  url: string
  // `${method} ${url}`, the key of rule tables.
  key: string
  websocket: boolean
  schema: RouteOptions['schema']
  config: Record<string, unknown>
  bodyLimit: number | undefined
}

export async function buildWithRoutes (t: Test, opts: BuildOptions = {}): Promise<{ app: FastifyInstance, routes: RouteInfo[] }> {
  const config = await testConfig(t, opts)
  const fastify = Fastify(serverOptions(config))
  const routes: RouteInfo[] = []
  fastify.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    for (const method of methods) {
      routes.push({
        method,
        url: route.url,
        key: `${method} ${route.url}`,
        websocket: (route as { websocket?: boolean }).websocket === true,
        schema: route.schema,
        config: (route.config ?? {}) as Record<string, unknown>,
        bodyLimit: route.bodyLimit
      })
    }
  })
  await fastify.register(fp(app), { config })
  if (opts.extend) await fastify.register(async (child) => { await opts.extend?.(child) })
  t.teardown(async () => await fastify.close())
  await fastify.ready()
  // One entry per method and url; HEAD twins of GET routes share the GET handler and rules.
  const unique = new Map(routes.map((r) => [r.key, r]))
  return { app: fastify, routes: [...unique.values()].filter((r) => !(r.method === 'HEAD' && unique.has(`GET ${r.url}`))) }
}
