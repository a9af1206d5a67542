export interface PoolOptions<T, R> {
  /** Items worked on at the same time. */
  limit: number
  /** Epoch ms after which no item starts and the pool stops waiting. */
  deadline: number
  work: (item: T, index: number) => Promise<R>
  onDone?: (result: R, done: number, total: number) => void
  /** After a result for which this is true, no further item starts (items already running finish). */
  stopAfter?: (result: R) => boolean
}

export interface PoolOutcome<R> {
  /** undefined: not started, or not finished by the deadline (see `started`). */
  results: Array<R | undefined>
  started: boolean[]
}

/** Runs `work` over `items` in order, at most `limit` at once, within a deadline. */
export async function runPool<T, R>(items: T[], options: PoolOptions<T, R>): Promise<PoolOutcome<R>> {
  const results: Array<R | undefined> = Array.from({length: items.length})
  const started = items.map(() => false)
  let next = 0
  let done = 0
  let stopped = false
  const worker = async () => {
    while (next < items.length && !stopped && Date.now() < options.deadline) {
      const index = next++
      started[index] = true
      const result = await options.work(items[index]!, index)
      results[index] = result
      if (options.stopAfter?.(result)) stopped = true
      options.onDone?.(result, ++done, items.length)
    }
  }
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, options.deadline - Date.now()))
  })
  await Promise.race([Promise.all(Array.from({length: Math.min(options.limit, items.length)}, worker)), expired])
  clearTimeout(timer)
  return {results: [...results], started: [...started]}
}
