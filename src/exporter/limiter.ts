/**
 * At most `limit` probes run at once; more wait in a queue of at most `maxQueued`, each no longer than
 * its own deadline (a probe that could not start before Prometheus gives up is not worth starting).
 * Every probe holds sockets to every node of a cluster, so this bounds the exporter's connections and
 * memory whatever Prometheus (or anyone else) asks.
 */
export type Slot = {release: () => void}
export type Refusal = 'busy' | 'timeout' | 'closed'

interface Waiter {
  grant: (slot: Slot | Refusal) => void
  timer: NodeJS.Timeout
}

export class ProbeLimiter {
  private active = 0
  private readonly queue: Waiter[] = []
  private closed = false
  private readonly idleWaiters: Array<() => void> = []

  constructor(readonly limit: number, readonly maxQueued: number) {}

  get running(): number {
    return this.active
  }

  get queued(): number {
    return this.queue.length
  }

  /** A slot, or why there is none: the queue is full, the deadline passed while waiting, or the limiter closed. */
  acquire(deadline: number): Promise<Slot | Refusal> {
    if (this.closed) return Promise.resolve('closed')
    if (this.active < this.limit) return Promise.resolve(this.grant())
    if (this.queue.length >= this.maxQueued) return Promise.resolve('busy')
    return new Promise((resolve) => {
      const waiter: Waiter = {
        grant: resolve,
        timer: setTimeout(() => {
          this.queue.splice(this.queue.indexOf(waiter), 1)
          resolve('timeout')
        }, Math.max(0, deadline - Date.now())),
      }
      this.queue.push(waiter)
    })
  }

  /** Refuses every waiting and future probe; running ones go on (see idle()). */
  close(): void {
    this.closed = true
    for (const waiter of this.queue.splice(0)) {
      clearTimeout(waiter.timer)
      waiter.grant('closed')
    }
  }

  /** Resolves when no probe runs. */
  idle(): Promise<void> {
    return this.active === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private grant(): Slot {
    this.active++
    let released = false
    return {
      release: () => {
        if (released) return
        released = true
        this.active--
        const next = this.closed ? undefined : this.queue.shift()
        if (next) {
          clearTimeout(next.timer)
          next.grant(this.grant())
        } else if (this.active === 0) {
          for (const resolve of this.idleWaiters.splice(0)) resolve()
        }
      },
    }
  }
}
