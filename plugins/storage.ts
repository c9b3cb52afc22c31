import fp from 'fastify-plugin'
import fastifyStatic from '@fastify/static'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'

export interface Storage {
  kind: 'supabase' | 'local'
  put: (key: string, body: Buffer, contentType: string) => Promise<string>
  remove: (key: string) => Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    storage: Storage
  }
}

const SAFE_KEY = /^[a-z0-9][a-z0-9/_.-]{0,200}$/

function assertSafeKey (key: string): void {
  if (!SAFE_KEY.test(key) || key.includes('..')) throw new Error(`unsafe storage key ${key}`)
}

// The Supabase client (and the fetch implementation it pulls in, about 10 MB resident) is
// loaded only when Supabase Storage is configured.
async function supabaseStorage (url: string, serviceKey: string, bucket: string): Promise<Storage> {
  const { createClient } = await import('@supabase/supabase-js')
  const client = createClient(url, serviceKey, { auth: { persistSession: false, autoRefreshToken: false } })
  const files = client.storage.from(bucket)
  return {
    kind: 'supabase',
    async put (key, body, contentType) {
      assertSafeKey(key)
      const { error } = await files.upload(key, body, { contentType, upsert: true, cacheControl: '31536000' })
      if (error) throw error
      return files.getPublicUrl(key).data.publicUrl
    },
    async remove (key) {
      const { error } = await files.remove([key])
      if (error) throw error
    }
  }
}

function localStorage (root: string, baseUrl: string): Storage {
  return {
    kind: 'local',
    async put (key, body) {
      assertSafeKey(key)
      const file = path.join(root, key)
      await mkdir(path.dirname(file), { recursive: true })
      await writeFile(file, body)
      return `${baseUrl}/files/${key}`
    },
    async remove (key) {
      assertSafeKey(key)
      await rm(path.join(root, key), { force: true })
    }
  }
}

// Supabase Storage when configured; otherwise a folder under DATA_DIR served at /files/.
export default fp(async function storagePlugin (fastify) {
  const { config } = fastify
  if (config.SUPABASE_URL && config.SUPABASE_SERVICE_ROLE_KEY) {
    fastify.decorate('storage', await supabaseStorage(config.SUPABASE_URL, config.SUPABASE_SERVICE_ROLE_KEY, config.STORAGE_BUCKET))
    return
  }
  const root = path.resolve(config.DATA_DIR, 'files')
  await mkdir(root, { recursive: true })
  await fastify.register(fastifyStatic, {
    root,
    prefix: '/files/',
    decorateReply: false,
    immutable: true,
    maxAge: '365d',
    schemaHide: true
  })
  fastify.decorate('storage', localStorage(root, config.PUBLIC_URL))
}, { name: 'storage', dependencies: ['config'] })
