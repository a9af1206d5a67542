#!/usr/bin/env node
// The package's bin (npm makes a cmd/PowerShell shim of it on Windows). oclif itself comes from the bundle the
// build makes (scripts/bundle.mjs): dist/execute.js is oclif's `execute`, and oclif finds the commands in
// dist/commands (package.json `oclif.commands`, through oclif.manifest.json), loading only the one it runs, none
// for help.
// `--version` is answered here without loading oclif: same condition and same text as oclif's own
// (main.run versionAddition, Config.userAgent); anything unusual (WSL, where oclif prints "wsl-<arch>"; DEBUG;
// hooks other than command_not_found, which a version request never reaches) goes the normal oclif way.
import {readFileSync} from 'node:fs'
import module from 'node:module'
import {arch, release} from 'node:os'

const pjson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
const maybeWsl = () => process.platform === 'linux'
  && /microsoft/i.test(release() + (() => { try { return readFileSync('/proc/version', 'utf8') } catch { return '' } })())

if (['--version', ...(pjson.oclif?.additionalVersionFlags ?? [])].includes(process.argv[2])
    && !process.env.DEBUG && !Object.keys(pjson.oclif?.hooks ?? {}).some((hook) => hook !== 'command_not_found') && !maybeWsl()) {
  const cpu = arch() === 'ia32' ? 'x86' : arch()
  process.stdout.write(`${pjson.name}/${pjson.version ?? '0.0.0'} ${process.platform}-${cpu} node-${process.version}\n`)
} else {
  // Node >= 22.1 keeps V8's compiled code of the bundle in a cache (in the temp folder), as tsc and vite do;
  // Node 20 has no such API, and compiles it at every start.
  module.enableCompileCache?.()
  // The bundle is what runs, whatever NODE_ENV says: oclif's development mode would look for TypeScript sources.
  globalThis.oclif = {...globalThis.oclif, enableAutoTranspile: false}
  const {default: {execute}} = await import('../dist/execute.js') // a CommonJS module bundled as an ES one
  await execute({dir: import.meta.url})
}
