import {copyFileSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterEach, beforeAll, describe, expect, it} from 'vitest'

import {parseTargetRule} from '../../../src/cluster/allow.js'
import {parseExporterConfig} from '../../../src/exporter/config.js'
import {buildModules, type CommandLineDefaults, connectionFor, moduleWarnings} from '../../../src/exporter/modules.js'
import {fixedPassword} from '../../../src/transport/options.js'
import {makeCa, makePki} from '../../helpers/pki/openssl.js'
import {makeTempDir} from '../../helpers/temp.js'

const dir = makeTempDir('exporter-modules')
const ca = join(dir, 'ca.crt')
const cert = join(dir, 'client.crt')
const key = join(dir, 'client.key')
const pem = (path: string) => readFileSync(path, 'utf8')
writeFileSync(join(dir, 'monitor.password'), 'from-a-file\n')

beforeAll(async () => {
  const pki = await makePki(join(dir, 'pki'), {clients: ['admin']})
  copyFileSync(pki.caCert, ca)
  copyFileSync(pki.clients.admin!.cert, cert)
  copyFileSync(pki.clients.admin!.key, key)
  copyFileSync((await makeCa(join(dir, 'other'), {cn: 'other CA'})).cert, join(dir, 'other-ca.crt'))
})

const defaults: CommandLineDefaults = {
  flags: {cacert: ca, cert, key, insecure: false, timeout: 5, user: 'admin'},
  password: fixedPassword('from-the-environment'),
  deadlineMs: 30_000, warnDays: 30, concurrency: 64,
}
const config = parseExporterConfig(`
modules:
  same: {}
  anonymous: {cert: null, key: null, user: null, cacert: other-ca.crt, timeout: 1, deadline: 4, warn_days: 7, concurrency: 3}
  monitor: {user: monitor, password_file: monitor.password}
  by-env: {user: monitor, password_env: EXPORTER_TEST_PASSWORD}
  lab: {insecure: true}
`, {source: 'exporter.yml', baseDir: dir})
const modules = buildModules(defaults, config)
const target = {host: '10.0.0.5', port: 6380}

afterEach(() => {
  delete process.env.EXPORTER_TEST_PASSWORD
})

describe('exporter modules', () => {
  it('the command line is module "default"; a module without keys is the same', async () => {
    expect([...modules.keys()]).toEqual(['default', 'same', 'anonymous', 'monitor', 'by-env', 'lab'])
    for (const name of ['default', 'same']) {
      const c = await connectionFor(modules.get(name)!, target)
      expect(c).toMatchObject({host: '10.0.0.5', port: 6380, user: 'admin', timeoutMs: 5000})
      expect(await c.password?.()).toBe('from-the-environment')
      expect(c.tls.ca?.toString()).toBe(pem(ca))
      expect(c.tls.cert?.toString()).toBe(pem(cert))
    }
  })

  it('null drops what the command line has; every other key overrides it', async () => {
    const module = modules.get('anonymous')!
    expect(module).toMatchObject({deadlineMs: 4000, warnDays: 7, concurrency: 3, timeout: 1})
    const c = await connectionFor(module, target)
    expect(c.tls.cert).toBeUndefined()
    expect(c.tls.key).toBeUndefined()
    expect(c.tls.ca?.toString()).toBe(pem(join(dir, 'other-ca.crt')))
    expect(c.user).toBeUndefined()
    expect(c.password).toBeUndefined()
    expect(c.timeoutMs).toBe(1000)
  })

  it('passwords from a file (its final newline dropped) or a variable, read at every probe', async () => {
    const monitor = await connectionFor(modules.get('monitor')!, target)
    expect(monitor.user).toBe('monitor')
    expect(await monitor.password?.()).toBe('from-a-file')
    await expect(connectionFor(modules.get('by-env')!, target)).rejects.toThrow(/^module by-env: password_env EXPORTER_TEST_PASSWORD is not set/)
    process.env.EXPORTER_TEST_PASSWORD = 'rotated'
    expect(await (await connectionFor(modules.get('by-env')!, target)).password?.()).toBe('rotated')
  })

  it('a missing file names the module and the file, never the password', async () => {
    const broken = buildModules(defaults, parseExporterConfig('modules:\n  m: {user: monitor, password_file: missing.password}\n', {source: 'x', baseDir: dir}))
    const error = await connectionFor(broken.get('m')!, target).catch((e: Error) => e)
    expect(error).toBeInstanceOf(Error)
    expect((error as Error).message).toMatch(/^module m: cannot read password_file .*missing\.password: no such file or directory$/)
    expect((error as Error).message).not.toMatch(/from-the-environment/)
  })

  it('warns about insecure modules that send a password, and about credentials without a targets list', () => {
    const open = (name: string, what: string) => `module ${name}: no targets list (--allow-target, or targets: in the config): its ${what} to any server a /probe request names`
    expect(moduleWarnings(modules.get('lab')!)).toEqual(['module lab: insecure with a password sends the password to any server a probe names, unverified', open('lab', 'password and client certificate go')])
    expect(moduleWarnings(modules.get('default')!)).toEqual([open('default', 'password and client certificate go')])
    expect(moduleWarnings(modules.get('anonymous')!)).toEqual([]) // nothing to give away
    const listed = buildModules({...defaults, targets: [parseTargetRule('127.0.0.1')]}, parseExporterConfig('modules:\n  own: {targets: [10.0.0.0/8]}\n  inherits: {}\n', {source: 'x', baseDir: dir}))
    expect([...listed.values()].map((m) => [m.name, m.targets?.map((t) => t.text), moduleWarnings(m)])).toEqual([
      ['default', ['127.0.0.1'], []], ['own', ['10.0.0.0/8'], []], ['inherits', ['127.0.0.1'], []],
    ])
  })
})
