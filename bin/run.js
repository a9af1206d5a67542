#!/usr/bin/env node
// The package's bin (npm makes a cmd/PowerShell shim of it on Windows). The CLI is the bundle the build makes
// (scripts/bundle.mjs): dist/cli.cjs holds oclif, how it is run (src/cli/main.ts) and every command; oclif finds the commands through
// oclif.manifest.json (package.json `oclif.commands`), as dist/commands/*.cjs, which hand it the command's class
// from that bundle.
// `--version` is answered here without loading oclif: same condition and same text as oclif's own
// (main.run versionAddition, Config.userAgent); anything unusual (WSL, where oclif prints "wsl-<arch>"; DEBUG;
// hooks other than command_not_found, which a version request never reaches) goes the normal oclif way.
import {existsSync, readFileSync} from 'node:fs'
import module from 'node:module'
import {arch, release} from 'node:os'
import {fileURLToPath} from 'node:url'

const pjson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
const maybeWsl = () => process.platform === 'linux'
  && /microsoft/i.test(release() + (() => { try { return readFileSync('/proc/version', 'utf8') } catch { return '' } })())

if (['--version', ...(pjson.oclif?.additionalVersionFlags ?? [])].includes(process.argv[2])
    && !process.env.DEBUG && !Object.keys(pjson.oclif?.hooks ?? {}).some((hook) => hook !== 'command_not_found') && !maybeWsl()) {
  const cpu = arch() === 'ia32' ? 'x86' : arch()
  process.stdout.write(`${pjson.name}/${pjson.version ?? '0.0.0'} ${process.platform}-${cpu} node-${process.version}\n`)
} else {
  // Node >= 22.1 keeps V8's compiled code of what it loads (the vendored libraries in dist/vendor) in a cache of its
  // own; the CLI itself, dist/cli.cjs, goes through ours (src/startup/load.ts), which works on Node 20 too.
  module.enableCompileCache?.()
  // The bundle is what runs, whatever NODE_ENV says: oclif's development mode would look for TypeScript sources.
  globalThis.oclif = {...globalThis.oclif, enableAutoTranspile: false}
  const require = module.createRequire(import.meta.url)
  const {codeCacheFolder, commandKey, loadCli} = require('../dist/start.cjs')
  const dist = new URL('../dist/', import.meta.url)
  const key = commandKey(process.argv.slice(2), (id) => existsSync(new URL(`commands/${id}.cjs`, dist)))
  const debug = /(^|[\s,])(\*|valkey-tls:(\*|startup))([\s,]|$)/.test(process.env.DEBUG ?? '') ? (line) => process.stderr.write(`valkey-tls:startup ${line}\n`) : undefined
  const folder = process.env.NODE_DISABLE_COMPILE_CACHE ? undefined : codeCacheFolder(pjson.oclif.dirname ?? pjson.name)
  const {exports: cli} = loadCli(fileURLToPath(new URL('cli.cjs', dist)), key, folder, debug)
  // The command modules oclif loads (dist/commands/*.cjs, through oclif.manifest.json) take the CLI from here.
  globalThis[Symbol.for('valkey-tls.cli')] = cli
  await cli.main(import.meta.url)
}
