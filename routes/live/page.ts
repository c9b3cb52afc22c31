import path from 'node:path'
import { readFile } from 'node:fs/promises'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import fastifyStatic from '@fastify/static'
import { Type } from 'typebox'
import { projectRoot } from '../../lib/project-root.ts'

const LIVE_ROOT = path.join(projectRoot, 'public', 'live')

// The origins allowed to call the API from a browser may also embed the page in a frame
// (and hand it a token with postMessage); everyone else gets the default 'self'.
function frameAncestors (corsOrigins: string): string | null {
  const origins = corsOrigins.split(',').map((o) => o.trim()).filter(Boolean)
  if (origins.length === 0) return null
  return origins.includes('*') ? '*' : ["'self'", ...origins].join(' ')
}

// The live leaderboard page: static HTML, one module and a stylesheet, no build step. Public,
// because it holds no data: the page opens the WebSocket, and the WebSocket checks the token.
const pageRoutes: FastifyPluginAsyncTypebox = async function pageRoutes (fastify) {
  const html = await readFile(path.join(LIVE_ROOT, 'index.html'), 'utf8')
  const ancestors = frameAncestors(fastify.config.CORS_ORIGINS)

  await fastify.register(fastifyStatic, {
    root: LIVE_ROOT,
    prefix: '/live/assets/',
    decorateReply: false,
    // Only the assets; the page itself is served by the route below.
    allowedPath: (pathName) => path.extname(pathName) !== '.html',
    index: false,
    maxAge: '5m',
    schemaHide: true
  })

  fastify.get('/live/:competitionId', {
    schema: {
      hide: true,
      params: Type.Object({ competitionId: Type.String({ minLength: 1, maxLength: 100 }) })
    },
    onSend: async function allowEmbedding (_request, reply, payload) {
      const csp = reply.getHeader('content-security-policy')
      if (ancestors !== null && typeof csp === 'string') {
        reply.header('content-security-policy', csp.replace(/frame-ancestors [^;]*/, `frame-ancestors ${ancestors}`))
        reply.removeHeader('x-frame-options')
      }
      return payload
    }
  }, async function livePage (_request, reply) {
    return await reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(html)
  })
}

export default pageRoutes
