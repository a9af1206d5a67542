import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import chalk from 'chalk'

import {BaseCommand} from '../../base-command.js'
import {ExitCode, usageError} from '../../errors.js'
import {readInputFile} from '../../fsutil/read.js'
import type {Purpose, VerifyResult} from '../../pki/verify.js'

export default class CertsVerify extends BaseCommand {
  static override summary = 'Check a certificate before a server loads it: dates, key, and the handshakes it must survive.'

  static override description = `The checks "reload" makes before it lets a server load new files, offline. The certificate parses; it and every intermediate in the file are within their dates, the leaf for at least --min-days more; --key is its private key (an encrypted key is opened with the passphrase in VALKEY_TLS_KEY_PASSPHRASE, never shown); every CA in --cacert is within its dates (Valkey with valkey#2999 refuses to load a bundle holding an expired CA).

Then the handshakes it must survive are rehearsed in-process with OpenSSL, nothing on the network: served to a client that verifies with --cacert (OpenSSL's purpose check for a server certificate: extendedKeyUsage, keyUsage, CA flags and dates of the whole chain, no partial chains), and presented to a server that verifies with --cacert (the purpose check for a client certificate). A Valkey server presents its server certificate as the client certificate of cluster-bus and replication links, so both are checked by default (--purpose). Each --host must be named by the certificate, as OpenSSL matches names.

Valkey before 9.1 and Redis load an expired or not-yet-valid certificate through CONFIG SET without complaint, after which every new client fails: this refuses it. Exit ${ExitCode.ok} when every check passes, ${ExitCode.refused} when one fails (each failure is listed; a key that cannot be opened is one), ${ExitCode.input} when a file cannot be read or a certificate cannot be parsed.`

  static override examples = [
    {description: 'Before copying renewed files into place.', command: 'valkey-tls certs verify new/server.crt --key new/server.key --cacert /etc/valkey/ca.crt --host valkey-1.example.com --host 10.0.0.5'},
    {description: 'A client certificate only, with 30 days left at least, machine-readable.', command: 'valkey-tls certs verify client.crt --key client.key --cacert ca.crt --purpose client --min-days 30 --json'},
  ]

  static override args = {
    cert: Args.string({description: 'Certificate file (PEM): the certificate first, then any intermediates (or --cert).'}),
  }

  static override flags = {
    cert: Flags.string({summary: 'Certificate file, when not given as the argument.'}),
    key: Flags.string({summary: 'Its private key (PEM); encrypted keys use VALKEY_TLS_KEY_PASSPHRASE. Needed for the handshake rehearsals.'}),
    cacert: Flags.string({aliases: ['ca'], summary: 'CA bundle (PEM) that clients and peers verify the certificate with (--ca is the same).'}),
    purpose: Flags.option({summary: 'How the certificate is used: as a server certificate, a client certificate, or both (a Valkey server certificate is both).', options: ['server', 'client', 'both'] as const, default: 'both'})(),
    host: Flags.string({summary: 'A name (DNS or IP) clients reach the server by: the certificate must name it. Repeatable.', multiple: true}),
    'min-days': Flags.integer({summary: 'Days the certificate must still be valid for.', default: 1, min: 0}),
  }

  async run(): Promise<VerifyResult> {
    const {args, flags} = await this.parse(CertsVerify)
    const {verifyCertificate} = await import('../../pki/verify.js')
    if (args.cert !== undefined && flags.cert !== undefined && args.cert !== flags.cert) throw usageError('give the certificate once: as the argument or as --cert')
    const certPath = args.cert ?? flags.cert
    if (certPath === undefined) throw usageError('which certificate? Give it as the argument (certs verify server.crt) or as --cert')
    const [certPem, keyPem, caPem] = await Promise.all([
      readInputFile(certPath, 'certificate'),
      flags.key === undefined ? undefined : readInputFile(flags.key, 'key'),
      flags.cacert === undefined ? undefined : readInputFile(flags.cacert, 'CA bundle'),
    ])
    const purposes: Purpose[] = flags.purpose === 'both' ? ['server', 'client'] : [flags.purpose]
    const result = await verifyCertificate({
      certPem, certPath, keyPem, keyPath: flags.key, caPem, caPath: flags.cacert, purposes, hosts: flags.host ?? [],
      passphrase: process.env.VALKEY_TLS_KEY_PASSPHRASE, minDays: flags['min-days'],
    })
    if (!this.jsonEnabled()) this.log(render(result))
    if (!result.ok) {
      if (this.jsonEnabled()) this.logJson(result)
      this.exit(ExitCode.refused)
    }
    return result
  }
}

const REHEARSAL_NAMES = {serve: 'served to a client verifying with the CA', present: 'presented as a client certificate to a server verifying with the CA', name: 'names'}

function render(r: VerifyResult): string {
  const mark = (value: boolean | null, what: string) => (value === null ? chalk.dim(`  - ${what}: not checked`) : value ? chalk.green(`  ok ${what}`) : chalk.red(`  FAILED ${what}`))
  const unchecked = [r.keyMatches === null && 'key not checked: no --key', r.chainVerified === null && `handshakes not rehearsed: they need ${r.keyMatches === null ? '--key and ' : ''}--cacert`].filter(Boolean)
  const headline = !r.ok
    ? chalk.red.bold(`REFUSED: ${r.problems.length} problem${r.problems.length > 1 ? 's' : ''}`)
    : unchecked.length > 0 ? chalk.yellow.bold(`OK as far as checked (${unchecked.join('; ')})`) : chalk.green.bold('OK: safe to load')
  const lines = [
    headline,
    `  ${r.subject}, issued by ${r.issuer}`,
    `  valid ${r.notBefore} to ${r.notAfter} (${r.daysLeft} days left)`,
    `  SHA-256 ${r.fingerprint256}`,
    mark(r.keyMatches, 'private key matches'),
    ...(r.rehearsals.length === 0 ? [mark(null, 'handshakes rehearsed')] : r.rehearsals.map((h) => mark(h.ok, `${REHEARSAL_NAMES[h.name]}${h.host ? ` ${h.host}` : ''}`))),
    ...r.problems.map((p) => chalk.red(`  ${p.message}`)),
  ]
  return lines.join('\n')
}
