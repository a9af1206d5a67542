import {derFingerprint256} from './fingerprint.js'
import {toPem} from './pem.js'
import {EXTENSION, readCertificateFields, rawExtensionsOf, tbsParts, type CertificateFields, type RawExtension} from '../x509/certificate.js'
import {type RawCertificateNames, readRawNames} from '../x509/raw-names.js'
import {displayBytes, formatIp, nameInDerOrder} from '../x509/text.js'

/**
 * A certificate this tool issues with or signs (pki/issue.ts): the DER, and what is read back from it with the
 * project's own DER readers, so that what is reported is what the certificate says. OpenSSL must already have
 * accepted a certificate that came from a file (pki/parse.ts).
 */
export class Certificate {
  readonly der: Buffer
  readonly pem: string
  /** RDNs in DER order, ', ' between them (what `certs gen` prints). */
  readonly subject: string
  /** The subject Name's DER, for the issuer field of what this certificate signs. */
  readonly subjectDer: Buffer
  readonly spki: Buffer
  /** Lower-case hex of the serial number's content bytes. */
  readonly serialNumber: string
  readonly notBefore: Date
  readonly notAfter: Date
  readonly fields: CertificateFields
  readonly extensions: RawExtension[]
  readonly fingerprint256: string
  private readonly names: RawCertificateNames

  constructor(der: Uint8Array) {
    this.der = Buffer.from(der)
    const {subject, spki, fields} = tbsParts(this.der)
    this.fields = readCertificateFields(this.der)
    this.extensions = rawExtensionsOf(fields)
    this.subjectDer = Buffer.from(subject)
    this.spki = Buffer.from(spki)
    this.names = readRawNames(this.der)
    this.subject = nameInDerOrder(this.names.subject)
    this.serialNumber = Buffer.from(this.fields.serialNumber).toString('hex')
    this.notBefore = this.fields.notBefore
    this.notAfter = this.fields.notAfter
    this.pem = toPem('CERTIFICATE', this.der)
    this.fingerprint256 = derFingerprint256(this.der)
  }

  /** The subjectKeyIdentifier (what an authorityKeyIdentifier of a certificate this one signs names). */
  get keyId(): Buffer | undefined {
    return this.names.subjectKeyId ? Buffer.from(this.names.subjectKeyId) : undefined
  }

  /** subjectAltName entries by type; undefined without the extension. */
  get altNames(): {dnsNames: string[]; ipAddresses: string[]; uris: string[]} | undefined {
    if (!this.extensions.some((e) => e.oid === EXTENSION.subjectAltName)) return undefined
    const names = this.names.subjectAltNames
    const of = (type: 'dns' | 'uri') => names.flatMap((n) => (n.type === type ? [displayBytes(n.value)] : []))
    return {dnsNames: of('dns'), ipAddresses: names.flatMap((n) => (n.type === 'ip' ? [formatIp(n.value)] : [])), uris: of('uri')}
  }
}
