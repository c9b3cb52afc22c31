import { test, type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import path from 'node:path'
import sharp from 'sharp'
import { build } from '../../helper.ts'
import { signIn, TEST_CONFIG } from '../competitions/fixtures.ts'

const MAX_BYTES = 64 * 1024

function form (filename: string, contentType: string, data: Buffer): { payload: Buffer, headers: Record<string, string> } {
  const boundary = `----avatar${randomUUID()}`
  return {
    payload: Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: ${contentType}\r\n\r\n`),
      data,
      Buffer.from(`\r\n--${boundary}--\r\n`)
    ]),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }
  }
}

interface Part { name: string, filename?: string, contentType?: string, data: Buffer | string }

// A form of several parts, files (with a filename) and plain fields alike.
function multipart (parts: Part[]): { payload: Buffer, headers: Record<string, string> } {
  const boundary = `----avatar${randomUUID()}`
  const chunks = parts.flatMap((part) => [
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"` +
      (part.filename ? `; filename="${part.filename}"\r\nContent-Type: ${part.contentType ?? 'application/octet-stream'}` : '') + '\r\n\r\n'),
    Buffer.from(part.data),
    Buffer.from('\r\n')
  ])
  return {
    payload: Buffer.concat([...chunks, Buffer.from(`--${boundary}--\r\n`)]),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }
  }
}

async function image (width: number, height: number, format: 'png' | 'jpeg' | 'webp' | 'avif', opts: { noise?: boolean } = {}): Promise<Buffer> {
  const create = opts.noise
    ? { width, height, channels: 3 as const, background: '#000', noise: { type: 'gaussian' as const, mean: 128, sigma: 60 } }
    : { width, height, channels: 3 as const, background: { r: 200, g: 60, b: 20 } }
  return await sharp({ create })[format]().toBuffer()
}

test('avatars', async (t) => {
  const app = await build(t, { config: { ...TEST_CONFIG, AVATAR_MAX_BYTES: MAX_BYTES } })
  const user = await signIn(app)
  const other = await signIn(app)
  const filesRoot = path.resolve(app.config.DATA_DIR, 'files')
  const stored = async () => await readdir(path.join(filesRoot, 'avatars', user.id)).catch(() => [] as string[])
  const upload = async (filename: string, contentType: string, data: Buffer, who = user) => {
    const { payload, headers } = form(filename, contentType, data)
    return await app.inject({ method: 'POST', url: `/api/v1/users/${user.id}/avatar`, headers: { ...who.headers, ...headers }, payload })
  }
  const fetchAvatar = async (t: Test, url: string) => {
    const res = await app.inject({ url: new URL(url).pathname })
    t.equal(res.statusCode, 200, 'the avatar is served')
    t.equal(res.headers['content-type'], 'image/webp')
    return res.rawPayload
  }
  const profile = async () => (await app.inject({ url: `/api/v1/users/${user.id}/profile`, headers: user.headers })).json()

  await t.test('rejections store nothing', async (t) => {
    const rejections: Array<[string, string, string, Buffer, number, string]> = [
      ['text named .png', 'notes.png', 'image/png', Buffer.from('just some text, honestly an image'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['script named .png', 'avatar.png', 'image/png', Buffer.from('#!/bin/sh\nrm -rf /\n'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['an SVG', 'a.svg', 'image/svg+xml', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['a PNG cut short', 'cut.png', 'image/png', (await image(400, 400, 'png')).subarray(0, 60), 422, 'UNPROCESSABLE'],
      ['an oversized file', 'big.png', 'image/png', await image(400, 400, 'png', { noise: true }), 413, 'PAYLOAD_TOO_LARGE']
    ]
    for (const [name, filename, type, data, status, code] of rejections) {
      if (name === 'an oversized file') t.ok(data.length > MAX_BYTES, `the large file really is over the limit (${data.length} bytes)`)
      const res = await upload(filename, type, data)
      t.equal(res.statusCode, status, `${name}: ${status}`)
      t.match(res.json(), { statusCode: status, code, requestId: String }, `${name}: error shape`)
    }
    const json = await app.inject({ method: 'POST', url: `/api/v1/users/${user.id}/avatar`, headers: user.headers, payload: { file: 'x' } })
    t.equal(json.statusCode, 415, 'a JSON body is not an upload')
    const empty = form('x', 'text/plain', Buffer.alloc(0))
    const noFile = await app.inject({
      method: 'POST',
      url: `/api/v1/users/${user.id}/avatar`,
      headers: { ...user.headers, ...empty.headers },
      payload: empty.payload.toString().replace('; filename="x"', '').replace('Content-Type: text/plain\r\n', '')
    })
    t.equal(noFile.statusCode, 400, 'a form without a file')
    t.same(await stored(), [], 'no file was stored')
    t.equal((await profile()).avatarUrl, null, 'the profile is unchanged')
    t.equal((await upload('a.png', 'image/png', await image(64, 64, 'png'), other)).statusCode, 403, 'nobody else may set it')
  })

  await t.test('a form with anything besides one image in the field "file" is refused', async (t) => {
    const png = await image(64, 64, 'png')
    const jpeg = await image(64, 64, 'jpeg')
    const forms: Array<[string, Part[], RegExp]> = [
      ['two files in "file"', [{ name: 'file', filename: 'a.png', contentType: 'image/png', data: png }, { name: 'file', filename: 'b.jpg', contentType: 'image/jpeg', data: jpeg }], /more than one file/],
      ['a second file under another name', [{ name: 'file', filename: 'a.png', data: png }, { name: 'other', filename: 'b.jpg', data: jpeg }], /more than one file/],
      ['a file under another name', [{ name: 'avatar', filename: 'a.png', contentType: 'image/png', data: png }], /Unexpected file field "avatar"/],
      ['a field before the file', [{ name: 'caption', data: 'me' }, { name: 'file', filename: 'a.png', data: png }], /Unexpected form field "caption"/],
      ['a field after the file', [{ name: 'file', filename: 'a.png', data: png }, { name: 'caption', data: 'me' }], /Unexpected form field "caption"/],
      ['"file" as a plain field', [{ name: 'file', data: 'not a file' }], /must be a file/]
    ]
    for (const [name, parts, message] of forms) {
      const { payload, headers } = multipart(parts)
      const res = await app.inject({ method: 'POST', url: `/api/v1/users/${user.id}/avatar`, headers: { ...user.headers, ...headers }, payload })
      t.equal(res.statusCode, 400, `${name}: 400`)
      t.match(res.json(), { statusCode: 400, code: 'BAD_REQUEST', error: 'Bad Request', message, requestId: String }, `${name}: says what is wrong`)
    }
    t.same(await stored(), [], 'no file was stored')
    t.equal((await profile()).avatarUrl, null, 'the profile is unchanged')
  })

  let firstKey = ''
  await t.test('a PNG is re-encoded to a bounded square WebP', async (t) => {
    t.equal((await profile()).avatarUrl, null, 'profile read (and cached) before the upload')
    const res = await upload('me.png', 'image/png', await image(1200, 800, 'png'))
    t.equal(res.statusCode, 200)
    const body = res.json()
    t.match(body, { width: 512, height: 512 })
    t.match(body.avatarUrl, new RegExp(`/files/avatars/${user.id}/[0-9a-f]{64}\\.webp$`), 'content-addressed key')
    const served = await fetchAvatar(t, body.avatarUrl)
    t.equal(served.length, body.bytes)
    const meta = await sharp(served).metadata()
    t.match(meta, { format: 'webp', width: 512, height: 512 })
    t.equal((await profile()).avatarUrl, body.avatarUrl, 'the cached profile was invalidated')
    firstKey = path.basename(body.avatarUrl)
    t.same(await stored(), [firstKey])
  })

  await t.test('a JPEG with EXIF and GPS comes out with no metadata, and the old file goes', async (t) => {
    const jpeg = await sharp(await image(300, 420, 'jpeg'))
      .withMetadata({
        exif: {
          IFD0: { Copyright: 'Ada', Artist: 'Ada', ImageDescription: 'at home' },
          IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 0/1' }
        }
      })
      .jpeg()
      .toBuffer()
    const input = await sharp(jpeg).metadata()
    t.ok(input.exif && input.exif.length > 0, 'the upload carries EXIF')
    t.match(input.exif!.toString('latin1'), /Ada/)
    const res = await upload('holiday.jpg', 'application/octet-stream', jpeg)
    t.equal(res.statusCode, 200)
    t.match(res.json(), { width: 300, height: 300 }, 'square, never enlarged')
    const served = await fetchAvatar(t, res.json().avatarUrl)
    const meta = await sharp(served).metadata()
    t.equal(meta.format, 'webp')
    t.equal(meta.exif, undefined, 'no EXIF')
    t.equal(meta.xmp, undefined, 'no XMP')
    t.notOk(served.toString('latin1').includes('Ada'), 'no trace of the metadata in the bytes')
    t.same(await stored(), [path.basename(res.json().avatarUrl)], 'the previous avatar was removed')
    t.not(path.basename(res.json().avatarUrl), firstKey)
  })

  await t.test('WebP and AVIF are accepted; admins may set anyone\'s avatar', async (t) => {
    const admin = await signIn(app, { admin: true })
    const webp = await upload('a.webp', 'image/webp', await image(100, 50, 'webp'), admin)
    t.equal(webp.statusCode, 200)
    t.match(webp.json(), { width: 50, height: 50 })
    const avif = await upload('a.avif', 'image/avif', await image(80, 80, 'avif'))
    t.equal(avif.statusCode, 200)
    t.equal((await stored()).length, 1)
  })
})
