import * as Args from '@oclif/core/args'

import {BaseCommand} from '../../base-command.js'
import type {InspectResult} from '../../pki/inspect.js'
import {renderInspect} from '../../report/inspect.js'

export default class CertsInspect extends BaseCommand {
  static override summary = 'Show the identity of any certificate: names, issuer, validity, usages, and the ACL user each mapping mode would try.'

  static override description = `Reads FILE (PEM, where the first certificate of a bundle is described, or DER) and shows what whoami shows offline, for any certificate (CA, server or client): subject, CN, subjectAltNames (DNS, IP, URI, e-mail), issuer, serial, validity, SHA-256 fingerprint, key type, key usage, extended key usage and basic constraints, then what "tls-auth-clients-user CN" and "URI" would try, and what would go wrong were it presented as a client certificate. Offline only; nothing is verified against a CA (certs verify does that).`

  static override examples = [
    {description: 'A certificate made by certs gen.', command: 'valkey-tls certs inspect tls/alice.crt'},
    {description: 'The CA, as JSON.', command: 'valkey-tls certs inspect tls/ca.crt --json'},
  ]

  static override args = {
    file: Args.string({description: 'Certificate file (PEM or DER).', required: true}),
  }

  async run(): Promise<InspectResult> {
    const {args} = await this.parse(CertsInspect)
    const {inspectCertificate} = await import('../../pki/inspect.js')
    const result = await inspectCertificate(args.file)
    if (!this.jsonEnabled()) this.log(renderInspect(result))
    return result
  }
}
