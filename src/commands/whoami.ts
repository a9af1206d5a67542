import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../base-command.js'
import {ExitCode, usageError} from '../errors.js'
import {connectionFlags, wantsServer} from '../flags/connection.js'
import type {MappingMode} from '../identity/predict.js'
import type {WhatIfMode} from '../identity/what-if.js'
import type {WhoamiResult} from '../identity/whoami.js'
import {renderWhoami} from '../report/whoami.js'

export default class Whoami extends BaseCommand {
  static override summary = 'Say which ACL user a client certificate logs in as, offline or against a live server.'

  static override description = `Reads CERT (PEM, where the first certificate of a bundle is the leaf, or DER) and shows its identity: subject, CN, subjectAltNames, issuer, serial, validity, fingerprint, key type and extended key usages, and the user each "tls-auth-clients-user" mode would try (CN: the first CN; URI: the URI subjectAltNames in order). It flags what will go wrong: no CN or URI, a name no ACL user can have, an expired or not-yet-valid certificate, a missing clientAuth usage.

It also shows, in a section of its own ("whatIf" in --json), the names mappings Valkey does NOT have would use, for people who ask about them: NATS-style (verify_and_map) the first e-mail subjectAltName and the whole subject as an RFC 2253 string (as openssl -nameopt RFC2253 prints it), the first O (organization) and the DNS subjectAltNames. Offline, --mode email|dn|o|dns predicts the user name such a mapping would give; against a server --mode is refused, since the server maps only by its own tls-auth-clients-user (CN or URI).

With --host or --port it asks the server for its tls-auth-clients, tls-auth-clients-user, version and the ACL users concerned, and predicts exactly the user the certificate logs in as, with the reason when it is "default". The connection needs CONFIG GET, INFO and ACL GETUSER. With --verify-key (the private key of CERT) it then really connects presenting CERT, runs ACL WHOAMI, reports what the server said next to the prediction, and exits with ${ExitCode.mismatch} if they differ.

The password for --user comes from VALKEY_TLS_PASSWORD (or VALKEYCLI_AUTH / REDISCLI_AUTH), or from a prompt (--askpass, or when the server asks and a terminal is available); there is no password flag.`

  static override examples = [
    {description: 'Offline: what the certificate would log in as.', command: 'valkey-tls whoami tls/alice.crt'},
    {description: 'Offline, for tls-auth-clients-user URI.', command: 'valkey-tls whoami tls/alice.crt --mode uri'},
    {description: 'Offline, what-if: the user name a NATS-style subject mapping would give (not Valkey behaviour).', command: 'valkey-tls whoami tls/alice.crt --mode dn'},
    {description: 'Against a server: exactly which user, and why.', command: 'valkey-tls whoami tls/alice.crt --host valkey.internal --port 6379 --cacert tls/ca.crt --cert tls/admin.crt --key tls/admin.key'},
    {description: 'Check the prediction by connecting with the certificate itself.', command: 'valkey-tls whoami tls/alice.crt --verify-key tls/alice.key --port 6379 --cacert tls/ca.crt --cert tls/admin.crt --key tls/admin.key'},
    {description: 'Machine-readable result.', command: 'valkey-tls whoami tls/alice.crt --port 6379 --cacert tls/ca.crt --json'},
  ]

  static override args = {
    cert: Args.string({description: 'Client certificate file (PEM or DER).', required: true}),
  }

  static override flags = {
    mode: Flags.custom<MappingMode | WhatIfMode>({
      summary: 'Offline: the tls-auth-clients-user mode to predict for, cn (default) or uri; or a what-if mapping Valkey does not have: email, dn, o or dns.',
      async parse(input) {
        const mode = input.toLowerCase()
        if (mode === 'cn' || mode === 'uri') return mode.toUpperCase() as MappingMode
        if (mode === 'email' || mode === 'dn' || mode === 'o' || mode === 'dns') return mode
        throw usageError(`--mode must be cn or uri (Valkey's modes), or email, dn, o or dns (what-if, offline), not "${input}"`)
      },
    })(),
    'verify-key': Flags.string({summary: 'Private key of CERT: connect presenting CERT and compare ACL WHOAMI with the prediction.'}),
    ...connectionFlags,
  }

  async run(): Promise<WhoamiResult> {
    const {args, flags} = await this.parse(Whoami)
    const {modeWithServerError, whoami} = await import('../identity/whoami.js')
    // Before resolving the connection, which may prompt for a password.
    if (flags.mode && wantsServer(flags)) throw modeWithServerError(flags.mode)
    const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY)
    const askPassword = interactive ? (await import('../ui/prompts.js')).askPassword : undefined
    const server = wantsServer(flags) ? {connection: await (await import('../flags/resolve.js')).resolveConnection(flags), askPassword} : undefined
    const result = await whoami({certPath: args.cert, mode: flags.mode, verifyKeyPath: flags['verify-key'], server})
    if (result.match === false) {
      if (this.jsonEnabled()) this.logJson(result)
      else this.log(renderWhoami(result))
      this.exit(ExitCode.mismatch)
    }
    if (!this.jsonEnabled()) this.log(renderWhoami(result))
    return result
  }
}
