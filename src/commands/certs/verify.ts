import {Flags} from '@oclif/core'
import chalk from 'chalk'

import {BaseCommand} from '../../base-command.js'
import {ExitCode} from '../../errors.js'
import {readInputFile} from '../../fsutil/read.js'
import {verifyCertificate, type VerifyResult} from '../../pki/verify.js'

export default class CertsVerify extends BaseCommand {
  static override summary = 'Check a certificate before a server loads it: validity, key, chain.'

  static override description = `The checks "reload" makes before it lets a server load new files, offline: the certificate parses, is valid now and for at least --min-days more, --key is its private key (an encrypted key is opened with the passphrase in VALKEY_TLS_KEY_PASSPHRASE, never shown), and it chains to --ca through any intermediates in the certificate file.

Valkey before 9.1 and Redis load an expired or not-yet-valid certificate through CONFIG SET without complaint, after which every new client fails: this refuses it. Exit ${ExitCode.ok} when every check passes, ${ExitCode.refused} when one fails (each failure is listed), ${ExitCode.input} when a file cannot be read or parsed.`

  static override examples = [
    {description: 'Before copying renewed files into place.', command: '<%= config.bin %> <%= command.id %> --cert new/server.crt --key new/server.key --ca /etc/valkey/ca.crt'},
    {description: 'Demand 30 days of validity, machine-readable.', command: '<%= config.bin %> <%= command.id %> --cert server.crt --key server.key --min-days 30 --json'},
  ]

  static override flags = {
    cert: Flags.string({summary: 'Certificate file (PEM): the certificate first, then any intermediates.', required: true}),
    key: Flags.string({summary: 'Its private key (PEM); encrypted keys use VALKEY_TLS_KEY_PASSPHRASE.'}),
    ca: Flags.string({summary: 'CA bundle (PEM) the certificate must chain to.'}),
    'min-days': Flags.integer({summary: 'Days the certificate must still be valid for.', default: 1, min: 0}),
  }

  async run(): Promise<VerifyResult> {
    const {flags} = await this.parse(CertsVerify)
    const [certPem, keyPem, caPem] = await Promise.all([
      readInputFile(flags.cert, 'certificate'),
      flags.key === undefined ? undefined : readInputFile(flags.key, 'key'),
      flags.ca === undefined ? undefined : readInputFile(flags.ca, 'CA bundle'),
    ])
    const result = verifyCertificate({
      certPem, certPath: flags.cert, keyPem, keyPath: flags.key, caPem, caPath: flags.ca,
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

function render(r: VerifyResult): string {
  const mark = (value: boolean | null, what: string) => (value === null ? chalk.dim(`  - ${what}: not checked`) : value ? chalk.green(`  ok ${what}`) : chalk.red(`  FAILED ${what}`))
  const lines = [
    r.ok ? chalk.green.bold('OK: safe to load') : chalk.red.bold(`REFUSED: ${r.problems.length} problem${r.problems.length > 1 ? 's' : ''}`),
    `  ${r.subject}, issued by ${r.issuer}`,
    `  valid ${r.notBefore} to ${r.notAfter} (${r.daysLeft} days left)`,
    `  SHA-256 ${r.fingerprint256}`,
    mark(r.keyMatches, 'private key matches'),
    mark(r.chainVerified, 'chains to the CA'),
    ...r.problems.map((p) => chalk.red(`  ${p.message}`)),
  ]
  return lines.join('\n')
}
