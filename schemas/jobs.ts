import { Type } from 'typebox'
import { ForwardPageSchema, TimestampSchema, UuidSchema } from './common.ts'

// Operators' view of the job queue (pg-boss): queue states and jobs that used up their retries.

export const QueueStateSchema = Type.Object({
  name: Type.String(),
  queued: Type.Integer({ minimum: 0, description: 'Waiting: ready now or deferred to a later start' }),
  ready: Type.Integer({ minimum: 0 }),
  deferred: Type.Integer({ minimum: 0 }),
  active: Type.Integer({ minimum: 0 }),
  oldestReadySeconds: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'Refreshed by the queue\'s monitor, not live' })
}, { title: 'QueueState', additionalProperties: false })

export const DeadJobSchema = Type.Object({
  id: UuidSchema,
  queue: Type.Union([Type.String(), Type.Null()], { description: 'The queue the job failed in, where a retry sends it back' }),
  data: Type.Record(Type.String(), Type.Unknown(), { description: 'The job as it was enqueued' }),
  error: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], { description: 'What the last attempt reported' }),
  failedAt: TimestampSchema
}, { title: 'DeadJob', additionalProperties: false })

// pg-boss lists a queue's jobs forward only.
export const DeadJobsPageSchema = ForwardPageSchema(DeadJobSchema)
