import {Redis} from 'ioredis'

import {authError, serverError, ValkeyTlsError} from '../errors.js'
import {answersPlaintext, tlsAlert} from '../probe/handshake.js'

export interface TlsMaterial {
  /** CA bundle that verifies the server (default: Node's trusted roots). */
  ca?: Buffer
  /** Our client certificate (chain) and key, when the server asks for one. */
  cert?: Buffer
  key?: Buffer
  /** SNI and the name the server certificate must match (default: the host). */
  servername?: string
  /** Do not verify the server certificate at all. */
  insecure?: boolean
}

export interface Endpoint {
  host: string
  port: number
}

export interface ConnectOptions extends Endpoint {
  tls: TlsMaterial
  /** Applies to the TCP connect + TLS handshake, and separately to every command. */
  timeoutMs: number
  user?: string
  password?: string
}

/** `AUTH [user] password`: the one-argument form for the default user, as valkey-cli sends it. */
export const authCommand = (user: string | undefined, password: string): string[] => (user ? ['AUTH', user, password] : ['AUTH', password])

export const formatAddress = ({host, port}: Endpoint): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`)

/**
 * One TLS connection to one node, through ioredis with everything that could wait forever turned off:
 * no retries, no offline queue, a connect timeout and a timeout on every command. Every failure becomes
 * a one-line ValkeyTlsError naming the cause (ioredis itself only says "Connection is closed").
 */
export class ServerConnection {
  private lastError: Error | undefined

  private constructor(
    private readonly redis: Redis,
    readonly options: ConnectOptions,
  ) {
    redis.on('error', (error: Error) => {
      this.lastError = error
    })
  }

  get address(): string {
    return formatAddress(this.options)
  }

  static async open(options: ConnectOptions): Promise<ServerConnection> {
    const {tls} = options
    const redis = new Redis({
      host: options.host,
      port: options.port,
      lazyConnect: true,
      connectTimeout: options.timeoutMs,
      commandTimeout: options.timeoutMs,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      enableReadyCheck: false,
      autoResubscribe: false,
      retryStrategy: () => null,
      reconnectOnError: () => false,
      tls: {
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        servername: tls.servername,
        rejectUnauthorized: !tls.insecure,
      },
    })
    const connection = new ServerConnection(redis, options)
    try {
      await redis.connect()
    } catch (error) {
      connection.close()
      throw await connection.explain(connection.lastError ?? (error as Error), 'connect')
    }
    if (options.password !== undefined) await connection.call(...authCommand(options.user, options.password))
    return connection
  }

  /** Runs one command; RESP errors and transport failures become ValkeyTlsErrors. */
  async call(...args: Array<string | Buffer>): Promise<unknown> {
    return this.run(() => this.redis.call(args[0] as string, ...args.slice(1)), args)
  }

  /** Like call(), with bulk replies as Buffers (for names compared byte for byte). */
  async callBuffer(...args: Array<string | Buffer>): Promise<unknown> {
    return this.run(() => this.redis.callBuffer(args[0] as string, ...args.slice(1)), args)
  }

  private async run(send: () => Promise<unknown>, args: Array<string | Buffer>): Promise<unknown> {
    try {
      return await send()
    } catch (error) {
      throw await this.explain(error as Error, commandName(args))
    }
  }

  close(): void {
    this.redis.disconnect()
  }

  private async explain(error: Error, step: string): Promise<ValkeyTlsError> {
    if (error instanceof ValkeyTlsError) return error
    const transport = /Connection is closed|Stream isn't writeable/.test(error.message) && this.lastError ? this.lastError : error
    return describeError(transport, this.options, step)
  }
}

function commandName(args: Array<string | Buffer>): string {
  const [name, sub] = args.map(String)
  return /^(ACL|CONFIG|CLUSTER|CLIENT)$/i.test(name ?? '') && sub ? `${name} ${sub}`.toUpperCase() : String(name).toUpperCase()
}

/** Turns a transport or reply error into one line that names the cause and, where there is one, the fix. */
export async function describeError(error: Error & {code?: string}, options: ConnectOptions, step: string): Promise<ValkeyTlsError> {
  const at = formatAddress(options)
  const seconds = `${options.timeoutMs / 1000} s`
  const message = error.message ?? String(error)
  const reply = /^([A-Z]+) /.exec(message)?.[1]
  if (reply === 'WRONGPASS') return authError(`${at}: wrong user name or password (WRONGPASS)`, error)
  if (reply === 'NOAUTH') return authError(`${at}: the server requires a password: set VALKEY_TLS_PASSWORD or use --askpass`, error)
  if (reply === 'NOPERM') return authError(`${at}: user "${options.user ?? 'default'}" may not run ${step} (NOPERM)`, error)
  if (reply) return serverError(`${at}: ${step} failed: ${message}`, error)
  switch (error.code) {
    case 'ECONNREFUSED': return serverError(`${at}: connection refused`, error)
    case 'ENOTFOUND':
    case 'EAI_AGAIN': return serverError(`${at}: cannot resolve host "${options.host}"`, error)
    case 'EHOSTUNREACH':
    case 'ENETUNREACH': return serverError(`${at}: host unreachable`, error)
    case 'ETIMEDOUT': {
      const plaintext = await answersPlaintext(options.host, options.port, Math.min(options.timeoutMs, 1000))
      return serverError(plaintext
        ? `${at}: this port speaks plaintext RESP, not TLS`
        : `${at}: no TLS handshake within ${seconds} (node down, stopped or not a TLS port)`, error)
    }
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return serverError(`${at}: the server certificate does not match "${options.tls.servername ?? options.host}" (${firstSentence(message)}); use --sni with a name it lists`, error)
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'CERT_SIGNATURE_FAILURE':
      return serverError(`${at}: the server certificate is not trusted (${message}); pass its CA with --cacert`, error)
    case 'CERT_HAS_EXPIRED': return serverError(`${at}: the server certificate has expired`, error)
    case 'CERT_NOT_YET_VALID': return serverError(`${at}: the server certificate is not valid yet`, error)
    case 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED':
    case 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE':
      return authError(`${at}: the server requires a client certificate: pass --cert and --key`, error)
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_PACKET_LENGTH_TOO_LONG': return serverError(`${at}: not a TLS port (${message})`, error)
    default:
      if (/ALERT/.test(error.code ?? '') || /alert/.test(message)) {
        const alert = tlsAlert(message) ?? error.code
        return authError(`${at}: the server rejected our client certificate (TLS alert: ${alert})`, error)
      }
      if (/Command timed out/.test(message)) return serverError(`${at}: no reply to ${step} within ${seconds} (node stopped or overloaded?)`, error)
      if (step !== 'connect' && !options.tls.cert && (error.code === 'ECONNRESET' || error.code === 'EPIPE' || /Connection is closed/.test(message))) {
        // The handshake completed, then the server hung up before answering: what a node that demands a
        // client certificate does (its alert and its close race each other).
        return authError(`${at}: the server closed the connection after the TLS handshake: it requires a client certificate (pass --cert and --key)`, error)
      }
      if (error.code === 'ECONNRESET' || /socket disconnected|socket hang up/i.test(message)) {
        const hint = step === 'connect' ? ' (not a TLS port, or our client certificate was rejected)' : ''
        return serverError(`${at}: the server closed the connection during ${step}${hint}`, error)
      }
      return serverError(`${at}: ${step} failed: ${message}`, error)
  }
}

function firstSentence(message: string): string {
  return message.split(':').slice(1).join(':').trim() || message
}
