import {ValkeyTlsError} from '../errors.js'
import {displayText} from '../x509/text.js'

/**
 * The one vocabulary for what went wrong talking to a server: every TLS, socket and server error
 * becomes a short cause (a table cell, a metric's reason label), what to do about it, and the exit-code
 * kind (auth for credentials and client certificates, server for the rest).
 */
export interface Failure {
  kind: 'server' | 'auth'
  /** Machine-readable: refused, timeout, plaintext, untrusted, expired, not-yet-valid, name-mismatch, cert-required, cert-rejected, wrong-password, noauth, noperm, closed, ... */
  reason: string
  /** Short, lower-case, no address: "connection refused". */
  cause: string
  /** What to do, when there is something to do. */
  fix?: string
}

/** A failure to talk to `at`, as a typed error whose message is one line: "<at>: <cause>; <fix>". */
export class TransportError extends ValkeyTlsError {
  constructor(readonly at: string, readonly failure: Failure, options?: {cause?: unknown; reply?: string}) {
    super(failure.kind, `${at}: ${describe(failure)}`, options)
    this.reply = options?.reply
  }

  /** The server's error reply, when it answered with one (as opposed to no answer at all). */
  readonly reply: string | undefined
}

/** A password supplier could not give a password (the password command failed): a credential failure, exit 7. */
export class PasswordError extends ValkeyTlsError {
  constructor(readonly failure: Failure) {
    super(failure.kind, describe(failure))
  }
}

export const describe = (f: Failure): string => (f.fix ? `${f.cause}; ${f.fix}` : f.cause)

const CERT_REQUIRED: Failure = {kind: 'auth', reason: 'cert-required', cause: 'the server requires a client certificate', fix: 'pass --cert and --key'}

/** OpenSSL's alert name ("certificate required", "unknown ca") from an error message, if it is one. */
export function tlsAlert(message: string): string | undefined {
  return /alert ([a-z ]+?)(?::|$)/.exec(message)?.[1]
}

/** The first line of an error (OpenSSL appends a multi-line trace). */
const firstLine = (error: Error) => String(error.message ?? error).split('\n')[0]!

/**
 * A socket or TLS error. `tcpConnected`: the TCP connection was up (so a reset is the TLS layer's);
 * `afterHandshake`: the handshake had completed (a hang-up then is how a node refuses a client without a
 * certificate, since its alert and its close race); `withCert`: we presented a client certificate;
 * `ciphers`: --tls-ciphers or --tls-ciphersuites narrowed what we offer.
 */
export function socketFailure(error: Error & {code?: string}, ctx: {tcpConnected: boolean; afterHandshake?: boolean; withCert: boolean; ciphers?: boolean}): Failure {
  const code = error.code ?? ''
  switch (code) {
    case 'ECONNREFUSED': return {kind: 'server', reason: 'refused', cause: 'connection refused'}
    case 'EHOSTUNREACH':
    case 'ENETUNREACH': return {kind: 'server', reason: 'unreachable', cause: 'host unreachable'}
    case 'ENOTFOUND':
    case 'EAI_AGAIN': return {kind: 'server', reason: 'dns', cause: 'cannot resolve host'}
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_PACKET_LENGTH_TOO_LONG': return {kind: 'server', reason: 'not-tls', cause: 'not a TLS port'}
    case 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED': return CERT_REQUIRED
  }
  const alert = tlsAlert(error.message ?? '')
  // A server finding no cipher in common answers "handshake failure", the alert a missing certificate also gets.
  if (alert === 'handshake failure' && ctx.ciphers && !ctx.afterHandshake) {
    return {kind: 'server', reason: 'no-shared-cipher', cause: 'TLS alert: handshake failure', fix: 'does the server accept a cipher of --tls-ciphers / --tls-ciphersuites? (or does it require a client certificate?)'}
  }
  if (alert === 'certificate required' || (alert === 'handshake failure' && !ctx.withCert)) return CERT_REQUIRED
  if (alert) {
    return ctx.withCert
      ? {kind: 'auth', reason: 'cert-rejected', cause: `the server rejected our client certificate (TLS alert: ${alert})`, fix: 'check --cert against the server\'s CA'}
      : {kind: 'server', reason: 'alert', cause: `TLS alert: ${alert}`}
  }
  const reset = code === 'ECONNRESET' || code === 'EPIPE' || code === 'CLOSED' || /socket disconnected|socket hang up/i.test(error.message ?? '')
  if (reset && ctx.afterHandshake && !ctx.withCert) return {...CERT_REQUIRED, cause: 'the server closed the connection after the TLS handshake: it requires a client certificate'}
  if (reset && ctx.afterHandshake) return {kind: 'server', reason: 'closed', cause: 'the server closed the connection'}
  if (reset) return {kind: 'server', reason: 'reset', cause: ctx.tcpConnected ? 'connection reset during the TLS handshake' : 'connection reset'}
  return {kind: 'server', reason: 'error', cause: firstLine(error)}
}

/** No answer within the bound: before TCP, before the handshake completed, or to a command. */
export function timeoutFailure(stage: 'tcp' | 'handshake' | 'reply', seconds: number, command?: string): Failure {
  const cause = stage === 'tcp' ? `no TCP connection within ${seconds} s` : stage === 'handshake' ? `TCP connected, but no TLS handshake within ${seconds} s` : `no reply to ${command ?? 'the command'} within ${seconds} s`
  return {kind: 'server', reason: 'timeout', cause, fix: stage === 'reply' ? 'node stopped or overloaded?' : undefined}
}

export const PLAINTEXT: Failure = {kind: 'server', reason: 'plaintext', cause: 'this port speaks plaintext RESP, not TLS'}

/** Why the server certificate did not verify (Node's code for OpenSSL's verification error, or the name check). */
export function verifyFailure(code: string, cert: {notBefore: string; notAfter: string; issuer: string} | null, name?: string): Failure {
  switch (code) {
    case 'CERT_HAS_EXPIRED': return {kind: 'server', reason: 'expired', cause: `certificate expired on ${cert?.notAfter ?? '?'}`}
    case 'CERT_NOT_YET_VALID': return {kind: 'server', reason: 'not-yet-valid', cause: `certificate not valid before ${cert?.notBefore ?? '?'}`}
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return {kind: 'server', reason: 'name-mismatch', cause: `certificate does not match ${name ? `"${name}"` : 'the host name or IP address'} (ERR_TLS_CERT_ALTNAME_INVALID)`, fix: 'use --sni with a name it lists'}
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'CERT_SIGNATURE_FAILURE':
      return {kind: 'server', reason: 'untrusted', cause: `certificate not trusted by --cacert (${code}): issued by ${cert?.issuer ?? '?'}`, fix: 'pass its CA with --cacert'}
    default: return {kind: 'server', reason: 'unverified', cause: `certificate not verified (${code})`}
  }
}

/** An error reply of the server to `command` (printed with control characters escaped: a hostile server cannot drive the terminal). */
export function replyFailure(raw: string, ctx: {command: string; user?: string}): Failure {
  const reply = displayText(raw)
  const code = reply.split(' ')[0]
  switch (code) {
    case 'WRONGPASS': return {kind: 'auth', reason: 'wrong-password', cause: 'wrong user name or password (WRONGPASS)'}
    case 'NOAUTH': return {kind: 'auth', reason: 'noauth', cause: 'the server requires a password (NOAUTH)', fix: 'set VALKEY_TLS_PASSWORD or use --askpass'}
    case 'NOPERM': return {kind: 'auth', reason: 'noperm', cause: `${ctx.user === undefined ? 'this connection\'s user' : `user "${displayText(ctx.user)}"`} may not run ${ctx.command} (NOPERM)`}
    default: return {kind: 'server', reason: 'reply', cause: `${ctx.command}: ${reply}`}
  }
}

/** "CONFIG GET", "ACL WHOAMI", "PING": the command as messages name it. */
export function commandName(args: ReadonlyArray<string | Buffer>): string {
  const [name, sub] = args.map(String)
  return /^(ACL|CONFIG|CLUSTER|CLIENT)$/i.test(name ?? '') && sub ? `${name} ${sub}`.toUpperCase() : String(name).toUpperCase()
}
