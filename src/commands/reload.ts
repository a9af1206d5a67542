import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../base-command.js'
import {ExitCode, failedRunExit} from '../errors.js'
import {allowTargetFlag} from '../flags/allow-target.js'
import {connectionFlags} from '../flags/connection.js'
import {defaultLockPath} from '../reload/lock-path.js'
import type {ReloadReport} from '../reload/run.js'
import {renderReload} from '../report/reload.js'

export default class Reload extends BaseCommand {
  static override summary = 'Make servers load renewed certificate files, node by node, only when they changed and only when they are valid.'

  static override description = `For cron, after something else (an ACME client, Vault agent, a copy job) renewed the files. Valkey before 9.1 and Redis only re-read their TLS files on a CONFIG SET of a TLS setting, and accept an expired certificate when they do.

For each node (the one at --host/--port; with --cluster every node of its cluster; or --nodes) it reads the node's TLS file settings (CONFIG GET tls-*; key passphrases are used, never shown) and compares the certificate the node serves (a TLS handshake) with tls-cert-file. When they are the same it does nothing: a reload would drop every client's TLS session cache for nothing. Valkey 9.1+ also reports the loaded client certificate and CA (INFO tls), so a change of those files is seen too; on older servers use --force after changing only them.

Before touching a node whose files changed, it checks them where it runs (the paths are the node's own, relative ones against the node's dir, so by default only for nodes at an address of this machine: see --read-files): the certificate parses, it and every intermediate and CA are within their dates (the leaf for --min-days more), the key is its key. Then it rehearses, in-process with OpenSSL and nothing sent, every handshake the new files must survive: a client verifying with --cacert (else the node's CAs) and the node's name (--sni, else the address used); with tls-cluster, tls-replication or tls-client-cert-file, the node's certificate presented as a client to its own CAs and to every peer's, and the node's new CAs verifying every peer; and this tool's own --cert still accepted. OpenSSL decides purposes (serverAuth/clientAuth), key usage, CA flags and dates of whole chains. A node that fails is "refused" with the rehearsal and OpenSSL's reason, and keeps serving what it served.

A node whose files cannot be read here is reloaded only when the certificate it serves is due (within --min-days, or in the last third of its lifetime); otherwise it is "unchanged", with a note. The same server reached by several addresses (same run_id) is handled once.

The reload is one CONFIG SET of all the node's TLS file settings to their current values (atomic: all files or none). Then a fresh handshake must serve the certificate validated, and the files must still be the ones validated: if they changed in between, what is on disk now is validated and loaded again (twice at most), or the node is "failed" naming the race. A CONFIG SET without an answer is "failed": whether the node applied it is unknown. Nodes go one at a time (--parallel to widen), replicas first; the first failure stops the run, and the nodes after it are left untouched and reported as "skipped".

Per node: reloaded, unchanged, refused, failed, skipped (or would-reload with --dry-run). A lock file keeps two runs from interleaving. Exit codes: ${ExitCode.ok} nothing wrong; ${ExitCode.warning} nothing to do, but a node serves a certificate that has expired or expires within --min-days, with nothing newer on disk; ${ExitCode.refused} a node was refused (nothing loaded there); ${ExitCode.server} a node failed or was skipped after a failure, or the nodes could not be listed; ${ExitCode.auth} the same, when every failure was our credentials; ${ExitCode.busy} another run holds the lock; ${ExitCode.usage} usage error.`

  static override examples = [
    {description: 'From cron on the server itself: reload when the files changed, silent otherwise.', command: 'valkey-tls reload --port 6379 --cacert /etc/valkey/tls/ca.crt --cert /etc/valkey/tls/admin.crt --key /etc/valkey/tls/admin.key --quiet'},
    {description: 'Every node of a cluster, one at a time.', command: 'valkey-tls reload --cluster --host 10.0.0.5 --port 6379 --cacert ca.crt --cert admin.crt --key admin.key'},
    {description: 'What would happen, without changing anything.', command: 'valkey-tls reload --cluster --port 6379 --cacert ca.crt --dry-run'},
    {description: 'Machine-readable, for a wrapper script.', command: 'valkey-tls reload --nodes 10.0.0.5:6379,10.0.0.6:6379 --cacert ca.crt --read-files always --json'},
  ]

  static override flags = {
    cluster: Flags.boolean({summary: 'Reload every node of the cluster (or server and replicas) that --host/--port belongs to.', exclusive: ['nodes']}),
    nodes: Flags.string({summary: 'Reload exactly these nodes, in this order (host:port,host:port,...; IPv6 as [addr]:port).', exclusive: ['host', 'port', 'cluster']}),
    'dry-run': Flags.boolean({summary: 'Look and validate, change nothing: nodes that need a reload are reported as would-reload.'}),
    force: Flags.boolean({summary: 'Reload valid files even when the node already serves them (after changing only a CA bundle on a server older than 9.1).'}),
    'min-days': Flags.integer({summary: 'Refuse certificates valid for fewer days than this.', default: 1, min: 0}),
    parallel: Flags.integer({summary: 'Nodes reloaded at the same time.', default: 1, min: 1, max: 64}),
    deadline: Flags.integer({summary: 'Seconds after which the run ends: unfinished nodes are failed, unstarted ones skipped.', default: 120, min: 1}),
    'read-files': Flags.option({
      summary: 'Read and check the node\'s files here: auto = only for nodes at an address of this machine; always = the paths are the same here (shared storage).',
      options: ['auto', 'always', 'never'] as const, default: 'auto',
    })(),
    'lock-file': Flags.string({summary: 'Lock that keeps two runs apart: a folder, made and removed by the run (default: reload.lock in a folder only this user can write, $XDG_RUNTIME_DIR/valkey-tls or <tmp>/valkey-tls-<uid>).'}),
    'lock-wait': Flags.integer({summary: 'Seconds to wait for another run to finish before giving up.', default: 60, min: 0}),
    quiet: Flags.boolean({char: 'q', summary: 'Print nothing when nothing was reloaded and nothing is wrong.'}),
    'allow-target': allowTargetFlag,
    ...connectionFlags,
  }

  async run(): Promise<ReloadReport> {
    const {flags} = await this.parse(Reload)
    const [{parseNodeList}, {withLock}, {runReload, runFailures}, {endpointOf, resolveConnection}, {allowFilter, parseAllowTargets}] = await Promise.all([import('../cluster/discover.js'), import('../reload/lock.js'), import('../reload/run.js'), import('../flags/resolve.js'), import('../flags/allow-target.js')])
    const nodes = flags.nodes ? parseNodeList(flags.nodes) : undefined
    // Refused before anything is read or asked (--askpass): a seed or node outside --allow-target.
    const allow = allowFilter(parseAllowTargets(flags['allow-target']), nodes ?? [endpointOf(flags)])
    const seed = await resolveConnection(flags, 'the nodes')
    const report = await withLock(flags['dry-run'] ? undefined : flags['lock-file'] ?? defaultLockPath(), flags['lock-wait'] * 1000, () => runReload({
      seed, mode: nodes ? 'list' : flags.cluster ? 'cluster' : 'node', nodes,
      readFiles: flags['read-files'], minDays: flags['min-days'], force: flags.force, dryRun: flags['dry-run'],
      parallel: flags.parallel, deadlineMs: flags.deadline * 1000, allow,
    }))
    if (!this.jsonEnabled()) {
      const text = renderReload(report, {quiet: flags.quiet})
      if (text) this.log(text)
    } else if (report.status !== 'ok') this.logJson(report) // else oclif prints what run() returns
    if (report.status === 'failed') this.exit(failedRunExit(runFailures(report)))
    if (report.status === 'refused') this.exit(ExitCode.refused)
    if (report.status === 'warning') this.exit(ExitCode.warning)
    return report
  }
}
