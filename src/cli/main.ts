import {handle} from '@oclif/core/handle'
import {run} from '@oclif/core/run'

/**
 * What bin/run.js runs: oclif's `execute` (its `run`, then `handle` for an error), except for the output.
 * oclif ends a failed run with process.exit() at once, and gives its flush of stdout 10 s before it throws
 * ("timed out", an unhandled rejection: exit 1 and a stack) after a run that worked. Node writes to a pipe
 * asynchronously, so both lost output: `check --json | jq` over a large cluster with a failed node got its first
 * 64 KiB, and a successful report to a reader slower than 10 s was cut and turned into a crash. Here the run
 * waits until stdout and stderr have taken everything, as any program writing to a pipe does: for as long as
 * the reader takes, and no longer than it lives (a closed pipe ends the wait at once).
 */
export async function main(dir: string): Promise<void> {
  try {
    await run(process.argv.slice(2), dir)
  } catch (error) {
    await outputDrained()
    await handle(error as Error)
    return
  }
  await outputDrained()
}

function outputDrained(): Promise<unknown> {
  return Promise.all([process.stdout, process.stderr].map((stream) => new Promise<void>((resolve) => {
    if (stream.destroyed || stream.writableLength === 0) resolve()
    else stream.write('', () => resolve()) // called once what was written before it is out, or the stream failed
  })))
}
