import {constants} from 'node:os'

import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../../base-command.js'
import {usageError, ValkeyTlsError} from '../../errors.js'
import {InterruptedError} from '../../fsutil/write.js'
import type {GenerateResult} from '../../pki/generate-set.js'
import {DEFAULT_KEY_TYPE, KEY_TYPES, type KeyType} from '../../pki/key-types.js'
import {DEFAULT_CLIENT, parseClientUri, parseSan, parseServer} from '../../pki/names.js'
import {renderGenResult} from '../../report/gen.js'

const DEFAULT_DAYS = 365

export default class CertsGen extends BaseCommand {
  static override summary = 'Generate a test CA, a server certificate and client certificates that Valkey loads.'

  static override description = `Writes ca.crt, ca.key, server.crt, server.key, client.crt and client.key into --out, plus <name>.crt and <name>.key for every --client NAME (CN = NAME, so that "tls-auth-clients-user CN" logs it in as user NAME). The server certificate covers localhost, 127.0.0.1, ::1 and every --san, and carries both serverAuth and clientAuth because Valkey also presents it on cluster-bus and replication links. With --ca-cert and --ca-key the certificates are signed by that CA instead of a new one (its key is not copied).

With --server NAME (repeatable) there is one server certificate per node instead of server.crt: NAME.crt and NAME.key, CN=NAME, covering NAME (when it is a DNS name), the SANs after "=" (--server node1=node1.internal,10.0.0.1), every --san, and localhost, 127.0.0.1 and ::1; the valkey.conf lines are printed for each node. --not-after ends the server and client certificates at an exact time instead of --days: a duration from now (30m, 24h, 90d) or an ISO date (midnight UTC) or date-time with its offset. --ca-name sets the new CA's CN, so that CAs from different runs can be told apart by name (tools tell them apart by key identifier anyway). --p12 also writes NAME.p12 (PKCS#12: key, certificate and CA) for every client certificate, encrypted with a password from --p12-password-command, $VALKEY_TLS_P12_PASSWORD, or a prompt on a terminal; never from a flag value.

All or nothing: every value is checked first (a usage error writes nothing and creates no folder); every file is written to a temporary file in --out (private keys with mode 0600), then renamed into place. Existing files are never replaced unless --force is given: without it, if any target exists, nothing at all is written. With --force, the previous files are kept aside until every new one is in place, and put back if any step fails or the run is interrupted (SIGINT, SIGTERM: it then says so in one line and ends by that signal), with no temporary files left behind. Afterwards it prints the valkey.conf lines and the ACL SETUSER commands that make the client certificates log in as their users.

Run on a terminal with no flags, it asks its questions; it never asks with --yes, --json, or when standard input is not a terminal.`

  static override examples = [
    {description: 'Generate everything into ./tls with defaults (EC P-256, 365 days).', command: 'valkey-tls certs gen --yes'},
    {description: 'Client certificates for users alice and bob, and a server name.', command: 'valkey-tls certs gen --out ./tls --client alice --client bob --san valkey.internal'},
    {description: 'A client certificate with a SPIFFE URI, for "tls-auth-clients-user URI".', command: 'valkey-tls certs gen --client alice --client-uri alice=spiffe://example.org/alice'},
    {description: 'Sign with an existing CA, RSA keys, 90 days.', command: 'valkey-tls certs gen --ca-cert ca.crt --ca-key ca.key --key-type rsa-2048 --days 90 --out ./renewed'},
    {description: 'One server certificate per node of a three-node cluster, each with its own names and address.', command: 'valkey-tls certs gen --out ./tls --server node1=node1.internal,10.0.0.1 --server node2=node2.internal,10.0.0.2 --server node3=node3.internal,10.0.0.3'},
    {description: 'Short-lived certificates for a test: valid for 24 hours, under a CA with its own name.', command: 'valkey-tls certs gen --out ./tls --not-after 24h --ca-name "Staging Valkey CA"'},
    {description: 'Certificates ending at a fixed time.', command: 'valkey-tls certs gen --out ./tls --not-after 2027-01-31T12:00:00Z'},
    {description: 'Client certificates as PKCS#12 files too, the password from a command.', command: 'valkey-tls certs gen --out ./tls --client alice --p12 --p12-password-command "pass show valkey/p12"'},
    {description: 'Machine-readable result (files, fingerprints, expiry; never key material).', command: 'valkey-tls certs gen --out ./tls --json'},
  ]

  static override flags = {
    out: Flags.string({char: 'o', summary: 'Folder to write the files into (created if missing).', default: './tls'}),
    'key-type': Flags.option({summary: 'Key type of every generated key.', options: KEY_TYPES, default: DEFAULT_KEY_TYPE})(),
    days: Flags.integer({summary: 'Validity of the server and client certificates, in days (at most 36500; default 365). Longer than the CA (--ca-days, or what is left of --ca-cert) is refused, not shortened.', min: 1, exclusive: ['not-after']}),
    'not-after': Flags.string({summary: 'End of the server and client certificates instead of --days: a duration from now (30m, 24h, 90d) or an ISO date (2027-01-31, midnight UTC) or date-time with offset (2027-01-31T12:00:00Z). Later than the CA is refused, not shortened.', exclusive: ['days']}),
    'ca-days': Flags.integer({summary: 'Validity of a newly generated CA, in days (at most 36500).', default: 3650, min: 1}),
    san: Flags.string({summary: 'Extra server subjectAltName: a DNS name or an IP address (DNS:/IP: prefixes accepted; no IPv6 zone such as %eth0). Repeatable; with --server, on every node\'s certificate.', multiple: true}),
    server: Flags.string({summary: 'One server certificate per node instead of server.crt: NAME.crt/NAME.key with CN=NAME, as NAME or NAME=SAN,SAN,... (DNS names or IPs, e.g. node1=node1.internal,10.0.0.1). Repeatable.', multiple: true}),
    client: Flags.string({summary: `Also make a client certificate <NAME>.crt with CN=NAME (besides ${DEFAULT_CLIENT}.crt). Repeatable.`, multiple: true}),
    'client-uri': Flags.string({summary: `Add a URI subjectAltName (printable ASCII) to a client certificate: NAME=URI, or just URI for ${DEFAULT_CLIENT}.crt. Repeatable.`, multiple: true}),
    org: Flags.string({summary: 'Organization (O=) to put in every certificate subject: at most 64 characters, no control characters.'}),
    'ca-name': Flags.string({summary: 'CN of the new CA (default "Valkey TLS Test CA"), to tell CAs from different runs apart.', exclusive: ['ca-cert']}),
    p12: Flags.boolean({summary: 'Also write NAME.p12 (PKCS#12: key, certificate and CA; mode 0600) for every client certificate.', default: false}),
    'p12-password-command': Flags.string({summary: 'Command that prints the --p12 password (run once, no shell); else $VALKEY_TLS_P12_PASSWORD, else a prompt on a terminal.'}),
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
    let options = {out: flags.out, keyType: flags['key-type'] as KeyType, days: flags.days ?? DEFAULT_DAYS, sans: flags.san ?? [], clients: flags.client ?? []}

    const interactive = this.argv.length === 0 && process.stdin.isTTY && process.stdout.isTTY && !this.jsonEnabled()
    if (interactive) {
      const {askGenOptions} = await import('../../ui/prompts.js')
      const answers = await askGenOptions({out: flags.out, days: DEFAULT_DAYS}, existingGenTargets).catch((error: Error) => {
        if (error.name === 'ExitPromptError') return undefined // Ctrl+C at a prompt
        throw error
      })
      if (!answers?.proceed) throw new ValkeyTlsError('usage', 'cancelled; nothing was written')
      options = answers
      overwrite = answers.overwrite
    }

    if (flags['p12-password-command'] !== undefined && !flags.p12) throw usageError('--p12-password-command is for --p12: add --p12, or leave it out')
    const servers = (flags.server ?? []).map(parseServer)
    const sans = options.sans.map(parseSan)
    const p12 = flags.p12 ? {password: await this.p12Password(flags['p12-password-command'])} : undefined

    // Caught while the files are written; after an interrupt, until its message is out (see catch()).
    this.interrupts = catchInterrupts()
    const result = await generateCertificateSet({
      ...options,
      notAfter: flags['not-after'],
      caName: flags['ca-name'],
      servers,
      p12,
      caDays: flags['ca-days'],
      sans,
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

  private async p12Password(command: string | undefined): Promise<string> {
    const {resolveP12Password} = await import('../../flags/p12-password.js')
    const canPrompt = Boolean(process.stdin.isTTY && process.stderr.isTTY)
    const ask = async () => (await import('../../ui/prompts.js')).askNewPassword('the .p12 files').catch((error: Error) => {
      if (error.name === 'ExitPromptError') throw new ValkeyTlsError('usage', 'cancelled; nothing was written')
      throw error
    })
    return resolveP12Password({command, canPrompt, ask})
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
