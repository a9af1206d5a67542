import {rehearsePresenting} from '../pki/rehearse.js'
import {parseTlsConfig} from '../reload/config.js'
import {isThisMachine} from '../reload/local.js'
import {readLocalMaterial} from '../reload/material.js'
import type {ConnectOptions} from '../transport/options.js'
import type {Session} from '../transport/session.js'

/** Whether the server's own CAs accept the certificate as a client certificate, rehearsed here. */
export interface TrustPrediction {
  checked: boolean
  /** null when not checked. */
  accepted: boolean | null
  /** OpenSSL's reason when refused; why it was not checked otherwise. */
  reason: string | null
}

/**
 * Rehearses, with OpenSSL in-process, the handshake the server will make with the certificate: presented
 * to a server verifying clients with the server's own tls-ca-cert-file and tls-ca-cert-dir (OpenSSL's
 * client purpose check, every certificate's dates, no partial chains). That needs the CA files, read
 * where this tool runs (so only for a server on this machine), and the certificate's key (to sign the
 * handshake): otherwise it says why trust was not checked.
 */
export async function predictTrust(connection: Session, options: ConnectOptions, chainPem: Buffer, key: Buffer | undefined, authClients: string): Promise<TrustPrediction> {
  const notChecked = (reason: string): TrustPrediction => ({checked: false, accepted: null, reason})
  if (authClients === 'no') return notChecked('tls-auth-clients is "no": the server never asks for a certificate')
  if (!(await isThisMachine(options.host, options.timeoutMs))) return notChecked('the server is not on this machine, so its CA files cannot be read here: trust not checked')
  const reply: unknown[] = []
  for (const name of ['tls-ca-cert-file', 'tls-ca-cert-dir', 'dir']) {
    const value = await connection.call('CONFIG', 'GET', name)
    if (Array.isArray(value)) reply.push(...value)
  }
  const config = parseTlsConfig(reply, '')
  const material = await readLocalMaterial(config)
  if (!material.caBundle) return notChecked(`the server's CA files cannot be read here${material.problems[0] ? ` (${material.problems[0].message})` : ''}: trust not checked`)
  if (!key) return notChecked('trust not checked: give the certificate\'s private key (--verify-key) to rehearse the handshake')
  const identity = {cert: chainPem, key}
  const reason = await rehearsePresenting(identity, material.caBundle, identity)
  return {checked: true, accepted: reason === null, reason}
}
