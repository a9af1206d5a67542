/**
 * Entry point of the V8 startup snapshot that bin/valkey-tls starts from (built by scripts/build-snapshot.mjs,
 * never used by bin/run.js). Node parses and initialises nothing of ours at start-up: the snapshot already
 * holds the bundle, with the slow, environment-independent modules (reflect-metadata, @peculiar/x509)
 * initialised at build time. Everything else (oclif, chalk, prompts, the commands) is bundled but initialised
 * at run time, so colour support, DEBUG, terminal width and the like come from the real environment.
 *
 * At run time this runs oclif's own `execute`, exactly as bin/run.js does (same argv, same root), so flags,
 * help, --json, errors and exit codes are oclif's. The one difference: a snapshot cannot import() files, so the
 * root plugin gets its command classes from the bundle instead of loading them from dist/.
 */
import {dirname, join} from 'node:path'
import v8 from 'node:v8'

type CommandModule = Record<string, unknown> & {default?: unknown}
export type CommandTable = Record<string, () => Promise<CommandModule>>

export function install(commands: CommandTable): void {
  if (!v8.startupSnapshot.isBuildingSnapshot()) throw new Error('snapshot-entry only runs under node --build-snapshot')
  // Evaluated now, kept in the snapshot: none of this reads the environment or the terminal.
  void import('reflect-metadata').then(() => import('@peculiar/x509'))
  v8.startupSnapshot.setDeserializeMainFunction(() => {
    void main(commands)
  })
}

async function main(commands: CommandTable): Promise<void> {
  // bin/valkey-tls runs `node --snapshot-blob <root>/.snapshot/<name>.blob -- ...args`: argv is [node, ...args].
  const blob = process.execArgv[process.execArgv.indexOf('--snapshot-blob') + 1]
  const run = join(dirname(dirname(blob)), 'bin', 'run.js')
  process.argv = [process.execPath, run, ...process.argv.slice(1)]

  const oclif = await import('@oclif/core')
  const findCommand = oclif.Plugin.prototype.findCommand
  oclif.Plugin.prototype.findCommand = async function (this: InstanceType<typeof oclif.Plugin>, id: string, opts?: {must: boolean}) {
    const load = this.isRoot ? commands[id] : undefined
    if (!load) return findCommand.call(this, id, opts)
    // What oclif's own findCommand does after import()ing the command file.
    const module = await load()
    const isCommand = (value: unknown) => typeof (value as {run?: unknown} | undefined)?.run === 'function'
    const cmd = [module.default, ...Object.values(module)].find(isCommand) as Awaited<ReturnType<typeof findCommand>>
    if (!cmd) return findCommand.call(this, id, opts)
    return Object.assign(cmd, {id, plugin: this, isESM: true, relativePath: this.manifest.commands[id]?.relativePath})
  } as typeof findCommand
  await oclif.execute({dir: run})
}
