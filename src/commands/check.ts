import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../base-command.js'
import {ExitCode, failedRunExit} from '../errors.js'
import {allowTargetFlag} from '../flags/allow-target.js'
import {connectionFlags} from '../flags/connection.js'
import type {CheckReport} from '../check/run.js'
import {renderCheckTable} from '../report/check.js'

export default class Check extends BaseCommand {
  static override summary = 'Check TLS on every node of a cluster (or a server and its replicas), all in parallel.'

  static override description = `Finds every node from one seed (CLUSTER SHARDS, or CLUSTER NODES on older servers; a standalone server and its replicas from INFO replication), or takes --nodes. Then, on all nodes at once, with raw TLS connections: TCP connect, TLS handshake (time, protocol, cipher), the served certificate verified against --cacert and matched against the node's host or IP, days to expiry, whether the node refuses clients without a certificate (a PING without one), with --cert/--key the user that certificate is logged in as, the node's TLS settings, and with tls-cluster on, a handshake on its cluster-bus port.

Across nodes it reports different CAs or issuers, different tls-auth-clients / tls-auth-clients-user / tls-protocols / tls-cluster settings, and certificates that expire much earlier than the rest.

Exit codes: ${ExitCode.ok} every node ok; ${ExitCode.warning} only warnings (expiring within --warn-days, cross-node differences); ${ExitCode.server} any node failed (or the seed could not be asked for the nodes); ${ExitCode.auth} every failure was our credentials (wrong password, client certificate required or rejected); ${ExitCode.usage} usage error. Every node's failure is reported even when others fail, and the run always ends within --deadline.`

  static override examples = [
    {description: 'Every node of the cluster that 10.0.0.5:6379 belongs to.', command: 'valkey-tls check --host 10.0.0.5 --port 6379 --cacert ca.crt --cert client.crt --key client.key'},
    {description: 'An explicit list of nodes, as JSON.', command: 'valkey-tls check --nodes 10.0.0.5:6379,10.0.0.6:6379 --cacert ca.crt --json'},
    {description: 'For node_exporter\'s textfile collector, every minute from cron: the file is replaced atomically even when nodes fail (valkey_tls_probe_success says so).', command: 'valkey-tls check --port 6379 --cacert ca.crt --cert monitor.crt --key monitor.key --format prometheus --output /var/lib/node_exporter/valkey_tls.prom'},
  ]

  static override flags = {
    nodes: Flags.string({summary: 'Check exactly these nodes (host:port,host:port,...; IPv6 as [addr]:port) instead of discovering them.', exclusive: ['host']}),
    sentinel: Flags.boolean({summary: 'Discover from a Sentinel at --host/--port: its primaries, their replicas and the other sentinels.', exclusive: ['nodes']}),
    format: Flags.option({summary: 'Output format (--json is the same as --format json).', options: ['table', 'json', 'prometheus'] as const, default: 'table'})(),
    output: Flags.string({summary: 'Write the output to this file instead of stdout, replacing it atomically whatever the exit code (for node_exporter\'s textfile collector).', exclusive: ['json']}),
    'warn-days': Flags.integer({summary: 'Warn about certificates that expire within this many days.', default: 30, min: 0}),
    concurrency: Flags.integer({summary: 'Nodes checked at the same time.', default: 128, min: 1, max: 4096}),
    deadline: Flags.integer({summary: 'Seconds after which the whole run ends, reporting unfinished nodes as failed.', default: 30, min: 1}),
    'anonymous-probe': Flags.boolean({summary: 'With --cert: also try each node without a certificate, even where its tls-auth-clients says whether it demands one (one more handshake a node).'}),
    'allow-target': allowTargetFlag,
    ...connectionFlags,
  }

  async run(): Promise<CheckReport> {
    const {flags} = await this.parse(Check)
    const [{parseNodeList}, {runCheck, runFailures}, {renderPrometheus}, {endpointOf, resolveConnection}, {allowFilter, parseAllowTargets}] = await Promise.all([import('../cluster/discover.js'), import('../check/run.js'), import('../report/prometheus.js'), import('../flags/resolve.js'), import('../flags/allow-target.js')])
    const format = this.jsonEnabled() ? 'json' : flags.format
    const nodes = flags.nodes ? parseNodeList(flags.nodes) : undefined
    // Refused before anything is read or asked (--askpass): a seed or node outside --allow-target.
    const allow = allowFilter(parseAllowTargets(flags['allow-target']), nodes ?? [endpointOf(flags)])
    const connection = await resolveConnection(flags, 'the cluster')
    const progress = format === 'table' && process.stderr.isTTY ? (done: number, total: number) => {
      if (total >= 10) process.stderr.write(`\r  checked ${done}/${total} nodes${done === total ? '\n' : ''}`)
    } : undefined
    const report = await runCheck({
      connection,
      nodes,
      allow,
      sentinel: flags.sentinel,
      warnDays: flags['warn-days'],
      concurrency: flags.concurrency,
      deadlineMs: flags.deadline * 1000,
      anonymousProbe: flags['anonymous-probe'],
      onProgress: progress,
    })
    if (flags.output) {
      // Replaced whatever the outcome, so a failed run never leaves stale "ok" values behind.
      const text = format === 'prometheus' ? renderPrometheus(report) : format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : `${renderCheckTable(report)}\n`
      await (await import('../fsutil/atomic.js')).replaceFile(flags.output, text)
    } else if (format !== 'json') this.log(format === 'prometheus' ? renderPrometheus(report).trimEnd() : renderCheckTable(report))
    else if (!this.jsonEnabled() || report.status !== 'ok') this.logJson(report) // else oclif prints what run() returns
    if (report.status === 'failed') this.exit(failedRunExit(runFailures(report)))
    if (report.status === 'warning') this.exit(ExitCode.warning)
    return report
  }
}
