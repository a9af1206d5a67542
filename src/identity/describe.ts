import {inputError} from '../errors.js'
import {fingerprint256} from '../pki/fingerprint.js'
import {x509} from '../pki/x509.js'
import {DerError} from '../x509/der.js'
import {type RawGeneralName, firstCommonName, OID, readRawNames} from '../x509/raw-names.js'
import {displayBytes, rfc4514} from '../x509/text.js'

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
  /** Raw bytes the server compares: the first CN and the URI SANs in order. */
  raw: {commonName: Uint8Array | undefined; uris: Uint8Array[]; netscapeSslClient: boolean | undefined}
}

const KEY_USAGE_NAMES = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly']

export function describeCertificate(cert: x509.X509Certificate, what: string, now = new Date()): CertificateIdentity {
  try {
    return describe(cert, now)
  } catch (error) {
    const detail = error instanceof DerError ? error.message : (error as Error)?.message ?? String(error)
    throw inputError(`${what}: malformed certificate (${detail})`, error)
  }
}

function describe(cert: x509.X509Certificate, now: Date): CertificateIdentity {
  const raw = readRawNames(new Uint8Array(cert.rawData))
  const firstCn = firstCommonName(raw.subject)
  const sans = raw.subjectAltNames
  const uriBytes = sans.filter((s) => s.type === 'uri').map((s) => (s as {value: Uint8Array}).value)
  const ekuExtension = cert.getExtension(x509.ExtendedKeyUsageExtension)
  const kuExtension = cert.getExtension(x509.KeyUsagesExtension)
  return {
    subject: rfc4514(raw.subject),
    issuer: rfc4514(raw.issuer),
    serialNumber: cert.serialNumber.toUpperCase(),
    commonName: firstCn === undefined ? null : displayBytes(firstCn),
    commonNames: raw.subject.flat().filter((a) => a.oid === OID.commonName).map((a) => displayBytes(a.value)),
    uris: uriBytes.map((b) => displayBytes(b)),
    emails: sanValues(sans, 'email'),
    dnsNames: sanValues(sans, 'dns'),
    ipAddresses: sans.filter((s) => s.type === 'ip').map((s) => formatIp((s as {value: Uint8Array}).value)),
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    daysLeft: Math.floor((cert.notAfter.getTime() - now.getTime()) / DAY_MS),
    fingerprint256: fingerprint256(cert),
    keyType: keyTypeOf(cert.publicKey.algorithm as Algorithm & {namedCurve?: string; modulusLength?: number}),
    extendedKeyUsages: ekuExtension ? ekuExtension.usages.map((u) => EKU_NAMES[String(u)] ?? String(u)) : null,
    keyUsages: kuExtension ? KEY_USAGE_NAMES.filter((_, bit) => (kuExtension.usages & (1 << bit)) !== 0) : null,
    raw: {commonName: firstCn, uris: uriBytes, netscapeSslClient: raw.netscapeCertType === undefined ? undefined : (raw.netscapeCertType & 0x80) !== 0},
  }
}

function sanValues(sans: RawGeneralName[], type: 'email' | 'dns'): string[] {
  return sans.filter((s) => s.type === type).map((s) => displayBytes((s as {value: Uint8Array}).value))
}

function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join('.')
  if (bytes.length === 16) {
    const groups = Array.from({length: 8}, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16))
    return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1)
  }
  return `#${Buffer.from(bytes).toString('hex')}` // address/mask pairs belong in name constraints, not here
}

function keyTypeOf(algorithm: Algorithm & {namedCurve?: string; modulusLength?: number}): string {
  if (algorithm.name === 'ECDSA' || algorithm.name === 'ECDH') return `EC ${algorithm.namedCurve ?? '(unknown curve)'}`
  if (algorithm.name.startsWith('RSA')) return algorithm.modulusLength ? `RSA ${algorithm.modulusLength}` : 'RSA'
  return algorithm.name
}

/** Whether the certificate is within its validity period at `now`. */
export function validityProblem(identity: CertificateIdentity, now = new Date()): 'expired' | 'not-yet-valid' | undefined {
  if (now.getTime() > Date.parse(identity.notAfter)) return 'expired'
  if (now.getTime() < Date.parse(identity.notBefore)) return 'not-yet-valid'
  return undefined
}

export const DAY = DAY_MS
