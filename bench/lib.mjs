// What the benchmark scripts share: a throw-away PKI made by openssl, free loopback ports, waiting,
// timing whole commands, medians. Nothing here measures anything by itself.
import {spawnSync} from 'node:child_process'
import {mkdirSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
/** The tool as the package's bin runs it. */
export const bin = join(root, 'bin', 'run.js')

export function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, {encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...opts})
  if (r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 6).join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`)
  return r.stdout
}

/** An EC P-256 CA and one certificate for 127.0.0.1/localhost usable as server and client. */
export function makePki(dir) {
  mkdirSync(dir, {recursive: true})
  const o = (...args) => sh('openssl', args, {cwd: dir})
  o('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '365', '-subj', '/CN=bench CA')
  writeFileSync(join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n')
  o('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost')
  o('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '365', '-extfile', 'ext', '-out', 'server.crt')
  return {ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key')}
}

/** A free loopback port below 55000 (room for an explicit bus port elsewhere). */
export async function freePort() {
  for (;;) {
    const port = await new Promise((res) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = s.address().port
        s.close(() => res(p))
      })
    })
    if (port < 55_000) return port
  }
}

export async function waitFor(ok, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      if (await ok()) return
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 200))
  }
}

/** Wall time of fn() in ms. */
export function time(fn) {
  const start = process.hrtime.bigint()
  fn()
  return Number(process.hrtime.bigint() - start) / 1e6
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
