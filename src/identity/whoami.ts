import {usageError} from '../errors.js'
import {readInputFile} from '../fsutil/read.js'
import {toPem} from '../pki/pem.js'
import {parseNodeCertificates} from '../pki/read-certificates.js'
import type {ConnectOptions} from '../transport/options.js'
import {type CertificateIdentity, describeCertificate} from './describe.js'
import {checkKeyMatches} from './key-match.js'
import {type Attempt, candidates, certificateProblems, type MappingMode, type Prediction, predictOffline, predictOnline, type ReasonCode} from './predict.js'
import {displayBytes} from '../x509/text.js'
import type {TrustPrediction} from './trust.js'
import {isWhatIfMode, predictWhatIf, type WhatIf, whatIfCandidates, type WhatIfMode} from './what-if.js'

export interface WhoamiOptions {
  certPath: string
  /** Offline only: which mapping mode to predict for (default CN), or a what-if mapping Valkey does not have. */
  mode?: MappingMode | WhatIfMode
  /** The server to predict for, with a prompt for a password it asks for (NOAUTH) when there is a terminal. */
  server?: {connection: ConnectOptions; askPassword?: (address: string) => Promise<string>}
  /** Private key of the certificate: connect with it and ask the server (needs `server`). */
  verifyKeyPath?: string
  now?: Date
}

export interface WhoamiResult extends Omit<CertificateIdentity, 'raw'> {
  file: string
  problems: {code: string; message: string; mode?: MappingMode}[]
  /** What each mapping mode would try, in order. */
  candidates: {CN: string | null; URI: string[]}
  /** What mappings Valkey does not have would use (NATS-style e-mail and subject DN, O, DNS SANs): not Valkey behaviour. */
  whatIf: WhatIf
  server: null | {address: string; version: string; tlsAuthClients: string; tlsAuthClientsUser: string | null}
  /** Against a server: whether its CAs accept the certificate (rehearsed here when its CA files and the key are at hand). */
  trust: TrustPrediction | null
  mode: Prediction['mode']
  user: string | null
  reasonCode: ReasonCode
  reason: string
  attempts: Attempt[]
  warnings: string[]
  /** With --verify-key: the user the server reported (ACL WHOAMI). */
  observedUser?: string | null
  observedAuthenticated?: boolean
  observedError?: string
  /** With --verify-key: prediction and observation agree. */
  match?: boolean
}

/** Loads the certificate (the first of a bundle is the leaf) and describes it. */
export async function loadIdentity(path: string, now: Date): Promise<{identity: CertificateIdentity; chainPem: Buffer}> {
  const certificates = parseNodeCertificates(await readInputFile(path, 'certificate'), path)
  const identity = describeCertificate(certificates[0]!, path, now)
  const chainPem = Buffer.from(certificates.map((c) => toPem('CERTIFICATE', c.raw)).join(''))
  return {identity, chainPem}
}

export async function whoami(options: WhoamiOptions): Promise<WhoamiResult> {
  const now = options.now ?? new Date()
  if (options.server && options.mode) throw modeWithServerError(options.mode)
  if (options.verifyKeyPath && !options.server) throw usageError('--verify-key needs a server to connect to (--host/--port)')
  const {identity, chainPem} = await loadIdentity(options.certPath, now)
  const verifyKey = options.verifyKeyPath === undefined ? undefined : await readInputFile(options.verifyKeyPath, '--verify-key')
  if (verifyKey) checkKeyMatches(chainPem, verifyKey, options.verifyKeyPath!)

  const {raw, ...shown} = identity
  const base = {
    file: options.certPath,
    ...shown,
    problems: certificateProblems(identity, now).map(({code, message, mode}) => ({code, message, ...(mode ? {mode} : {})})),
    candidates: {CN: raw.commonName === undefined ? null : displayBytes(raw.commonName), URI: candidates(identity, 'URI').names.map((n) => displayBytes(n))},
    whatIf: whatIfCandidates(identity),
  }
  if (!options.server) {
    const mode = options.mode ?? 'CN'
    const prediction = isWhatIfMode(mode) ? predictWhatIf(identity, mode, now) : predictOffline(identity, mode, now)
    return {...base, server: null, trust: null, ...predictionFields(prediction)}
  }

  // Loaded only for a server (sessions, TLS, OpenSSL rehearsals): offline whoami starts without them.
  const [{observeUser}, {readServerFacts}, {openAuthenticated}, {predictTrust}] = await Promise.all([
    import('./observe.js'), import('../server/facts.js'), import('../server/options.js'), import('./trust.js'),
  ])
  const {session: connection, options: connectOptions} = await openAuthenticated(options.server.connection, options.server.askPassword)
  let prediction: Prediction
  let server: WhoamiResult['server']
  let trust: TrustPrediction
  try {
    const facts = await readServerFacts(connection, (mode) => candidates(identity, mode).names)
    prediction = predictOnline(identity, facts, now)
    server = {address: connection.address, version: facts.server, tlsAuthClients: facts.authClients, tlsAuthClientsUser: facts.mapping ?? null}
    trust = await predictTrust(connection, connectOptions, chainPem, verifyKey, facts.authClients)
  } finally {
    connection.close()
  }
  if (trust.accepted === false && prediction.user !== null) {
    prediction = {...prediction, user: null, userBytes: null, reasonCode: 'untrusted', reason: `the server's CA files refuse the certificate (rehearsed here): ${trust.reason}`, attempts: []}
  }
  const result: WhoamiResult = {...base, server, trust, ...predictionFields(prediction)}
  if (verifyKey) {
    const observed = await observeUser(connectOptions, chainPem, verifyKey)
    result.observedUser = observed.user
    result.observedAuthenticated = observed.authenticated
    if (observed.error) result.observedError = observed.error
    result.match = sameBytes(prediction.userBytes, observed.userBytes)
  }
  return result
}

/** `--mode` with a server: the server's own tls-auth-clients-user decides, and it knows only CN and URI. */
export function modeWithServerError(mode: MappingMode | WhatIfMode) {
  if (!isWhatIfMode(mode)) return usageError('--mode is for offline use: against a server, its tls-auth-clients-user decides')
  return usageError(`--mode ${mode} is offline only: it is a what-if mapping Valkey does not have, and a server maps only by its tls-auth-clients-user (CN or URI); leave out --host, --port and --uri`)
}

function predictionFields(p: Prediction) {
  return {mode: p.mode, user: p.user, reasonCode: p.reasonCode, reason: p.reason, attempts: p.attempts, warnings: p.warnings}
}

function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b
  return Buffer.from(a).equals(Buffer.from(b))
}

