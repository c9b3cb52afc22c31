import type { JobQueue } from '../shared/jobs.ts'
import type { Db } from '../shared/transactions.ts'

// Time-driven status changes are jobs due at each competition's instants: start (scheduled ->
// active), end (active -> grace) and final (grace -> final). Each transition enqueues the job
// of the next one in its own transaction, so a competition always has its next step waiting.
export const LIFECYCLE_QUEUE = 'competitions.lifecycle'

export interface LifecycleJob { competitionId: string }

// The key names the step and its instant: a second enqueue of the same step is dropped (the
// queue is exclusive per key), while a step whose instant moved gets a job of its own.
const NEXT_STEPS = `SELECT id, status,
    CASE status WHEN 'scheduled' THEN starts_at
      WHEN 'active' THEN ends_at
      ELSE ends_at + grace_period_seconds * interval '1 second' END AS due_at
  FROM competitions WHERE status IN ('scheduled', 'active', 'grace')`

interface NextStep { id: string, status: string, due_at: Date }

function stepJob (step: NextStep) {
  return {
    data: { competitionId: step.id } satisfies LifecycleJob,
    startAfter: step.due_at,
    singletonKey: `${step.id}:${step.status}:${step.due_at.getTime()}`
  }
}

export async function scheduleNextStep (db: Db, jobs: JobQueue, competitionId: string): Promise<void> {
  const { rows } = await db.query<NextStep>(`${NEXT_STEPS} AND id = $1`, [competitionId])
  if (rows[0] !== undefined) await jobs.sendMany(db, LIFECYCLE_QUEUE, [stepJob(rows[0])])
}

// Every running competition's next step, for competitions that predate the queue or whose job
// was deleted by hand; the steps already waiting are left as they are.
export async function scheduleAllSteps (db: Db, jobs: JobQueue): Promise<number> {
  const { rows } = await db.query<NextStep>(NEXT_STEPS)
  for (let i = 0; i < rows.length; i += 500) await jobs.sendMany(db, LIFECYCLE_QUEUE, rows.slice(i, i + 500).map(stepJob))
  return rows.length
}
