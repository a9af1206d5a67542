#!/usr/bin/env node
// Portable entry point, and the fallback of bin/valkey-tls. `--version` is answered here without importing
// oclif (~75 ms): same condition and same text as oclif's own (main.run versionAddition, Config.userAgent);
// anything unusual (WSL, where oclif prints "wsl-<arch>"; DEBUG; hooks) goes the normal oclif way.
import {readFileSync} from 'node:fs'
import {arch, release} from 'node:os'

const pjson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
const maybeWsl = () => process.platform === 'linux'
  && /microsoft/i.test(release() + (() => { try { return readFileSync('/proc/version', 'utf8') } catch { return '' } })())

if (['--version', ...(pjson.oclif?.additionalVersionFlags ?? [])].includes(process.argv[2])
    && !process.env.DEBUG && !pjson.oclif?.hooks && !maybeWsl()) {
  const cpu = arch() === 'ia32' ? 'x86' : arch()
  process.stdout.write(`${pjson.name}/${pjson.version ?? '0.0.0'} ${process.platform}-${cpu} node-${process.version}\n`)
} else {
  const {execute} = await import('@oclif/core')
  await execute({dir: import.meta.url})
}
