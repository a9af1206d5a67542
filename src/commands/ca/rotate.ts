import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../../base-command.js'
import {ExitCode, failedRunExit, usageError} from '../../errors.js'
import {connectionFlags} from '../../flags/connection.js'
import {defaultLockPath} from '../../reload/lock-path.js'
import type {RotateReport} from '../../rotate/run.js'

export default class CaRotate extends BaseCommand {
  static override summary = 'Move a running cluster (or a primary and its replicas) to a new CA without breaking a link.'

  static override description = `The safe order, worked out from what the nodes show (never from a state file): 1) every node trusts both CAs (the new CA appended to its tls-ca-cert-file); 2) every node's certificate (and tls-client-cert-file, if set) is re-issued from the new CA with the same subject, names and key; 3) with --finish, every node trusts the new CA alone.

Phase 2 needs either --new-ca-key (certificates re-issued here) or --leaf-dir (renewed certificates for each node's own key, made elsewhere). Without --new-ca-key the running nodes cannot be asked whether they trust the new CA, so their CA files are taken for it and, before the first certificate moves, every node is reloaded once more so that what it runs is what its files say.

Without --apply it only looks: per node, which CA issued the certificate it serves and the ones in its files, what its CA file holds, and, with --new-ca-key, whether the running node accepts a certificate from the new CA (a short-lived probe certificate made in memory, never written); then the phase and the next safe step.

With --apply it performs the steps that are safe now, node by node, replicas first, for nodes whose files are on this machine and writable: each file is replaced atomically (same mode, owner and group), the previous one kept beside it (.before-widen, .before-new-leaf, .before-narrow); each reload goes through "valkey-tls reload" (its rehearsals refuse a certificate or CA file a peer or this tool would not accept; refused files are put back); after each node the new trust or certificate must show, and every node must report cluster_state:ok and replicas linked, or the run stops, saying how to roll back. Killed at any point, run it again: it continues from what the nodes show. For nodes whose files are elsewhere it prints the steps to do by hand.

--finish narrows trust only when every node serves a certificate from the new CA; clients still presenting old-CA certificates are refused from then on, this tool included: give it a --cert from the new CA.

--cacert must verify the nodes as they are now; the new CA is added to it for this run. Exit codes: ${ExitCode.ok} nothing wrong (done, or waiting for the next step); ${ExitCode.refused} an unsafe step was refused (nothing loaded there); ${ExitCode.server} a node failed or could not be looked at; ${ExitCode.auth} the same, our credentials; ${ExitCode.input} the new CA's files are unusable; ${ExitCode.busy} a reload or rotation holds the lock; ${ExitCode.usage} usage error.`

  static override examples = [
    {description: 'Where does the rotation stand, and what is the next safe step?', command: 'valkey-tls ca rotate --new-ca-cert tls/new-ca.crt --new-ca-key tls/new-ca.key -p 6379 --cacert tls/ca.crt --cert tls/admin.crt --key tls/admin.key'},
    {description: 'Phases 1 and 2: trust both CAs everywhere, then move every node to a certificate from the new CA.', command: 'valkey-tls ca rotate --new-ca-cert tls/new-ca.crt --new-ca-key tls/new-ca.key --apply -p 6379 --cacert tls/ca.crt --cert tls/admin.crt --key tls/admin.key'},
    {description: 'With a CA whose key stays elsewhere (Vault, a company PKI): the renewed certificates in a folder, one per node.', command: 'valkey-tls ca rotate --new-ca-cert new-ca.crt --leaf-dir renewed/ --apply -p 6379 --cacert ca.crt --cert admin.crt --key admin.key'},
    {description: 'Phase 3, once every client has a new-CA certificate: trust the new CA alone.', command: 'valkey-tls ca rotate --new-ca-cert tls/new-ca.crt --new-ca-key tls/new-ca.key --apply --finish -p 6379 --cacert tls/new-ca.crt --cert tls/admin-new.crt --key tls/admin-new.key'},
  ]

  static override flags = {
    'new-ca-cert': Flags.string({summary: 'The CA to move to (PEM).', required: true}),
    'new-ca-key': Flags.string({summary: 'Its private key: probe whether nodes trust it, and re-issue their certificates (phase 2).'}),
    'leaf-dir': Flags.string({summary: 'Without --new-ca-key: a folder of renewed certificates from the new CA, for each node\'s own key, named HOST_PORT.crt (and HOST_PORT.client.crt for tls-client-cert-file).', exclusive: ['new-ca-key']}),
    apply: Flags.boolean({summary: 'Perform the steps that are safe now (phases 1 and 2).'}),
    finish: Flags.boolean({summary: 'Also narrow trust to the new CA (phase 3), once every node serves a certificate from it.'}),
    nodes: Flags.string({summary: 'These nodes (host:port,...) instead of every node found from --host/--port.', exclusive: ['host']}),
    'min-days': Flags.integer({summary: 'Refuse certificates valid for fewer days than this (as reload does).', default: 1, min: 0}),
    deadline: Flags.integer({summary: 'Seconds after which the run stops (between nodes: a node being changed is finished or reported).', default: 900, min: 1}),
    'read-files': Flags.option({
      summary: 'Read and change the node\'s files here: auto = only for nodes at an address of this machine; always = the paths are the same here (shared storage); never = print the steps for each node instead.',
      options: ['auto', 'always', 'never'] as const, default: 'auto',
    })(),
    'lock-file': Flags.string({summary: 'The lock shared with reload, so a cron reload never runs in the middle (default: reload\'s).'}),
    'lock-wait': Flags.integer({summary: 'Seconds to wait for the lock.', default: 60, min: 0}),
    ...connectionFlags,
  }

  async run(): Promise<RotateReport> {
    const {flags} = await this.parse(CaRotate)
    if (!flags.cacert && !flags.cacertdir) throw usageError('--cacert (or --cacertdir) is needed: the CAs that verify the nodes as they are now')
    const [{parseNodeList}, {resolveConnection}, {runRotate}, {withLock}, {readInputFile}, {parseNodeCertificates}, {loadCa}, {renderRotate}] = await Promise.all([
      import('../../cluster/discover.js'), import('../../flags/resolve.js'), import('../../rotate/run.js'), import('../../reload/lock.js'),
      import('../../fsutil/read.js'), import('../../pki/read-certificates.js'), import('../../pki/ca.js'), import('../../report/rotate.js'),
    ])
    const newCaPem = await readInputFile(flags['new-ca-cert'], '--new-ca-cert')
    const [newCa] = parseNodeCertificates(newCaPem, `--new-ca-cert ${flags['new-ca-cert']}`)
    if (!newCa!.ca) throw (await import('../../errors.js')).inputError(`--new-ca-cert ${flags['new-ca-cert']} is not a CA certificate (basicConstraints CA:TRUE is missing)`)
    const signer = flags['new-ca-key'] ? await loadCa(flags['new-ca-cert'], flags['new-ca-key']) : undefined
    const connection = await resolveConnection(flags, 'the nodes')
    connection.tls.ca = Buffer.concat([connection.tls.ca ?? Buffer.alloc(0), Buffer.from('\n'), Buffer.from(newCa!.toString())])
    const changes = flags.apply || flags.finish
    const report = await withLock(changes ? flags['lock-file'] ?? defaultLockPath() : undefined, flags['lock-wait'] * 1000, () => runRotate({
      seed: connection, nodes: flags.nodes ? parseNodeList(flags.nodes) : undefined, newCa: newCa!, signer, leafDir: flags['leaf-dir'],
      apply: flags.apply, finish: flags.finish, minDays: flags['min-days'], deadlineMs: flags.deadline * 1000, readFiles: flags['read-files'],
      onStep: this.jsonEnabled() ? undefined : (line) => this.logToStderr(line),
    }))
    if (!this.jsonEnabled()) this.log(renderRotate(report))
    else if (report.status !== 'ok') this.logJson(report)
    if (report.status === 'failed') this.exit(failedRunExit([report.errorKind ?? 'server']))
    if (report.status === 'refused') this.exit(ExitCode.refused)
    return report
  }
}
