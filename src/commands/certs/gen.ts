import {constants} from 'node:os'

import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../../base-command.js'
import {ValkeyTlsError} from '../../errors.js'
import {InterruptedError} from '../../fsutil/write.js'
import type {GenerateResult} from '../../pki/generate-set.js'
import {DEFAULT_KEY_TYPE, KEY_TYPES, type KeyType} from '../../pki/key-types.js'
import {DEFAULT_CLIENT, parseClientUri, parseSan} from '../../pki/names.js'
import {renderGenResult} from '../../report/gen.js'

export default class CertsGen extends BaseCommand {
  static override summary = 'Generate a test CA, a server certificate and client certificates that Valkey loads.'

  static override description = `Writes ca.crt, ca.key, server.crt, server.key, client.crt and client.key into --out, plus <name>.crt and <name>.key for every --client NAME (CN = NAME, so that "tls-auth-clients-user CN" logs it in as user NAME). The server certificate covers localhost, 127.0.0.1, ::1 and every --san, and carries both serverAuth and clientAuth because Valkey also presents it on cluster-bus and replication links. With --ca-cert and --ca-key the certificates are signed by that CA instead of a new one (its key is not copied).

All or nothing: every value is checked first (a usage error writes nothing and creates no folder); every file is written to a temporary file in --out (private keys with mode 0600), then renamed into place. Existing files are never replaced unless --force is given: without it, if any target exists, nothing at all is written. With --force, the previous files are kept aside until every new one is in place, and put back if any step fails or the run is interrupted (SIGINT, SIGTERM: it then says so in one line and ends by that signal), with no temporary files left behind. Afterwards it prints the valkey.conf lines and the ACL SETUSER commands that make the client certificates log in as their users.

Run on a terminal with no flags, it asks its questions; it never asks with --yes, --json, or when standard input is not a terminal.`

  static override examples = [
    {description: 'Generate everything into ./tls with defaults (EC P-256, 365 days).', command: '<%= config.bin %> <%= command.id %> --yes'},
    {description: 'Client certificates for users alice and bob, and a server name.', command: '<%= config.bin %> <%= command.id %> --out ./tls --client alice --client bob --san valkey.internal'},
    {description: 'A client certificate with a SPIFFE URI, for "tls-auth-clients-user URI".', command: '<%= config.bin %> <%= command.id %> --client alice --client-uri alice=spiffe://example.org/alice'},
    {description: 'Sign with an existing CA, RSA keys, 90 days.', command: '<%= config.bin %> <%= command.id %> --ca-cert ca.crt --ca-key ca.key --key-type rsa-2048 --days 90 --out ./renewed'},
    {description: 'Machine-readable result (files, fingerprints, expiry; never key material).', command: '<%= config.bin %> <%= command.id %> --out ./tls --json'},
  ]

  static override flags = {
    out: Flags.string({char: 'o', summary: 'Folder to write the files into (created if missing).', default: './tls'}),
    'key-type': Flags.option({summary: 'Key type of every generated key.', options: KEY_TYPES, default: DEFAULT_KEY_TYPE})(),
    days: Flags.integer({summary: 'Validity of the server and client certificates, in days (at most 36500). Longer than the CA (--ca-days, or what is left of --ca-cert) is refused, not shortened.', default: 365, min: 1}),
    'ca-days': Flags.integer({summary: 'Validity of a newly generated CA, in days (at most 36500).', default: 3650, min: 1}),
    san: Flags.string({summary: 'Extra server subjectAltName: a DNS name or an IP address (DNS:/IP: prefixes accepted; no IPv6 zone such as %eth0). Repeatable.', multiple: true}),
    client: Flags.string({summary: `Also make a client certificate <NAME>.crt with CN=NAME (besides ${DEFAULT_CLIENT}.crt). Repeatable.`, multiple: true}),
    'client-uri': Flags.string({summary: `Add a URI subjectAltName (printable ASCII) to a client certificate: NAME=URI, or just URI for ${DEFAULT_CLIENT}.crt. Repeatable.`, multiple: true}),
    org: Flags.string({summary: 'Organization (O=) to put in every certificate subject: at most 64 characters, no control characters.'}),
    'ca-cert': Flags.string({summary: 'Sign with this existing CA certificate (PEM) instead of generating a CA.', dependsOn: ['ca-key']}),
    'ca-key': Flags.string({summary: 'Private key (PEM, unencrypted) of --ca-cert.', dependsOn: ['ca-cert']}),
    force: Flags.boolean({summary: 'Replace existing files in --out.', default: false}),
    yes: Flags.boolean({char: 'y', summary: 'Do not ask questions; use the flags and defaults.', default: false}),
  }

  private interrupts?: ReturnType<typeof catchInterrupts>

  async run(): Promise<GenerateResult> {
    const {flags} = await this.parse(CertsGen)
    const {existingGenTargets, generateCertificateSet} = await import('../../pki/generate-set.js')
    let overwrite = flags.force
    let options = {out: flags.out, keyType: flags['key-type'] as KeyType, days: flags.days, sans: flags.san ?? [], clients: flags.client ?? []}

    const interactive = this.argv.length === 0 && process.stdin.isTTY && process.stdout.isTTY && !this.jsonEnabled()
    if (interactive) {
      const {askGenOptions} = await import('../../ui/prompts.js')
      const answers = await askGenOptions({out: flags.out, days: flags.days}, existingGenTargets).catch((error: Error) => {
        if (error.name === 'ExitPromptError') return undefined // Ctrl+C at a prompt
        throw error
      })
      if (!answers?.proceed) throw new ValkeyTlsError('usage', 'cancelled; nothing was written')
      options = answers
      overwrite = answers.overwrite
    }

    // Caught while the files are written; after an interrupt, until its message is out (see catch()).
    this.interrupts = catchInterrupts()
    const result = await generateCertificateSet({
      ...options,
      caDays: flags['ca-days'],
      sans: options.sans.map(parseSan),
      clientUris: (flags['client-uri'] ?? []).map((raw) => parseClientUri(raw, DEFAULT_CLIENT)),
      organization: flags.org,
      ca: flags['ca-cert'] && flags['ca-key'] ? {certPath: flags['ca-cert'], keyPath: flags['ca-key']} : undefined,
      overwrite,
      signal: this.interrupts.signal,
    })
    this.interrupts.release()
    if (!this.jsonEnabled()) {
      for (const warning of result.warnings) this.warn(warning)
      this.log(renderGenResult(result))
    }
    return result
  }

  /** After an interrupted run is rolled back: say so in one line, then die of the same signal, as shells expect. */
  protected override async catch(error: Error & {oclif?: {exit?: number}}): Promise<void> {
    if (!(error instanceof InterruptedError)) {
      this.interrupts?.release()
      return super.catch(error)
    }
    const number = constants.signals[error.signalName as NodeJS.Signals]
    const exitCode = number ? 128 + number : 1
    if (this.jsonEnabled()) this.logJson({error: {code: 'interrupted', message: error.message, exitCode}})
    else this.logToStderr(`Error: ${error.message}`)
    this.interrupts?.release()
    if (number) process.kill(process.pid, error.signalName)
    this.exit(exitCode) // only if the signal did not end the process
  }
}

/**
 * Until released, SIGINT and SIGTERM abort `signal` (reason: the signal's name) instead of ending the
 * process, so that --out can be put back as it was; more of them meanwhile change nothing.
 */
function catchInterrupts(): {signal: AbortSignal; release(): void} {
  const controller = new AbortController()
  const onSignal = (name: NodeJS.Signals) => controller.abort(name)
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return {
    signal: controller.signal,
    release() {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    },
  }
}
