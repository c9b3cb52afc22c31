// Group commit for writes that arrive concurrently: items submitted while earlier batches are
// in flight are collected and run together as the next batch (one transaction), so under load
// the cost of a commit is shared by many writes while a lone write still goes out at once.
// Each submitter gets its own item's result.

export interface WriteBatcherOptions {
  // Most items in one batch.
  maxBatch: number
  // Batches running at once (each holds a database connection).
  maxInFlight: number
}

interface Pending<I, O> {
  item: I
  resolve: (value: O) => void
  reject: (err: unknown) => void
  // Run alone: its batch failed on something other than the connection.
  alone: boolean
}

// Errors Postgres raised about the statement or the data (not the connection, resources or
// a shutdown): a batch failing with one is retried item by item, so only the item at fault fails.
function aboutTheData (err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !['08', '53', '57', '58'].includes(code.slice(0, 2))
}

export function createWriteBatcher<I, O> (run: (items: I[]) => Promise<O[]>, opts: WriteBatcherOptions) {
  const queue: Array<Pending<I, O>> = []
  let inFlight = 0

  function next (): void {
    while (inFlight < opts.maxInFlight && queue.length > 0) {
      const batch = queue[0]!.alone ? queue.splice(0, 1) : takeBatch()
      inFlight++
      run(batch.map((p) => p.item)).then((results) => {
        batch.forEach((p, i) => p.resolve(results[i]!))
      }, (err) => {
        if (batch.length > 1 && aboutTheData(err)) {
          queue.unshift(...batch.map((p) => ({ ...p, alone: true })))
        } else {
          for (const p of batch) p.reject(err)
        }
      }).finally(() => {
        inFlight--
        next()
      })
    }
  }

  function takeBatch (): Array<Pending<I, O>> {
    let n = 0
    while (n < queue.length && n < opts.maxBatch && !queue[n]!.alone) n++
    return queue.splice(0, n)
  }

  async function submit (item: I): Promise<O> {
    return await new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject, alone: false })
      next()
    })
  }

  return { submit, pending: () => queue.length + inFlight }
}
