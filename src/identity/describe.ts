import {inputError} from '../errors.js'
import {derFingerprint256} from '../pki/fingerprint.js'
import {keyTypeOf, readCertificateFields} from '../x509/certificate.js'
import {DerError} from '../x509/der.js'
import {type RawGeneralName, type RawName, firstCommonName, OID, readRawNames} from '../x509/raw-names.js'
import {displayBytes, formatIp, rfc4514} from '../x509/text.js'

const DAY_MS = 86_400_000
const EKU_NAMES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
  '2.5.29.37.0': 'anyExtendedKeyUsage',
}

/** What a certificate says about who holds it: everything `whoami` shows, plus the raw name bytes. */
export interface CertificateIdentity {
  subject: string
  issuer: string
  serialNumber: string
  /** The first CN (the one Valkey uses), for display; null without a CN. */
  commonName: string | null
  /** Every CN in DER order, for display (a warning when there are several). */
  commonNames: string[]
  uris: string[]
  emails: string[]
  dnsNames: string[]
  ipAddresses: string[]
  notBefore: string
  notAfter: string
  daysLeft: number
  fingerprint256: string
  keyType: string
  /** Extended key usages by name (OID when unnamed); null when the certificate has no EKU extension. */
  extendedKeyUsages: string[] | null
  /** Key usages by name; null when the certificate has no keyUsage extension. */
  keyUsages: string[] | null
  /**
   * Raw bytes the server compares: the first CN and the URI SANs in order; with the whole subject and
   * subjectAltName as read, for the what-if mappings (identity/what-if.ts).
   */
  raw: {commonName: Uint8Array | undefined; uris: Uint8Array[]; netscapeSslClient: boolean | undefined; subject: RawName; subjectAltNames: RawGeneralName[]}
}

const KEY_USAGE_NAMES = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly']

/**
 * A certificate's DER: Node's X509Certificate (`raw`, what whoami parses with), pki/certificate.ts's (`der`),
 * @peculiar/x509's (`rawData`, what the tests make odd certificates with), or the bytes themselves. Everything is read from the DER (x509/), not from the object's parsed fields.
 */
export type CertificateDer = Uint8Array | {readonly raw: Uint8Array} | {readonly der: Uint8Array} | {readonly rawData: ArrayBuffer}

export function describeCertificate(cert: CertificateDer, what: string, now = new Date()): CertificateIdentity {
  try {
    return describe(cert instanceof Uint8Array ? cert : 'raw' in cert ? new Uint8Array(cert.raw) : 'der' in cert ? new Uint8Array(cert.der) : new Uint8Array(cert.rawData), now)
  } catch (error) {
    const detail = error instanceof DerError ? error.message : (error as Error)?.message ?? String(error)
    throw inputError(`${what}: malformed certificate (${detail})`, error)
  }
}

function describe(der: Uint8Array, now: Date): CertificateIdentity {
  const raw = readRawNames(der)
  const fields = readCertificateFields(der)
  const firstCn = firstCommonName(raw.subject)
  const sans = raw.subjectAltNames
  const uriBytes = sans.filter((s) => s.type === 'uri').map((s) => (s as {value: Uint8Array}).value)
  const {extendedKeyUsage, keyUsage} = fields
  return {
    subject: rfc4514(raw.subject),
    issuer: rfc4514(raw.issuer),
    serialNumber: serialHex(fields.serialNumber),
    commonName: firstCn === undefined ? null : displayBytes(firstCn),
    commonNames: raw.subject.flat().filter((a) => a.oid === OID.commonName).map((a) => displayBytes(a.value)),
    uris: uriBytes.map((b) => displayBytes(b)),
    emails: sanValues(sans, 'email'),
    dnsNames: sanValues(sans, 'dns'),
    ipAddresses: sans.filter((s) => s.type === 'ip').map((s) => formatIp((s as {value: Uint8Array}).value)),
    notBefore: fields.notBefore.toISOString(),
    notAfter: fields.notAfter.toISOString(),
    daysLeft: Math.floor((fields.notAfter.getTime() - now.getTime()) / DAY_MS),
    fingerprint256: derFingerprint256(der),
    keyType: keyTypeOf(fields.spki),
    extendedKeyUsages: extendedKeyUsage ? extendedKeyUsage.map((oid) => EKU_NAMES[oid] ?? oid) : null,
    keyUsages: keyUsage === undefined ? null : KEY_USAGE_NAMES.filter((_, bit) => (keyUsage & (1 << bit)) !== 0),
    raw: {
      commonName: firstCn, uris: uriBytes, netscapeSslClient: raw.netscapeCertType === undefined ? undefined : (raw.netscapeCertType & 0x80) !== 0,
      subject: raw.subject, subjectAltNames: sans,
    },
  }
}

function sanValues(sans: RawGeneralName[], type: 'email' | 'dns'): string[] {
  return sans.filter((s) => s.type === type).map((s) => displayBytes((s as {value: Uint8Array}).value))
}

/** Upper-case hex of the serial's content bytes, without the 00 that only keeps a high first bit positive (openssl's form). */
function serialHex(bytes: Uint8Array): string {
  const shown = bytes.length > 1 && bytes[0] === 0 && bytes[1]! > 0x7f ? bytes.subarray(1) : bytes
  return Buffer.from(shown).toString('hex').toUpperCase()
}

/** Whether the certificate is within its validity period at `now`. */
export function validityProblem(identity: CertificateIdentity, now = new Date()): 'expired' | 'not-yet-valid' | undefined {
  if (now.getTime() > Date.parse(identity.notAfter)) return 'expired'
  if (now.getTime() < Date.parse(identity.notBefore)) return 'not-yet-valid'
  return undefined
}

export const DAY = DAY_MS
