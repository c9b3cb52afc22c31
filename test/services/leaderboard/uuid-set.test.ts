import { randomUUID } from 'node:crypto'
import { test } from 'tap'
import { AscendingUuidSet } from '../../../services/leaderboard/uuid-set.ts'

test('ids added in ascending order are found in any spelling; others are not', async (t) => {
  const ids = Array.from({ length: 3000 }, () => randomUUID()).sort()
  const set = new AscendingUuidSet()
  for (const id of ids) set.add(id)
  t.equal(set.size, 3000)
  t.ok(ids.every((id) => set.has(id)), 'every id added')
  t.ok(set.has(ids[7]!.toUpperCase()) && set.has(ids[7]!.replaceAll('-', '')), 'case and dashes do not matter')
  t.ok(Array.from({ length: 3000 }, () => randomUUID()).every((id) => !set.has(id)), 'no id not added')
  t.notOk(set.has('not-a-uuid'))
})

test('an id out of order or malformed makes the set answer false, never a wrong true', async (t) => {
  const [a, b] = [randomUUID(), randomUUID()].sort()
  const unordered = new AscendingUuidSet()
  unordered.add(b!)
  unordered.add(a!)
  t.notOk(unordered.has(b!))
  const malformed = new AscendingUuidSet()
  malformed.add('x')
  malformed.add(a!)
  t.notOk(malformed.has(a!))
})
