import { test } from 'tap'
import { createServer } from 'node:http'
import { build } from '../helper.ts'

// A local stand-in for Supabase Storage speaking its HTTP shapes.
async function fakeSupabaseStorage () {
  const objects = new Map<string, { body: Buffer, type: string }>()
  const calls: Array<{ method: string, url: string, auth: string | undefined }> = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      calls.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization })
      res.setHeader('content-type', 'application/json')
      const upload = /^\/storage\/v1\/object\/avatars\/(.+)$/.exec(req.url ?? '')
      if (req.method === 'POST' && upload) {
        objects.set(upload[1]!, { body, type: String(req.headers['content-type']) })
        res.end(JSON.stringify({ Id: 'obj-1', Key: `avatars/${upload[1]}` }))
      } else if (req.method === 'DELETE' && req.url === '/storage/v1/object/avatars') {
        const { prefixes } = JSON.parse(body.toString()) as { prefixes: string[] }
        for (const p of prefixes) objects.delete(p)
        res.end(JSON.stringify(prefixes.map((name) => ({ name }))))
      } else {
        res.statusCode = 404
        res.end(JSON.stringify({ statusCode: '404', error: 'not_found', message: 'Object not found' }))
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
  return { url, objects, calls, close: () => server.close() }
}

test('Supabase Storage is used when configured', async (t) => {
  const fake = await fakeSupabaseStorage()
  t.teardown(fake.close)
  const app = await build(t, { config: { SUPABASE_URL: fake.url, SUPABASE_SERVICE_ROLE_KEY: 'service-key' } })
  t.equal(app.storage.kind, 'supabase')
  const url = await app.storage.put('avatars/u1/abc.webp', Buffer.from('webp-bytes'), 'image/webp')
  t.equal(url, `${fake.url}/storage/v1/object/public/avatars/avatars/u1/abc.webp`)
  t.same(fake.objects.get('avatars/u1/abc.webp'), { body: Buffer.from('webp-bytes'), type: 'image/webp' })
  t.equal(fake.calls[0]?.auth, 'Bearer service-key', 'authenticates with the service-role key')
  await app.storage.remove('avatars/u1/abc.webp')
  t.equal(fake.objects.size, 0)
  await t.rejects(app.storage.put('../etc/passwd', Buffer.from('x'), 'text/plain'), /unsafe storage key/)
})

test('a local folder served by the app otherwise', async (t) => {
  const app = await build(t)
  t.equal(app.storage.kind, 'local')
  const url = await app.storage.put('avatars/u2/def.webp', Buffer.from('local-bytes'), 'image/webp')
  t.equal(url, 'http://localhost/files/avatars/u2/def.webp')
  const served = await app.inject({ url: '/files/avatars/u2/def.webp' })
  t.equal(served.statusCode, 200)
  t.equal(served.body, 'local-bytes')
  await app.storage.remove('avatars/u2/def.webp')
  t.equal((await app.inject({ url: '/files/avatars/u2/def.webp' })).statusCode, 404)
  await t.rejects(app.storage.put('avatars/../../x', Buffer.from('x'), 'text/plain'), /unsafe storage key/)
})
