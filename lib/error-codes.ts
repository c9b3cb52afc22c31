import { errors } from './errors.ts'

// Every `code` an error body can carry, by HTTP status: the coded errors of lib/errors.ts, the
// codes the error handler gives itself, and the framework's own codes clients already rely on.
// The API document states these as enums; the error handler answers any other code of a listed
// status with the status' first code, so the enums hold whatever a dependency throws.

const HANDLER_CODES: Record<number, readonly string[]> = {
  400: ['VALIDATION_ERROR', 'UNSTORABLE_VALUE', 'FST_ERR_CTP_INVALID_JSON_BODY', 'FST_ERR_CTP_EMPTY_JSON_BODY', 'FST_ERR_BAD_URL'],
  404: ['NOT_FOUND'],
  413: ['FST_ERR_CTP_BODY_TOO_LARGE'],
  414: ['FST_ERR_MAX_PARAM_LENGTH'],
  415: ['FST_ERR_CTP_INVALID_MEDIA_TYPE'],
  500: ['INTERNAL_ERROR'],
  503: ['SERVICE_UNAVAILABLE', 'SHUTTING_DOWN']
}

// What a listed status answers for a code it does not list (else its first code).
const FALLBACK: Record<number, string> = { 400: 'BAD_REQUEST', 413: 'PAYLOAD_TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE', 503: 'SERVICE_UNAVAILABLE' }

function codesByStatus (): Map<number, string[]> {
  const byStatus = new Map<number, string[]>()
  const add = (status: number, code: string): void => {
    const codes = byStatus.get(status) ?? []
    if (!codes.includes(code)) codes.push(code)
    byStatus.set(status, codes)
  }
  for (const [status, codes] of Object.entries(HANDLER_CODES)) for (const code of codes) add(Number(status), code)
  for (const make of Object.values(errors)) {
    const sample = make('') as { statusCode: number, code: string }
    add(sample.statusCode, sample.code)
  }
  return new Map([...byStatus].sort(([a], [b]) => a - b))
}

export const ERROR_CODES_BY_STATUS: ReadonlyMap<number, readonly string[]> = codesByStatus()

// The code an error body carries: the given one when documented for its status, else the
// status' first (BAD_REQUEST, CONFLICT, ...). Statuses the document does not list keep theirs.
export function documentedCode (statusCode: number, code: string | undefined): string {
  const codes = ERROR_CODES_BY_STATUS.get(statusCode)
  if (codes === undefined) return code ?? 'ERROR'
  return code !== undefined && codes.includes(code) ? code : FALLBACK[statusCode] ?? codes[0]!
}
