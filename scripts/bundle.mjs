#!/usr/bin/env node
// Bundles the CLI into dist/: execute.js (oclif's `execute`, what bin/run.js starts), commands/ (one module a
// command, as in src/commands: oclif imports the one it runs, found through oclif.manifest.json; help needs none),
// help.js (package.json `oclif.helpClass`), hooks/ (package.json `oclif.hooks`) and, in dist/chunks/, the code
// they share and the modules the commands import() in run(), each loaded only by the command that needs it.
// Why: Node starts a CLI faster from a few files than from the hundreds that oclif, asn1js and the
// prompts are made of (see BENCHMARKS.md). The package then needs nothing from node_modules at run time, so its
// libraries are devDependencies, and their licences are copied into dist/THIRD-PARTY-LICENSES.txt.
import {readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {dirname, join, relative, sep} from 'node:path'
import {fileURLToPath} from 'node:url'

import {build} from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')

/** src/commands/certs/gen.ts as the entry 'commands/certs/gen' (dist/commands/certs/gen.js, where oclif looks). */
function commandEntries(dir = join(root, 'src', 'commands')) {
  return Object.fromEntries(readdirSync(dir, {withFileTypes: true}).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return Object.entries(commandEntries(path))
    return entry.name.endsWith('.ts') ? [[relative(join(root, 'src'), path).slice(0, -3).split(sep).join('/'), path]] : []
  }))
}

const {metafile} = await build({
  absWorkingDir: root,
  entryPoints: {execute: '@oclif/core/execute', ...commandEntries(), help: 'src/help.ts', 'hooks/command-not-found': 'src/hooks/command-not-found.ts'},
  outdir: dist,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // The ES module builds of packages that have both (asn1js, for --p12): they initialise faster than their CommonJS
  // builds (no CommonJS export shims), and are smaller.
  mainFields: ['module', 'main'],
  // oclif and others are CommonJS and require() Node's built-ins, which an ES module can only do through this.
  banner: {js: "import {createRequire as __createRequire} from 'node:module';const require=__createRequire(import.meta.url);"},
  // Only oclif's development mode (auto-transpiling TypeScript) loads it; never the installed package.
  external: ['typescript'],
  // Less to read and parse. Identifiers stay as written (renaming them measured no faster): oclif and
  // base-command look at class names.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none', // the licences, whole, are in THIRD-PARTY-LICENSES.txt
  metafile: true,
  logLevel: 'warning',
})

writeFileSync(join(dist, 'THIRD-PARTY-LICENSES.txt'), thirdPartyLicenses(Object.keys(metafile.inputs)))

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
