import {describe, expect, it} from 'vitest'

import {runPool} from '../../src/pool.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const FAR = () => Date.now() + 60_000

/** A work function that records start order and the largest number of items running at once. */
function tracked<R>(run: (item: number, index: number) => Promise<R>) {
  const state = {running: 0, max: 0, startOrder: [] as number[], finished: [] as number[]}
  const work = async (item: number, index: number) => {
    state.startOrder.push(index)
    state.running++
    state.max = Math.max(state.max, state.running)
    try {
      return await run(item, index)
    } finally {
      state.running--
      state.finished.push(index)
    }
  }
  return {state, work}
}

describe('runPool', () => {
  it('starts items in order, never more than limit at once, and keeps results by index', async () => {
    const items = Array.from({length: 10}, (_, i) => i)
    // Uneven durations, so finishing order differs from starting order.
    const {state, work} = tracked(async (item) => {
      await sleep([30, 5, 20, 10, 1, 25, 5, 15, 1, 10][item]!)
      return item * 10
    })
    const outcome = await runPool(items, {limit: 3, deadline: FAR(), work})
    expect(state.startOrder).toEqual(items)
    expect(state.max).toBe(3)
    expect(state.finished).not.toEqual(items)
    expect(outcome.results).toEqual(items.map((i) => i * 10))
    expect(outcome.started).toEqual(items.map(() => true))
  })

  it('with limit 1 runs strictly one after the other', async () => {
    const {state, work} = tracked(async () => sleep(2))
    await runPool([1, 2, 3, 4], {limit: 1, deadline: FAR(), work})
    expect(state.max).toBe(1)
    expect(state.finished).toEqual([0, 1, 2, 3])
  })

  it('starts no more workers than items', async () => {
    const {state, work} = tracked(async (item) => {
      await sleep(10)
      return item
    })
    const outcome = await runPool([7, 8], {limit: 16, deadline: FAR(), work})
    expect(state.max).toBe(2)
    expect(outcome.results).toEqual([7, 8])
  })

  it('reports each result to onDone with a running count', async () => {
    const calls: Array<[number, number, number]> = []
    await runPool(['a', 'b', 'c'], {limit: 2, deadline: FAR(), work: async (s) => s.charCodeAt(0), onDone: (r, done, total) => calls.push([r, done, total])})
    expect(calls.map(([, done, total]) => [done, total])).toEqual([[1, 3], [2, 3], [3, 3]])
    expect(calls.map(([r]) => r).sort()).toEqual([97, 98, 99])
  })

  it('stopAfter: no item starts after a stopping result, and those already running finish', async () => {
    const items = [0, 1, 2, 3, 4, 5]
    // Item 0 is slow; item 1 fails fast while item 0 still runs.
    const {state, work} = tracked(async (item) => {
      await sleep(item === 0 ? 80 : 10)
      return item === 1 ? 'failed' : `ok ${item}`
    })
    const outcome = await runPool(items, {limit: 2, deadline: FAR(), work, stopAfter: (r) => r === 'failed'})
    expect(state.startOrder).toEqual([0, 1])
    expect(outcome.started).toEqual([true, true, false, false, false, false])
    expect(outcome.results).toEqual(['ok 0', 'failed', undefined, undefined, undefined, undefined])
  })

  it('stopAfter on the last-started item still lets the earlier ones in flight finish', async () => {
    const {work} = tracked(async (item) => {
      await sleep(item === 2 ? 5 : 60)
      return item
    })
    const outcome = await runPool([0, 1, 2, 3, 4], {limit: 3, deadline: FAR(), work, stopAfter: (r) => r === 2})
    expect(outcome.started).toEqual([true, true, true, false, false])
    expect(outcome.results).toEqual([0, 1, 2, undefined, undefined])
  })

  it('at the deadline starts nothing more and stops waiting: unstarted and unfinished items stay undefined', async () => {
    const {state, work} = tracked(async (item) => {
      await sleep(200)
      return item
    })
    const start = Date.now()
    const outcome = await runPool([0, 1, 2, 3, 4], {limit: 1, deadline: start + 300, work})
    const took = Date.now() - start
    // Item 0 runs 0..200 ms; item 1 starts at ~200 ms and would end at ~400 ms, after the deadline.
    expect(outcome.started).toEqual([true, true, false, false, false])
    expect(outcome.results).toEqual([0, undefined, undefined, undefined, undefined])
    expect(took).toBeGreaterThanOrEqual(290)
    expect(took).toBeLessThan(390)
    await sleep(150) // let item 1 end: the outcome already returned is a copy and stays as it was
    expect(state.finished).toContain(1)
    expect(outcome.results[1]).toBeUndefined()
  })

  it('starts nothing when the deadline has passed', async () => {
    const {state, work} = tracked(async (item) => item)
    const outcome = await runPool([1, 2], {limit: 2, deadline: Date.now() - 1, work})
    expect(state.startOrder).toEqual([])
    expect(outcome).toEqual({results: [undefined, undefined], started: [false, false]})
  })

  it('handles no items', async () => {
    expect(await runPool([], {limit: 4, deadline: FAR(), work: async () => 1})).toEqual({results: [], started: []})
  })
})
