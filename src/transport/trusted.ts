import {derFingerprint256} from '../pki/fingerprint.js'
import {splitPem} from '../pki/pem.js'
import {readRawNames} from '../x509/raw-names.js'
import {rfc4514} from '../x509/text.js'

/** What `check` reports of a certificate's names: RFC 4514 subject and issuer (read from the DER as `whoami` does), key identifiers. */
export interface CertificateNames {
  subject: string
  issuer: string
  /** Hex with colons, as OpenSSL prints it. */
  authorityKeyId: string | null
  subjectKeyId: string | null
}

/** A CA of a trust bundle (--cacert, --cacertdir), read once a run. */
export interface TrustedCa {
  raw: Buffer
  fingerprint256: string
  names: CertificateNames
}

const HEX = Array.from({length: 256}, (_, i) => i.toString(16).toUpperCase().padStart(2, '0'))
const keyId = (id: Uint8Array | undefined) => (id ? Array.from(id, (b) => HEX[b]).join(':') : null)

/** Subject, issuer and key identifiers of a DER certificate; undefined when it cannot be read. */
export function readNames(der: Uint8Array | undefined): CertificateNames | undefined {
  if (!der) return undefined
  try {
    const raw = readRawNames(der)
    return {subject: rfc4514(raw.subject), issuer: rfc4514(raw.issuer), authorityKeyId: keyId(raw.authorityKeyId), subjectKeyId: keyId(raw.subjectKeyId)}
  } catch {
    return undefined
  }
}

/** The same bundle Buffer comes with every handshake of a run: read once, its CAs by subject. */
const bundles = new WeakMap<Buffer, Map<string, TrustedCa[]>>()

function bySubject(bundle: Buffer): Map<string, TrustedCa[]> {
  let index = bundles.get(bundle)
  if (index) return index
  index = new Map()
  try {
    for (const block of splitPem(bundle.toString('latin1'), 'CA')) {
      const names = block.label === 'CERTIFICATE' ? readNames(block.der) : undefined
      if (!names) continue
      const ca = {raw: Buffer.from(block.der), fingerprint256: derFingerprint256(block.der), names}
      index.set(names.subject, [...(index.get(names.subject) ?? []), ca])
    }
  } catch {
    index.clear() // a bundle this reader cannot split: every chain is then read from Node
  }
  bundles.set(bundle, index)
  return index
}

/**
 * The trusted CA that a chain OpenSSL verified ends in, found from the leaf's names in the bundle it was verified
 * with: issuer by issuer, each the one CA of that name whose subjectKeyIdentifier matches the authorityKeyIdentifier
 * (OpenSSL looks in its trust store first), up to a self-signed root. `null` when the leaf is that root itself.
 * Undefined whenever that is not certain: an issuer not in the bundle (an intermediate only the server sends), two
 * that match (the same name, no key identifiers to tell them apart), a bundle it cannot read. The caller then reads
 * the chain Node built instead.
 */
export function trustedRoot(leaf: CertificateNames, bundle: Buffer | undefined): TrustedCa | null | undefined {
  if (!bundle) return undefined
  if (selfSigned(leaf)) return null
  const index = bySubject(bundle)
  const seen = new Set<string>()
  for (let current = leaf; seen.size < 10;) {
    const issuers = (index.get(current.issuer) ?? []).filter((ca) => !current.authorityKeyId || !ca.names.subjectKeyId || ca.names.subjectKeyId === current.authorityKeyId)
    if (issuers.length !== 1 || seen.has(issuers[0]!.fingerprint256)) return undefined
    const [issuer] = issuers as [TrustedCa]
    if (selfSigned(issuer.names)) return issuer
    seen.add(issuer.fingerprint256)
    current = issuer.names
  }
  return undefined
}

/** Its own issuer, as OpenSSL tells (X509_check_issued): the same name, and no key identifier saying another key. */
const selfSigned = (c: CertificateNames) => c.subject === c.issuer && (!c.authorityKeyId || !c.subjectKeyId || c.authorityKeyId === c.subjectKeyId)
