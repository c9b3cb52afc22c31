import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import { build } from '../../helper.ts'
import { createUserProvisioning } from '../../../services/users/provisioning.ts'

// Known callers cost no query; a forgotten one (a deletion announced) is asked about again,
// and so is any caller after the maximum age (shorter while deletions cannot be heard).

test('user provisioning remembers callers, forgets deleted ones, and re-checks with age', async (t) => {
  const app = await build(t, { config: { LIFECYCLE_JOBS: false } })
  let queries = 0
  let clock = 1_000_000
  const pool = { query: async (...args: Parameters<typeof app.pg.pool.query>) => { queries++; return await app.pg.pool.query(...args) } }
  const provisioning = createUserProvisioning({ pool: pool as unknown as typeof app.pg.pool, now: () => clock })
  const asked = async (id: string): Promise<boolean> => {
    const before = queries
    await provisioning.provisionUser({ id, email: null, displayName: null })
    return queries > before
  }

  const id = randomUUID()
  provisioning.hearing(true)
  t.ok(await asked(id), 'the first call creates the row')
  t.notOk(await asked(id), 'a known caller costs no query')
  clock += 5 * 60_000
  t.notOk(await asked(id), 'still known while deletions are heard')
  clock += 6 * 60_000
  t.ok(await asked(id), 'asked again after ten minutes in any case')

  provisioning.forget(id)
  t.ok(await asked(id), 'a forgotten caller is asked about again')

  provisioning.hearing(false)
  clock += 31_000
  t.ok(await asked(id), 'while deletions cannot be heard, asked again after 30 s')
  t.notOk(await asked(id))
  provisioning.hearing(true)
  t.ok(await asked(id), 'hearing again forgets everyone: announcements may have been missed')

  // A check under way when a deletion is announced does not mark the caller known.
  const racing = provisioning.provisionUser({ id, email: null, displayName: null })
  provisioning.forget(id)
  await racing
  t.ok(await asked(id), 'the racing check did not count')

  await app.pg.query('UPDATE users SET deleted_at = now(), deleted_by = \'self\' WHERE id = $1', [id])
  provisioning.forget(id)
  await t.rejects(provisioning.provisionUser({ id, email: null, displayName: null }), { statusCode: 401, message: 'This account has been deleted' })
  await t.rejects(provisioning.provisionUser({ id, email: null, displayName: null }), { statusCode: 401, message: 'This account has been deleted' }, 'and on every later call')
})
