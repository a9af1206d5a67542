#!/usr/bin/env node
// Bundles the CLI into dist/:
// - cli.cjs: oclif and how bin/run.js runs it (src/cli/main.ts), every command of src/commands, the help class (package.json `oclif.helpClass`) and
//   the hooks (`oclif.hooks`), one CommonJS file. bin/run.js compiles it with V8's code cache (src/startup/load.ts),
//   which is why it is one file: Node starts a CLI faster from one cached file than from the dozens of ES modules
//   oclif and the commands are made of (BENCHMARKS.md). The modules a command import()s in run() stay in it, run
//   only when imported.
// - commands/**/*.cjs, help.cjs, hooks/*.cjs: what package.json and oclif.manifest.json name; each hands oclif
//   its part of cli.cjs, the one bin/run.js loaded (or cli.cjs itself, for `oclif manifest` and the tests).
// - vendor/*.cjs: the libraries only some runs need (the prompts, asn1js for --p12, proper-lockfile for reload,
//   yaml for the exporter's --config), each its own file, required when the code that imports them runs.
// - start.cjs: src/startup/load.ts, for bin/run.js.
// The package then needs nothing from node_modules at run time, so its libraries are devDependencies, and their
// licences are copied into dist/THIRD-PARTY-LICENSES.txt.
import {mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {dirname, join, relative, sep} from 'node:path'
import {fileURLToPath} from 'node:url'

import {build} from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')
const pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

/** Command ids as paths, from src/commands: certs/gen for src/commands/certs/gen.ts. */
function commandPaths(dir = join(root, 'src', 'commands')) {
  return readdirSync(dir, {withFileTypes: true}).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return commandPaths(path)
    return entry.name.endsWith('.ts') ? [relative(join(root, 'src', 'commands'), path).slice(0, -3).split(sep).join('/')] : []
  }).sort()
}

/** Libraries bundled apart, each into dist/vendor/NAME.cjs: imported only by code that some runs never reach. */
const VENDOR = {'@inquirer/prompts': 'prompts', asn1js: 'asn1js', 'proper-lockfile': 'proper-lockfile', yaml: 'yaml'}
const hooks = Object.entries(pjson.oclif.hooks).map(([event, file]) => ({event, file, source: `src/hooks/${file.split('/').at(-1).replace(/\.cjs$/, '.ts')}`}))
const commands = commandPaths()

const common = {
  absWorkingDir: root,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // The ES module builds of packages that have both: smaller, without CommonJS export shims.
  mainFields: ['module', 'main'],
  // Only oclif's development mode (auto-transpiling TypeScript) loads it; never the installed package.
  external: ['typescript'],
  // Less to read and parse. Identifiers stay as written (renaming them measured no faster): oclif and
  // base-command look at class names.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none', // the licences, whole, are in THIRD-PARTY-LICENSES.txt
  metafile: true,
  logLevel: 'warning',
}

const entry = [
  "export {main} from './src/cli/main.ts'",
  "export {default as help} from './src/help.ts'",
  ...hooks.map(({source}, i) => `import hook${i} from './${source}'`),
  `export const hooks = {${hooks.map(({event}, i) => `${JSON.stringify(event)}: hook${i}`).join(', ')}}`,
  ...commands.map((id, i) => `import command${i} from './src/commands/${id}.ts'`),
  `export const commands = {${commands.map((id, i) => `${JSON.stringify(id)}: command${i}`).join(', ')}}`,
].join('\n')

const cli = await build({
  ...common,
  stdin: {contents: entry, resolveDir: root, sourcefile: 'cli-entry.ts', loader: 'ts'},
  outfile: join(dist, 'cli.cjs'),
  plugins: [{
    name: 'vendor',
    setup(b) {
      const names = new RegExp(`^(${Object.keys(VENDOR).map((name) => name.replaceAll(/[/.]/g, (c) => `\\${c}`)).join('|')})$`)
      b.onResolve({filter: names}, (args) => ({path: `./vendor/${VENDOR[args.path]}.cjs`, external: true}))
    },
  }],
})
const vendor = await build({...common, entryPoints: Object.fromEntries(Object.entries(VENDOR).map(([name, file]) => [file, name])), outdir: join(dist, 'vendor'), outExtension: {'.js': '.cjs'}})
const start = await build({...common, entryPoints: ['src/startup/load.ts'], outfile: join(dist, 'start.cjs')})

/** A module oclif loads by its path: it takes `part` from the CLI bin/run.js loaded, else loads dist/cli.cjs itself. */
function handOver(file, part) {
  const path = join(dist, file)
  mkdirSync(dirname(path), {recursive: true})
  const cli = relative(dirname(path), join(dist, 'cli.cjs')).split(sep).join('/')
  writeFileSync(path, `"use strict";module.exports=(globalThis[Symbol.for("valkey-tls.cli")]??require(${JSON.stringify(cli.startsWith('.') ? cli : `./${cli}`)}))${part};\n`)
}
for (const id of commands) handOver(`commands/${id}.cjs`, `.commands[${JSON.stringify(id)}]`)
handOver(pjson.oclif.helpClass.replace(/^\.\/dist\//, ''), '.help')
for (const {event, file} of hooks) handOver(file.replace(/^\.\/dist\//, ''), `.hooks[${JSON.stringify(event)}]`)

const inputs = [cli, vendor, start].flatMap(({metafile}) => Object.keys(metafile.inputs))
writeFileSync(join(dist, 'THIRD-PARTY-LICENSES.txt'), thirdPartyLicenses(inputs))

/** The licence of every package with code in the bundle, as their licences ask copies to carry. */
function thirdPartyLicenses(inputs) {
  const packages = new Map()
  for (const input of inputs) {
    const parts = input.split(/[/\\]/)
    const at = parts.lastIndexOf('node_modules')
    if (at < 0) continue
    const dir = parts.slice(0, at + (parts[at + 1].startsWith('@') ? 3 : 2)).join(sep)
    if (!packages.has(dir)) packages.set(dir, JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')))
  }
  const sections = [...packages].sort(([, a], [, b]) => a.name.localeCompare(b.name)).map(([dir, pkg]) => {
    const file = readdirSync(join(root, dir)).find((name) => /^(licen[cs]e|copying)(\.|$)/i.test(name))
    const text = file ? readFileSync(join(root, dir, file), 'utf8').trim() : `(the package has no licence file; package.json says ${pkg.license})`
    return `${pkg.name} ${pkg.version} (${pkg.license ?? 'no licence named'})\n\n${text}\n`
  })
  return `valkey-tls bundles these packages into dist/.\n\n${sections.join(`\n${'-'.repeat(72)}\n\n`)}`
}
