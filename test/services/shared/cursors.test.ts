import { test } from 'tap'
import fc from 'fast-check'
import { decodeCursor, decodePageCursor, encodeCursor, pageOf, pageRequest, type PageRequest } from '../../../services/shared/cursors.ts'

// A keyset list in memory, queried the way the services query Postgres: the rows beyond the
// cursor's key by `compare`, in `order`, limit + 1 of them.
function query (keys: number[], request: PageRequest, limit: number): number[] {
  const beyond = keys.filter((k) => request.key === null || (request.compare === '<' ? k < (request.key[0] as number) : k > (request.key[0] as number)))
  const ordered = beyond.sort((a, b) => request.order === 'DESC' ? b - a : a - b)
  return ordered.slice(0, limit + 1)
}

function walk (keys: number[], limit: number, descending: boolean, start: string | undefined, direction: 'next' | 'prev') {
  const seen: number[] = []
  let cursor = start
  let last = null
  for (let pages = 0; pages <= keys.length + 2; pages++) {
    const request = pageRequest(cursor, ['number'], descending)
    last = pageOf(query(keys, request, limit), limit, request, (k) => [k])
    if (direction === 'next') seen.push(...last.rows)
    else seen.unshift(...last.rows)
    const next = direction === 'next' ? last.nextCursor : last.prevCursor
    if (next === null) return { seen, last }
    cursor = next
  }
  throw new Error('the walk did not end')
}

test('any keyset list walked backward from its last page gives the entries of the forward walk', async () => {
  fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 10_000 }), { maxLength: 60 }), fc.integer({ min: 1, max: 9 }), fc.boolean(), (keys, limit, descending) => {
    const expected = [...keys].sort((a, b) => descending ? b - a : a - b)
    const forward = walk(keys, limit, descending, undefined, 'next')
    if (JSON.stringify(forward.seen) !== JSON.stringify(expected)) throw new Error(`forward ${forward.seen} != ${expected}`)
    if (forward.last.prevCursor === null) {
      if (keys.length > limit) throw new Error('a last page after others has a previous page')
      return
    }
    const backward = walk(keys, limit, descending, forward.last.prevCursor, 'prev')
    const whole = [...backward.seen, ...forward.last.rows]
    if (JSON.stringify(whole) !== JSON.stringify(expected)) throw new Error(`backward ${whole} != ${expected}`)
    if (backward.last.prevCursor !== null) throw new Error('the first page has a previous page')
  }), { seed: 20261206, numRuns: 300 })
})

test('cursors say their direction; a forward-only list refuses a prev cursor', async (t) => {
  t.same(decodePageCursor(encodeCursor([5, 'a']), ['number', 'string']), { key: [5, 'a'], direction: 'next' })
  t.same(decodePageCursor(encodeCursor([5, 'a'], 'prev'), ['number', 'string']), { key: [5, 'a'], direction: 'prev' })
  t.same(decodeCursor(encodeCursor([7]), ['number']), [7])
  t.throws(() => decodeCursor(encodeCursor([7], 'prev'), ['number']), { message: 'cursor is invalid' })
  for (const bad of ['', 'x', Buffer.from('{"prev":5}').toString('base64url'), Buffer.from('{"next":[5]}').toString('base64url'), encodeCursor(['5'])]) {
    t.throws(() => decodePageCursor(bad, ['number']), { message: 'cursor is invalid' }, `refused: ${bad}`)
  }
})
