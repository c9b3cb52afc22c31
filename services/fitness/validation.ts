import { errors } from '../../lib/errors.ts'
import { MAX_RECORD_SPAN_HOURS, SAMPLE_CLOCK_SKEW_MINUTES, type DeletionInput, type SampleInput } from '../../schemas/fitness.ts'

// Both numbers are part of the API contract, so they live with the schema that documents them.
export const MAX_SPAN_MS = MAX_RECORD_SPAN_HOURS * 3_600_000
const CLOCK_SKEW_MS = SAMPLE_CLOCK_SKEW_MINUTES * 60_000

// A 400 in the same shape as a schema failure, naming the record (`body.samples.3.endTime`), so
// clients handle both kinds of bad input one way. Thrown before anything is written.
export function invalidField (path: Array<string | number>, message: string, context: 'body' | 'querystring' = 'body'): Error {
  return Object.assign(errors.BadRequest(message), {
    validation: [{ instancePath: `/${path.join('/')}`, message, params: {}, keyword: 'fitness' }],
    validationContext: context
  })
}

// Rules the schema cannot express. Duplicated ids are rejected rather than resolved by order,
// so a shuffled batch always means the same thing.
export function validateBatch (samples: SampleInput[], deletions: DeletionInput[], now: Date): void {
  const seen = new Map<string, string>()
  samples.forEach((s, i) => {
    const start = Date.parse(s.startTime)
    const end = Date.parse(s.endTime)
    if (end < start) throw invalidField(['samples', i, 'endTime'], 'must not be before startTime')
    if (end - start > MAX_SPAN_MS) throw invalidField(['samples', i, 'endTime'], `must be within ${MAX_RECORD_SPAN_HOURS} hours of startTime (split longer records by day)`)
    const latest = now.getTime() + CLOCK_SKEW_MS
    if (s.kind === 'sample' && end > latest) throw invalidField(['samples', i, 'endTime'], 'must not be in the future')
    if (start > latest) throw invalidField(['samples', i, 'startTime'], 'must not be in the future')
    const first = seen.get(s.externalId)
    if (first !== undefined) throw invalidField(['samples', i, 'externalId'], `duplicates ${first}`)
    seen.set(s.externalId, `samples.${i}`)
  })
  deletions.forEach((d, i) => {
    const first = seen.get(d.externalId)
    if (first !== undefined) throw invalidField(['deletions', i, 'externalId'], `duplicates ${first}`)
    seen.set(d.externalId, `deletions.${i}`)
  })
}
