/**
 * `valkey-tls exporter` with a real Prometheus (Debian's package, unpacked by scripts/ensure-prometheus.sh)
 * scraping it through the standard relabelling, all from the files in examples/: the exporter runs as
 * examples/valkey-tls-exporter.service starts it (its ExecStart, its credentials as LoadCredential= hands
 * them over) with examples/exporter.yml, Prometheus runs examples/prometheus.yml and its rules. Against a
 * 3x2 tls-cluster cluster that demands client certificates: healthy, a refused discovery, one node killed;
 * `promtool check metrics` clean on every output. Then a second exporter for the edges: the scrape timeout
 * header, bounded probes, no secrets in answers or logs, graceful SIGTERM.
 */
import {randomBytes} from 'node:crypto'
import {execFile} from 'node:child_process'
import {chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {createServer, type Server, type Socket} from 'node:net'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {parse, stringify} from 'yaml'

import {BIN} from '../helpers/cli.js'
import {makePki, type Pki} from '../helpers/pki/openssl.js'
import {freePort, portIsClosed} from '../helpers/ports.js'
import {checkMetrics, promtool, type PrometheusSample, type PrometheusServer, startPrometheus, TestProcess, waitForHttp} from '../helpers/prometheus.js'
import {parseInfo} from '../helpers/resp.js'
import {sleep} from '../helpers/server-process.js'
import {makeTempDir} from '../helpers/temp.js'
import {startCluster, type ValkeyCluster} from '../helpers/valkey/cluster.js'
import {startSentinel, waitForSentinels} from '../helpers/valkey/sentinel.js'
import {startValkey, useValkeyCleanup} from '../helpers/valkey/server.js'

useValkeyCleanup('all')
const root = makeTempDir('vtls-exporter-it')
const example = (name: string) => readFileSync(fileURLToPath(new URL(`../../examples/${name}`, import.meta.url)), 'utf8')

const PASSWORD = `monitor-${randomBytes(12).toString('hex')}`
const WRONG_PASSWORD = `wrong-${randomBytes(12).toString('hex')}`
/** The paths the examples use, and where this test puts them. */
const ETC = '/etc/valkey-tls/'
const CREDENTIALS = '/run/credentials/valkey-tls-exporter.service/'
const etc = join(root, 'etc')
const credentials = join(root, 'credentials')
const local = (text: string) => text.replaceAll(ETC, `${etc}/`).replaceAll(CREDENTIALS, `${credentials}/`)

let pki: Pki
let cluster: ValkeyCluster
let seed: string
let exporter: TestProcess
let exporterUrl: string
let prometheus: PrometheusServer
let hang: Server
const hanging = new Set<Socket>()

/** The unit's [Service] settings, one array per key. */
function unitSettings(text: string): Map<string, string[]> {
  const settings = new Map<string, string[]>()
  let section = ''
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (line === '' || line.startsWith('#')) continue
    if (line.startsWith('[')) section = line
    else if (section === '[Service]') {
      const at = line.indexOf('=')
      settings.set(line.slice(0, at), [...(settings.get(line.slice(0, at)) ?? []), line.slice(at + 1)])
    }
  }
  return settings
}

const unit = unitSettings(example('valkey-tls-exporter.service'))
/** ExecStart as this machine can run it: node and the package's bin for /usr/local/bin/valkey-tls, the test's folders, a free port. */
function execStart(port: number): string[] {
  const [bin, ...args] = unit.get('ExecStart')![0]!.split(/\s+/)
  expect(bin).toBe('/usr/local/bin/valkey-tls')
  return [BIN, ...args.map((a) => local(a).replace(/^127\.0\.0\.1:9470$/, `127.0.0.1:${port}`))]
}

beforeAll(async () => {
  pki = await makePki(join(root, 'pki'), {clients: ['monitor']})
  cluster = await startCluster({
    primaries: 3,
    replicasPerPrimary: 1,
    tls: {caCert: pki.caCert, cert: pki.serverCert, key: pki.serverKey},
    authClients: 'yes',
    config: {
      'tls-auth-clients-user': 'CN',
      // The least the exporter needs (README): PING, INFO, the cluster's node lists, the TLS settings, ACL WHOAMI.
      user: [`monitor on >${PASSWORD} resetkeys -@all +ping +info +cluster|nodes +cluster|shards +config|get +acl|whoami`, 'default on nopass ~* &* +@all'],
    },
  })
  seed = `127.0.0.1:${cluster.nodes[0]!.port}`

  // /etc/valkey-tls as the unit's comment says to fill it, and LoadCredential= as systemd does it.
  mkdirSync(etc, {recursive: true})
  mkdirSync(credentials, {recursive: true})
  copyFileSync(pki.caCert, join(etc, 'ca.crt'))
  copyFileSync(pki.clients.monitor!.cert, join(etc, 'monitor.crt'))
  copyFileSync(pki.clients.monitor!.key, join(etc, 'monitor.key'))
  writeFileSync(join(etc, 'monitor.password'), `${PASSWORD}\n`, {mode: 0o600})
  writeFileSync(join(etc, 'wrong.password'), `${WRONG_PASSWORD}\n`, {mode: 0o600})
  for (const credential of unit.get('LoadCredential') ?? []) {
    const [name, source] = credential.split(/:(.*)/s) as [string, string]
    copyFileSync(local(source), join(credentials, name))
    chmodSync(join(credentials, name), 0o400)
  }
  // examples/exporter.yml, plus the modules the edge cases need.
  const config = parse(local(example('exporter.yml'))) as {modules: Record<string, unknown>}
  config.modules.anonymous = {cacert: 'ca.crt', cert: null, key: null, user: null}
  config.modules['wrong-password'] = {user: 'monitor', password_file: 'wrong.password'}
  config.modules.sentinels = {sentinel: true}
  config.modules['only-seed'] = {targets: [seed]}
  writeFileSync(join(etc, 'exporter.yml'), stringify(config))

  const port = await freePort(false)
  exporter = await TestProcess.start('exporter', process.execPath, execStart(port), root, port, {CREDENTIALS_DIRECTORY: credentials})
  exporterUrl = `http://127.0.0.1:${port}`
  await waitForHttp(`${exporterUrl}/-/healthy`, exporter)

  // examples/prometheus.yml: its targets are this cluster's seed, its exporter this one; quick scrapes, alerts without waiting.
  const scrape = parse(example('prometheus.yml')) as {global: Record<string, string>; scrape_configs: Array<Record<string, unknown>>}
  scrape.global = {...scrape.global, scrape_interval: '3s', scrape_timeout: '3s', evaluation_interval: '1s'}
  const [probeJob, ownJob] = scrape.scrape_configs as [Record<string, unknown> & {relabel_configs: Array<Record<string, unknown>>}, Record<string, unknown>]
  probeJob.static_configs = [{targets: [seed]}]
  for (const rule of probeJob.relabel_configs) if (rule.replacement === '127.0.0.1:9470') rule.replacement = `127.0.0.1:${port}`
  ownJob.static_configs = [{targets: [`127.0.0.1:${port}`]}]
  const anonymousJob = {...structuredClone(probeJob), job_name: 'valkey-tls-anonymous', params: {module: ['anonymous']}}
  scrape.scrape_configs.push(anonymousJob)
  const rules = parse(example('valkey-tls.rules.yml')) as {groups: Array<{rules: Array<Record<string, unknown>>}>}
  for (const rule of rules.groups.flatMap((g) => g.rules)) rule.for = '0s'
  prometheus = await startPrometheus(scrape, {'valkey-tls.rules.yml': stringify(rules)})

  hang = createServer((socket) => {
    hanging.add(socket)
    socket.on('close', () => hanging.delete(socket))
  })
  await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve))
}, 180_000)

afterAll(async () => {
  for (const socket of hanging) socket.destroy()
  await new Promise((resolve) => hang?.close(resolve))
})

const value = (samples: PrometheusSample[]) => samples.map((s) => Number(s.value[1]))
const one = (samples: PrometheusSample[], v: number) => samples.length === 1 && value(samples)[0] === v
const node = (port: number) => `127.0.0.1:${port}`

/** What Prometheus itself fetched for a job: the same URL, through the relabelling. */
async function scrapedBody(job: string): Promise<string> {
  const target = (await prometheus.targets()).find((t) => t.labels.job === job)!
  expect(target.health, `${job}: ${target.lastError}`).toBe('up')
  const response = await fetch(target.scrapeUrl, {headers: {'X-Prometheus-Scrape-Timeout-Seconds': '3'}})
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
  return response.text()
}

async function expectClean(text: string): Promise<void> {
  const result = await checkMetrics(text)
  expect(result, text).toEqual({code: 0, output: ''})
}

describe('Prometheus scraping the exporter (examples/ as they are)', () => {
  it('the examples are valid: promtool check config and rules, systemd-analyze verify', async () => {
    const dir = makeTempDir('examples')
    for (const name of ['prometheus.yml', 'valkey-tls.rules.yml']) writeFileSync(join(dir, name), example(name))
    expect(await promtool(['check', 'config', join(dir, 'prometheus.yml')])).toMatchObject({code: 0})
    expect(await promtool(['check', 'rules', join(dir, 'valkey-tls.rules.yml')])).toMatchObject({code: 0})
    const analyze = await new Promise<{code: number; output: string} | undefined>((resolve) => {
      // The unit as it is, but for ExecStart's program, which must exist here.
      const file = join(dir, 'valkey-tls-exporter.service')
      writeFileSync(file, example('valkey-tls-exporter.service').replace('/usr/local/bin/valkey-tls', `${process.execPath} ${BIN}`))
      execFile('systemd-analyze', ['verify', file], (error, stdout, stderr) => {
        if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') resolve(undefined) // no systemd here
        else resolve({code: error ? 1 : 0, output: `${stdout}${stderr}`})
      })
    })
    if (analyze) expect(analyze).toEqual({code: 0, output: ''})
  })

  it('a healthy 6-node cluster: probe and discovery succeed, every client and bus port is 1, under instance=<seed>', async () => {
    await prometheus.waitFor('valkey_tls_probe_success{job="valkey-tls"}', (s) => one(s, 1))
    const [probe] = await prometheus.query('valkey_tls_probe_success{job="valkey-tls"}')
    expect(probe!.metric).toMatchObject({instance: seed, job: 'valkey-tls'})
    expect(value(await prometheus.query('valkey_tls_discovery_success{job="valkey-tls"}'))).toEqual([1])
    const ports = await prometheus.query('valkey_tls_port_success{job="valkey-tls"}')
    expect(ports).toHaveLength(12)
    expect(new Set(ports.map((p) => p.metric.node))).toEqual(new Set(cluster.nodes.map((n) => node(n.port))))
    expect(value(ports).every((v) => v === 1)).toBe(true)
    expect(value(await prometheus.query('count(valkey_tls_cert_not_after_timestamp_seconds{job="valkey-tls"} > time() + 300 * 86400)'))).toEqual([12])
    expect(await prometheus.query('ALERTS{job="valkey-tls",alertstate="firing"}')).toEqual([])
    // The exporter's own metrics, scraped as a second job.
    await prometheus.waitFor('valkey_tls_exporter_probes_total{job="valkey-tls-exporter",module="cluster-mtls",outcome="ok"} > 0', (s) => s.length === 1)
    await expectClean(await scrapedBody('valkey-tls'))
    await expectClean(await scrapedBody('valkey-tls-exporter'))
  })

  it('a refused discovery (a module without a client certificate): discovery and probe are 0, only the seed is checked, the alert fires', async () => {
    await prometheus.waitFor('valkey_tls_discovery_success{job="valkey-tls-anonymous"}', (s) => one(s, 0))
    expect(value(await prometheus.query('valkey_tls_probe_success{job="valkey-tls-anonymous"}'))).toEqual([0])
    // Only the seed is checked; its own TLS is fine: it refuses a client without a certificate, as it should.
    const seedPort = await prometheus.query('valkey_tls_port_success{job="valkey-tls-anonymous"}')
    expect(seedPort.map((s) => [s.metric.node, s.metric.port_type, s.value[1]])).toEqual([[seed, 'client', '1']])
    expect(value(await prometheus.query(`valkey_tls_client_cert_required{job="valkey-tls-anonymous",node="${seed}"}`))).toEqual([1])
    await prometheus.waitFor('ALERTS{alertname="ValkeyTlsDiscoveryFailed",alertstate="firing",job="valkey-tls-anonymous"}', (s) => s.length === 1)
    await expectClean(await scrapedBody('valkey-tls-anonymous'))
  })

  it('one node killed: its port is 0 with reason "refused", the probe is 0 and alerts, the other nodes stay 1', async () => {
    const victim = cluster.nodes[4]!
    await victim.stop()
    const where = `job="valkey-tls",node="${node(victim.port)}",port_type="client"`
    await prometheus.waitFor(`valkey_tls_port_success{${where}}`, (s) => one(s, 0))
    expect((await prometheus.query(`valkey_tls_port_failure_info{${where}}`)).map((r) => r.metric.reason)).toEqual(['refused'])
    expect(value(await prometheus.query('valkey_tls_probe_success{job="valkey-tls"}'))).toEqual([0])
    expect(value(await prometheus.query('valkey_tls_discovery_success{job="valkey-tls"}'))).toEqual([1])
    const others = await prometheus.query(`valkey_tls_port_success{job="valkey-tls",port_type="client",node!="${node(victim.port)}"}`)
    expect(value(others)).toEqual([1, 1, 1, 1, 1])
    await prometheus.waitFor(`ALERTS{alertname="ValkeyTlsProbeFailed",alertstate="firing",job="valkey-tls",instance="${seed}"}`, (s) => s.length === 1)
    await expectClean(await scrapedBody('valkey-tls'))
    await expectClean(await scrapedBody('valkey-tls-exporter'))
    expect(value(await prometheus.query('up{job=~"valkey-tls.*"}'))).toEqual([1, 1, 1])
  })
})

describe('the exporter at its edges', () => {
  let edge: TestProcess
  let edgeUrl: string
  const hangTarget = () => `127.0.0.1:${(hang.address() as {port: number}).port}`
  /** Until no probe runs (a check answered for at its deadline may still be finishing). */
  const idle = async () => {
    for (let i = 0; i < 100; i++) {
      if (/^valkey_tls_exporter_probes_running 0$/m.test(await (await fetch(`${edgeUrl}/metrics`)).text())) return
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error('probes still running after 10 s')
  }
  const probe = (query: string, timeout?: string) => fetch(`${edgeUrl}/probe?${query}`, {headers: timeout ? {'X-Prometheus-Scrape-Timeout-Seconds': timeout} : {}})

  beforeAll(async () => {
    const port = await freePort(false)
    // One probe at a time, 3 s at most; the command line's connection flags (module "default") are mTLS without a user.
    edge = await TestProcess.start('exporter-edge', process.execPath, [
      BIN, 'exporter', '--listen', `127.0.0.1:${port}`, '--config', join(etc, 'exporter.yml'), '--max-probes', '1', '--deadline', '3', '--log-level', 'debug',
      '--cacert', join(etc, 'ca.crt'), '--cert', join(etc, 'monitor.crt'), '--key', join(etc, 'monitor.key'),
    ], root, port, {CREDENTIALS_DIRECTORY: credentials})
    edgeUrl = `http://127.0.0.1:${port}`
    await waitForHttp(`${edgeUrl}/-/healthy`, edge)
  })

  it('honours X-Prometheus-Scrape-Timeout-Seconds (less the 0.5 s offset); without it, --deadline', async () => {
    let started = Date.now()
    let response = await probe(`target=${hangTarget()}`, '1.5')
    const withHeader = Date.now() - started
    expect(response.status).toBe(200)
    const body = await response.text()
    expect(body).toMatch(/^valkey_tls_probe_success 0$/m)
    expect(body).toMatch(/^valkey_tls_discovery_success 0$/m)
    expect(body).toMatch(/^valkey_tls_port_failure_info\{node="127\.0\.0\.1:\d+",port_type="client",reason="[a-z-]+"\} 1$/m)
    await expectClean(body)
    expect(withHeader).toBeGreaterThanOrEqual(900)
    expect(withHeader).toBeLessThan(1500)
    started = Date.now()
    response = await probe(`target=${hangTarget()}`)
    expect(response.status).toBe(200)
    await response.text()
    expect(Date.now() - started).toBeGreaterThanOrEqual(2900)
    expect(Date.now() - started).toBeLessThan(3600)
  })

  it('--max-probes 1: one runs, one waits (and gives up at its deadline), the next is refused at once with 503', async () => {
    await idle()
    const answers = await Promise.all([probe(`target=${hangTarget()}`, '1.5'), probe(`target=${hangTarget()}`, '1.5'), probe(`target=${hangTarget()}`, '1.5')])
    expect(answers.map((a) => a.status).sort()).toEqual([200, 503, 503])
    const refusals = await Promise.all(answers.filter((a) => a.status === 503).map((a) => a.text()))
    expect(refusals.sort()).toEqual([
      'probe not started: 1 probes are running already (--max-probes) and 1 more are waiting\n',
      'probe not started: 1 probes are running already (--max-probes) and none finished before this probe\'s deadline\n',
    ])
    const metrics = await (await fetch(`${edgeUrl}/metrics`)).text()
    expect(metrics).toMatch(/^valkey_tls_exporter_probes_total\{module="default",outcome="rejected"\} 2$/m)
    expect(metrics).toMatch(/^valkey_tls_exporter_probes_limit 1$/m)
    await expectClean(metrics)
  })

  it('no secrets in answers or logs: a wrong password fails the probe, and neither password appears anywhere', async () => {
    const response = await probe(`target=${seed}&module=wrong-password`, '3')
    expect(response.status).toBe(200)
    const body = await response.text()
    expect(body).toMatch(/^valkey_tls_probe_success 0$/m)
    await expectClean(body)
    const right = await (await probe(`target=${seed}&module=cluster-mtls`, '3')).text()
    expect(right).toMatch(/^valkey_tls_discovery_success 1$/m)
    const everything = [body, right, await (await fetch(`${edgeUrl}/metrics`)).text(), await (await fetch(`${edgeUrl}/`)).text(), edge.printed, exporter.printed].join('\n')
    expect(everything).not.toContain(PASSWORD)
    expect(everything).not.toContain(WRONG_PASSWORD)
    expect(edge.printed).toMatch(/level=debug msg="probe done" target=127\.0\.0\.1:\d+ module=wrong-password status=failed/)
  })

  it('refuses bad requests without running a probe: 400 for a bad target or unknown module, 405, 404', async () => {
    const bad = await probe('target=not%20a%20host')
    expect([bad.status, await bad.text()]).toEqual([400, 'target "not a host" is not HOST:PORT (IPv6 as [addr]:port)\n'])
    const unknown = await probe(`target=${seed}&module=nope`)
    expect([unknown.status, await unknown.text()]).toEqual([400, 'unknown module "nope" (known: default, cluster-mtls, anonymous, wrong-password, sentinels, only-seed)\n'])
    expect((await fetch(`${edgeUrl}/probe?target=${seed}`, {method: 'POST'})).status).toBe(405)
    expect((await fetch(`${edgeUrl}/nothing`)).status).toBe(404)
  })

  it('a targets list: another target is refused with 403 and never connected to; discovered nodes outside it are failed, not connected', async () => {
    const connections = () => new Promise<number>((resolve) => hang.getConnections((_, n) => resolve(n)))
    const before = await connections()
    const refused = await probe(`target=${hangTarget()}&module=only-seed`)
    expect([refused.status, await refused.text()]).toEqual([403, `target ${hangTarget()} is not among module only-seed's targets (--allow-target, or targets: in the config)\n`])
    expect(await connections()).toBe(before)
    const body = await (await probe(`target=${seed}&module=only-seed`, '3')).text()
    expect(body).toMatch(/^valkey_tls_discovery_success 1$/m)
    expect(body).toMatch(/^valkey_tls_probe_success 0$/m)
    expect(body).toMatch(new RegExp(`^valkey_tls_port_success\\{node="${seed}",port_type="client"\\} 1$`, 'm'))
    expect(body.match(/^valkey_tls_port_failure_info\{node="[^"]+",port_type="client",reason="not-allowed"\} 1$/gm)).toHaveLength(5)
    await expectClean(body)
  })

  it('a module with sentinel: true discovers from a Sentinel: the primary, its replica and the sentinel, each checked', async () => {
    const tls = {caCert: pki.caCert, cert: pki.serverCert, key: pki.serverKey}
    const data = {tls, authClients: 'yes' as const, config: {'tls-replication': 'yes'}}
    const primary = await startValkey({...data, name: 'exporter-sentinel-primary'})
    const replica = await startValkey({...data, config: {...data.config, replicaof: `127.0.0.1 ${primary.port}`}, name: 'exporter-sentinel-replica'})
    while (parseInfo(String(await replica.command('INFO', 'replication'))).master_link_status !== 'up') await sleep(100)
    const sentinel = await startSentinel({tls, authClients: 'yes', monitor: {primary, quorum: 1}, name: 'exporter-sentinel'})
    await waitForSentinels([sentinel], {replicas: 1})
    const response = await probe(`target=127.0.0.1:${sentinel.port}&module=sentinels`, '10')
    expect(response.status).toBe(200)
    const body = await response.text()
    expect(body).toMatch(/^valkey_tls_discovery_success 1$/m)
    expect(body).toMatch(/^valkey_tls_probe_success 1$/m)
    for (const [port, role] of [[primary.port, 'primary'], [replica.port, 'replica'], [sentinel.port, 'sentinel']] as const) {
      expect(body).toMatch(new RegExp(`^valkey_tls_port_success\\{node="127\\.0\\.0\\.1:${port}",port_type="client"\\} 1$`, 'm'))
      expect(body).toMatch(new RegExp(`^valkey_tls_node_info\\{node="127\\.0\\.0\\.1:${port}",role="${role}",`, 'm'))
    }
    await expectClean(body)
  }, 90_000)

  it('SIGHUP reads the config again: a new module is served; a broken file changes nothing', async () => {
    const dir = join(root, 'hup')
    mkdirSync(dir, {recursive: true})
    const file = join(dir, 'exporter.yml')
    writeFileSync(file, 'modules:\n  first: {timeout: 1}\n')
    const port = await freePort(false)
    const hup = await TestProcess.start('exporter-hup', process.execPath, [BIN, 'exporter', '--listen', `127.0.0.1:${port}`, '--config', file, '--deadline', '2',
      '--cacert', join(etc, 'ca.crt'), '--allow-target', '127.0.0.1'], root, port)
    const url = `http://127.0.0.1:${port}`
    await waitForHttp(`${url}/-/healthy`, hup)
    const status = async (module: string) => (await fetch(`${url}/probe?target=${hangTarget()}&module=${module}`, {headers: {'X-Prometheus-Scrape-Timeout-Seconds': '1'}})).status
    const logged = async (text: string) => {
      for (let i = 0; i < 100 && !hup.printed.includes(text); i++) await sleep(50)
      return hup.printed.includes(text)
    }
    try {
      expect([await status('first'), await status('second')]).toEqual([200, 400])
      writeFileSync(file, 'modules:\n  first: {timeout: 1}\n  second: {timeout: 1, targets: [10.0.0.0/8]}\n')
      hup.signal('SIGHUP')
      expect(await logged('msg="configuration reloaded" modules=default,first,second')).toBe(true)
      expect([await status('first'), await status('second')]).toEqual([200, 403]) // second's own targets: 127.0.0.1 is not among them
      expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/^valkey_tls_exporter_probes_total\{module="second",outcome="ok"\} 0$/m)
      writeFileSync(file, 'modules:\n  first: {timeout: [not, a, number]}\n')
      hup.signal('SIGHUP')
      expect(await logged('msg="configuration not reloaded: the modules stay as they were"')).toBe(true)
      expect([await status('first'), await status('second')]).toEqual([200, 403])
      expect(hup.exitStatus()).toBeUndefined()
    } finally {
      hup.signal('SIGTERM')
    }
  })

  it('SIGTERM: the running probe is still answered, new connections are refused, exit 0', async () => {
    const running = probe(`target=${hangTarget()}`, '2')
    await new Promise((r) => setTimeout(r, 300))
    const started = Date.now()
    edge.signal('SIGTERM')
    await new Promise((r) => setTimeout(r, 200))
    expect(await portIsClosed(edge.port)).toBe(true)
    const response = await running
    expect(response.status).toBe(200)
    expect(await response.text()).toMatch(/^valkey_tls_probe_success 0$/m)
    await edge.exited
    expect(edge.exitStatus()).toEqual({code: 0, signal: null})
    // Within the running probe's own bound (its check may run a little past the 1.5 s it was answered at).
    expect(Date.now() - started).toBeLessThan(4000)
    expect(edge.printed).toMatch(/level=info msg="shutting down: no new probes, waiting for running ones" signal=SIGTERM/)
    expect(edge.printed).toMatch(/level=info msg=stopped$/m)
  })

  it('the service: KillSignal= stops it with exit 0 well within TimeoutStopSec=', async () => {
    const kill = unit.get('KillSignal')![0] as NodeJS.Signals
    const limit = Number(unit.get('TimeoutStopSec')![0]) * 1000
    const started = Date.now()
    exporter.signal(kill)
    await exporter.exited
    expect(exporter.exitStatus()).toEqual({code: 0, signal: null})
    expect(Date.now() - started).toBeLessThan(limit)
    expect(exporter.printed).not.toContain(PASSWORD)
  })
})
