import {describe, expect, it} from 'vitest'

import {ProbeLimiter, type Slot} from '../../../src/exporter/limiter.js'

const later = (ms: number) => Date.now() + ms
const isSlot = (s: unknown): s is Slot => typeof s === 'object' && s !== null

describe('probe limiter', () => {
  it('runs at most `limit` at once; the next waiter gets the slot a probe releases', async () => {
    const limiter = new ProbeLimiter(2, 2)
    const a = await limiter.acquire(later(1000))
    const b = await limiter.acquire(later(1000))
    expect(isSlot(a) && isSlot(b)).toBe(true)
    expect(limiter.running).toBe(2)
    const waiting = limiter.acquire(later(1000))
    expect(limiter.queued).toBe(1)
    ;(a as Slot).release()
    ;(a as Slot).release() // twice is once
    const c = await waiting
    expect(isSlot(c)).toBe(true)
    expect(limiter.running).toBe(2)
    ;(b as Slot).release()
    ;(c as Slot).release()
    expect(limiter.running).toBe(0)
  })

  it('a full queue is refused at once; a waiter whose deadline passes gives up', async () => {
    const limiter = new ProbeLimiter(1, 1)
    const held = await limiter.acquire(later(1000))
    const waiting = limiter.acquire(later(50))
    expect(await limiter.acquire(later(1000))).toBe('busy')
    const started = Date.now()
    expect(await waiting).toBe('timeout')
    expect(Date.now() - started).toBeLessThan(500)
    expect(limiter.queued).toBe(0)
    ;(held as Slot).release()
  })

  it('close refuses waiting and later probes; idle resolves when the running ones finish', async () => {
    const limiter = new ProbeLimiter(1, 4)
    const held = await limiter.acquire(later(1000))
    const waiting = limiter.acquire(later(1000))
    limiter.close()
    expect(await waiting).toBe('closed')
    expect(await limiter.acquire(later(1000))).toBe('closed')
    let idle = false
    const done = limiter.idle().then(() => (idle = true))
    await new Promise((r) => setTimeout(r, 10))
    expect(idle).toBe(false)
    ;(held as Slot).release()
    await done
    expect(idle).toBe(true)
  })
})
