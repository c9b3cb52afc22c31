import { createHash } from 'node:crypto'
import { errors } from '../../lib/errors.ts'
import type { UsersService } from './profiles.ts'

export interface AvatarStorage {
  put: (key: string, body: Buffer, contentType: string) => Promise<string>
  remove: (key: string) => Promise<void>
}

export interface Avatar {
  url: string
  key: string
  width: number
  height: number
  bytes: number
}

// Output side in pixels: avatars are square and never larger than this.
export const AVATAR_SIDE = 512
// Refuse decompression bombs before decoding them.
const MAX_INPUT_PIXELS = 50_000_000
const ACCEPTED = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/heic', 'image/heif', 'image/avif'])
const HEIF_FAMILY = new Set(['image/heic', 'image/heif', 'image/avif'])

interface ImageModules {
  sharp: typeof import('sharp').default
  fileTypeFromBuffer: typeof import('file-type').fileTypeFromBuffer
}

// sharp (libvips) and file-type are loaded on the first upload, not at start-up: together
// they are about 20 MB of resident memory that a process serving no upload never needs.
let imageModules: Promise<ImageModules> | undefined
async function loadImageModules (): Promise<ImageModules> {
  imageModules ??= Promise.all([import('sharp'), import('file-type')])
    .then(([sharp, fileType]) => ({ sharp: sharp.default, fileTypeFromBuffer: fileType.fileTypeFromBuffer }))
  return await imageModules
}

// Re-encoding drops every metadata block (EXIF, GPS, XMP, ICC comments) because sharp only
// keeps metadata when asked to; orientation is applied first so the picture stays upright.
async function reencode (input: Buffer, mime: string): Promise<{ data: Buffer, width: number, height: number }> {
  const { sharp } = await loadImageModules()
  try {
    const image = sharp(input, { failOn: 'error', limitInputPixels: MAX_INPUT_PIXELS }).rotate()
    const { width = 0, height = 0 } = await image.metadata()
    const side = Math.max(1, Math.min(AVATAR_SIDE, width, height))
    const { data, info } = await image
      .resize(side, side, { fit: 'cover', position: 'centre' })
      .webp({ quality: 82 })
      .toBuffer({ resolveWithObject: true })
    return { data, width: info.width, height: info.height }
  } catch {
    // Prebuilt sharp decodes AVIF but not HEVC-coded HEIC: that is "unsupported here", not "broken".
    if (HEIF_FAMILY.has(mime)) throw errors.UnsupportedMediaType(`${mime} images are not supported by this server, send JPEG, PNG or WebP`)
    throw errors.Unprocessable('The image could not be decoded')
  }
}

export function createAvatarService ({ storage, users }: { storage: AvatarStorage, users: Pick<UsersService, 'setAvatar'> }) {
  // Validates from the bytes, never from the file name or declared type; nothing is stored
  // unless the image decodes and re-encodes.
  async function replace (userId: string, upload: Buffer): Promise<Avatar> {
    const { fileTypeFromBuffer } = await loadImageModules()
    const type = await fileTypeFromBuffer(upload)
    if (!type || !ACCEPTED.has(type.mime)) throw errors.UnsupportedMediaType('Avatar must be a JPEG, PNG, WebP or HEIC image')
    const { data, width, height } = await reencode(upload, type.mime)
    const digest = createHash('sha256').update(data).digest('hex')
    const key = `avatars/${userId.toLowerCase()}/${digest}.webp`
    const url = await storage.put(key, data, 'image/webp')
    const { previousKey } = await users.setAvatar(userId, { key, url }).catch(async (err: unknown) => {
      // e.g. an admin uploading for a user who does not exist: leave nothing behind.
      await storage.remove(key).catch(() => {})
      throw err
    })
    if (previousKey && previousKey !== key) {
      // A leftover file is harmless and costs only space; the new avatar is already live.
      await storage.remove(previousKey).catch(() => {})
    }
    return { url, key, width, height, bytes: data.length }
  }

  return { replace }
}

export type AvatarService = ReturnType<typeof createAvatarService>
