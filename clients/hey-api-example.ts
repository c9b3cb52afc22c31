// How an integrator uses the hey-api SDK generated into clients/hey-api/ (one function per
// operationId, one type per named schema, each error status with its codes). Compiled with
// clients/tsconfig.hey-api.json, which adds the DOM library the SDK's fetch client is typed for.
import { createClient } from './hey-api/client/index.ts'
import { getCompetition, joinCompetition } from './hey-api/sdk.gen.ts'
import type { Competition, JoinCompetitionErrors, Membership } from './hey-api/types.gen.ts'

// Joins a competition when it is open; otherwise says why not, by error code.
export async function joinWhenOpen (baseUrl: string, token: string, id: string): Promise<Membership | Competition['status'] | JoinCompetitionErrors[409]['code']> {
  const client = createClient({ baseUrl, auth: token })
  const { data: competition, error } = await getCompetition({ client, path: { id } })
  if (competition === undefined) throw new Error(`competition ${id}: ${error?.code}`)
  if (!competition.joinable) return competition.status
  const joined = await joinCompetition({ client, path: { id } })
  if (joined.data !== undefined) return joined.data
  if (joined.error?.code === 'INSUFFICIENT_FUNDS' || joined.error?.code === 'CONFLICT') return joined.error.code
  throw new Error(`join ${id}: ${joined.error?.code}`)
}
