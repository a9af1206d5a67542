import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../base-command.js'
import {usageError} from '../errors.js'
import {connectionFlags} from '../flags/connection.js'

// A probe's target comes from the URL, so --uri, --host and --port have no meaning here.
const {uri: _uri, host: _host, port: _port, ...connection} = connectionFlags

export default class Exporter extends BaseCommand {
  static override summary = 'Serve Prometheus: each scrape of /probe?target=HOST:PORT checks TLS on that cluster or replication set.'

  static override description = `Prometheus's multi-target exporter pattern, like the blackbox exporter: Prometheus scrapes /probe?target=HOST:PORT (and &module=NAME), and the exporter runs a check of the target then and there: every node of its cluster (or the server and its replicas) found from it, all checked as \`check\` does, answered in the exposition format. /metrics has the exporter's own metrics (probes by module and outcome, durations, probes running), / lists the modules.

The connection flags given here are the defaults (module "default"); a --config file (YAML) defines named modules with their own CA, client certificate, user, password source and timeouts, each key left out taken from the command line. Passwords never appear on the command line or in the config file: the defaults' comes from --password-command (run for every connection a probe makes), VALKEY_TLS_PASSWORD (or VALKEYCLI_AUTH, REDISCLI_AUTH) or --askpass; a module names an environment variable (password_env) or a file (password_file). Files are read again at every probe, so renewed certificates and rotated passwords need no restart.

A probe ends before Prometheus gives up: within X-Prometheus-Scrape-Timeout-Seconds less --timeout-offset, and never after the module's deadline (--deadline). At most --max-probes run at once; as many more wait while their deadline allows, and the rest are answered 503. SIGTERM (or SIGINT) stops gracefully: no new connections, running probes are answered, then exit 0; a second signal exits at once. SIGHUP reads --config again: new and changed modules apply to the next probes; a file that does not load leaves the modules as they were (logged).`

  static override examples = [
    {description: 'Probes with the CA and client certificate given here; Prometheus on the same machine.', command: 'valkey-tls exporter --listen 127.0.0.1:9470 --cacert /etc/valkey-tls/ca.crt --cert /etc/valkey-tls/monitor.crt --key /etc/valkey-tls/monitor.key'},
    {description: 'Named modules from a config file (see examples/exporter.yml).', command: 'valkey-tls exporter --listen 127.0.0.1:9470 --config /etc/valkey-tls/exporter.yml'},
    {description: 'Only servers of one network and one domain: other targets get 403, and discovery never leads a probe (and its password) elsewhere.', command: 'valkey-tls exporter --listen 127.0.0.1:9470 --cacert ca.crt --cert monitor.crt --key monitor.key --allow-target 10.0.0.0/8 --allow-target "*.valkey.internal:6379"'},
    {description: 'What Prometheus asks (the scrape config relabels its targets into ?target=).', command: 'curl \'http://127.0.0.1:9470/probe?target=10.0.0.5:6379&module=cluster-mtls\''},
  ]

  static override enableJsonFlag = false

  static override flags = {
    listen: Flags.string({summary: 'Address to serve HTTP on, HOST:PORT (IPv6 as [addr]:port; port 0 lets the system choose, printed at start).', required: true}),
    config: Flags.string({summary: 'YAML file of named modules (modules: NAME: {cacert, cert, key, sni, insecure, user, password_env | password_file, timeout, deadline, warn_days, concurrency, sentinel, anonymous_probe, targets}).'}),
    'allow-target': Flags.string({summary: 'Probe only these servers, HOST[:PORT] (a name, *.domain, an IP or a network such as 10.0.0.0/8; repeatable); a module\'s targets: replaces it. Others get 403, discovered ones are not connected to.', multiple: true}),
    'max-probes': Flags.integer({summary: 'Probes run at the same time; as many more may wait for a turn.', default: 8, min: 1, max: 256}),
    concurrency: Flags.integer({summary: 'Nodes one probe checks at the same time.', default: 64, min: 1, max: 4096}),
    'warn-days': Flags.integer({summary: 'Warn about certificates that expire within this many days.', default: 30, min: 0}),
    deadline: Flags.integer({summary: 'Seconds a probe may take at most (without Prometheus\'s scrape timeout header, this is its deadline).', default: 30, min: 1, max: 3600}),
    'timeout-offset': Flags.custom<number>({
      summary: 'Seconds kept back from Prometheus\'s scrape timeout, to answer in time.',
      default: 0.5,
      async parse(input) {
        const seconds = Number(input)
        if (!Number.isFinite(seconds) || seconds < 0 || seconds > 60) throw usageError(`--timeout-offset must be a number of seconds from 0 to 60, not "${input}"`)
        return seconds
      },
    })(),
    'log-level': Flags.option({summary: 'debug also logs every probe (target, module, outcome, duration).', options: ['info', 'debug'] as const, default: 'info'})(),
    ...connection,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Exporter)
    const [{resolveConnection}, {loadExporterConfig}, {buildModules, connectionFor, moduleWarnings}, {parseListenAddress}, {startExporter}, {parseAllowTargets}] = await Promise.all([
      import('../flags/resolve.js'), import('../exporter/config.js'), import('../exporter/modules.js'), import('../exporter/request.js'), import('../exporter/server.js'), import('../flags/allow-target.js'),
    ])
    const listen = parseListenAddress(flags.listen)
    const targets = parseAllowTargets(flags['allow-target'])
    const defaults = await resolveConnection(flags, 'the exporter\'s default module')
    const loadModules = async () => {
      const config = flags.config === undefined ? undefined : await loadExporterConfig(flags.config)
      const built = buildModules({flags, password: defaults.password, deadlineMs: flags.deadline * 1000, warnDays: flags['warn-days'], concurrency: flags.concurrency, targets}, config)
      // Every module's files and password, read once now: a mistake shows at start (or at the reload), not at the first scrape.
      for (const module of built.values()) await connectionFor(module, {host: '127.0.0.1', port: 6379})
      return built
    }
    const modules = await loadModules()

    const debug = flags['log-level'] === 'debug'
    const log = (level: string, message: string, fields: Record<string, string | number> = {}) => {
      if (level === 'debug' && !debug) return
      this.logToStderr(logfmt({time: new Date().toISOString(), level, msg: message, ...fields}))
    }
    for (const module of modules.values()) for (const warning of moduleWarnings(module)) log('warn', warning)
    let exporter
    try {
      exporter = await startExporter({listen, modules, maxProbes: flags['max-probes'], timeoutOffset: flags['timeout-offset'], version: this.config.version, log})
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      const why = code === 'EADDRINUSE' ? 'the address is in use' : code === 'EADDRNOTAVAIL' ? 'no interface has that address' : code === 'EACCES' ? 'permission denied' : (error as Error).message
      throw usageError(`cannot listen on ${flags.listen}: ${why}`)
    }
    const {formatAddress} = await import('../transport/options.js')
    log('info', 'listening', {address: `http://${formatAddress(exporter.address)}`, modules: [...modules.keys()].join(','), max_probes: flags['max-probes']})

    // SIGHUP: the config file again (files and passwords are read at every probe anyway). A file that does not
    // load leaves the modules as they were; reloads run one after the other.
    let reloading = Promise.resolve()
    const onHangup = () => {
      reloading = reloading.then(async () => {
        try {
          const next = await loadModules()
          for (const module of next.values()) for (const warning of moduleWarnings(module)) log('warn', warning)
          exporter.reload(next)
          log('info', 'configuration reloaded', {modules: [...next.keys()].join(',')})
        } catch (error) {
          log('warn', 'configuration not reloaded: the modules stay as they were', {reason: (error as Error).message.split('\n')[0]!})
        }
      })
    }
    process.on('SIGHUP', onHangup)

    const stopped = new Promise<'graceful' | 'forced'>((resolve) => {
      let signals = 0
      const onSignal = (signal: NodeJS.Signals) => {
        if (++signals > 1) {
          log('warn', 'second signal: exiting now', {signal})
          exporter.destroy()
          resolve('forced')
          return
        }
        log('info', 'shutting down: no new probes, waiting for running ones', {signal})
        exporter.close().then(() => resolve('graceful'), () => resolve('forced'))
      }
      process.on('SIGTERM', onSignal).on('SIGINT', onSignal)
    })
    const how = await stopped
    process.off('SIGHUP', onHangup)
    log('info', how === 'graceful' ? 'stopped' : 'stopped without waiting for running probes')
    // Graceful: nothing is left running. Forced: probes still hold sockets until their deadlines; do not wait for them.
    if (how === 'forced') this.exit(1)
  }
}

/** One log line, key=value (logfmt, as Prometheus and its exporters log); values quoted when they need it. */
function logfmt(fields: Record<string, string | number>): string {
  return Object.entries(fields).map(([k, v]) => {
    const text = String(v)
    return `${k}=${/^[^\s"=\\]+$/.test(text) ? text : JSON.stringify(text)}`
  }).join(' ')
}
