import type { FastifyInstance, FastifyRequest } from 'fastify'
import { errors } from '../../lib/errors.ts'

export const AVATAR_FIELD = 'file'

interface AvatarFormOptions {
  maxBytes: number
  multipartErrors: FastifyInstance['multipartErrors']
}

// Maps what @fastify/multipart's limits raise to our errors. `files: 1` makes the parser
// skip a second file and raise FilesLimitError when it starts: the form is wrong, not large.
function refusal (err: unknown, { maxBytes, multipartErrors }: AvatarFormOptions): unknown {
  if (err instanceof multipartErrors.RequestFileTooLargeError) return errors.PayloadTooLarge(`Avatar must be at most ${maxBytes} bytes`)
  if (err instanceof multipartErrors.FilesLimitError) {
    return errors.BadRequest(`The form holds more than one file: send one image, in the field "${AVATAR_FIELD}"`)
  }
  if (err instanceof multipartErrors.FieldsLimitError || err instanceof multipartErrors.PartsLimitError) {
    return errors.BadRequest(`The form holds too many parts: send one image, in the field "${AVATAR_FIELD}"`)
  }
  return err
}

// The avatar form is one part: an image file in the field "file". Any other part (a second
// file, a file under another name, a plain field) is refused, never ignored: a client must
// not be told 200 while part of what it sent was dropped.
export async function readAvatarForm (request: FastifyRequest, opts: AvatarFormOptions): Promise<Buffer> {
  let upload: Buffer | undefined
  try {
    for await (const part of request.parts()) {
      if (part.type === 'field') {
        throw errors.BadRequest(part.fieldname === AVATAR_FIELD
          ? `The field "${AVATAR_FIELD}" must be a file (a part with a filename)`
          : `Unexpected form field "${part.fieldname}": the form holds only the image, in the field "${AVATAR_FIELD}"`)
      }
      if (part.fieldname !== AVATAR_FIELD) {
        throw errors.BadRequest(`Unexpected file field "${part.fieldname}": send the image in the field "${AVATAR_FIELD}"`)
      }
      if (upload) throw errors.BadRequest(`The form holds more than one file: send one image, in the field "${AVATAR_FIELD}"`)
      upload = await part.toBuffer()
    }
  } catch (err) {
    throw refusal(err, opts)
  }
  if (!upload) throw errors.BadRequest(`The form has no file: send the image in the field "${AVATAR_FIELD}"`)
  return upload
}
