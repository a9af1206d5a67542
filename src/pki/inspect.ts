import {readInputFile} from '../fsutil/read.js'
import {type CertificateIdentity, describeCertificate} from '../identity/describe.js'
import {candidates, certificateProblems} from '../identity/predict.js'
import {displayBytes} from '../x509/text.js'
import {parseCertificates} from './parse.js'
import {EXTENSION} from '../x509/certificate.js'

/** `certs inspect`: whoami's offline identity of any certificate, plus what a CA or server certificate adds. */
export interface InspectResult extends Omit<CertificateIdentity, 'raw'> {
  file: string
  /** Certificates in the file; the first is the one described. */
  certificates: number
  /** null when the certificate has no basicConstraints extension. */
  basicConstraints: {ca: boolean; pathLength: number | null; critical: boolean} | null
  selfIssued: boolean
  /** What each tls-auth-clients-user mode would try, as whoami says offline. */
  candidates: {CN: string | null; URI: string[]}
  /** What would go wrong were it presented as a client certificate. */
  problems: {code: string; message: string; mode?: 'CN' | 'URI'}[]
}

export async function inspectCertificate(path: string, now = new Date()): Promise<InspectResult> {
  const certificates = parseCertificates(await readInputFile(path, 'certificate'), path)
  const cert = certificates[0]!
  const {raw, ...identity} = describeCertificate(cert, path, now)
  const constraints = cert.fields.basicConstraints
  const critical = cert.extensions.find((e) => e.oid === EXTENSION.basicConstraints)?.critical ?? false
  return {
    file: path,
    certificates: certificates.length,
    ...identity,
    basicConstraints: constraints ? {ca: constraints.ca, pathLength: constraints.pathLength ?? null, critical} : null,
    selfIssued: identity.subject === identity.issuer,
    candidates: {CN: raw.commonName === undefined ? null : displayBytes(raw.commonName), URI: candidates({raw, ...identity}, 'URI').names.map((n) => displayBytes(n))},
    problems: certificateProblems({raw, ...identity}, now).map(({code, message, mode}) => ({code, message, ...(mode ? {mode} : {})})),
  }
}
