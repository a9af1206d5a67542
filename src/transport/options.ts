/** Where a server is. */
export interface Endpoint {
  host: string
  port: number
}

/** What our side of a TLS connection uses. */
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
  /** Node's `ciphers`: the TLS 1.2 cipher list and the TLS 1.3 suites (`TLS_*`) in one string (default: Node's). */
  ciphers?: string
}

/**
 * Where AUTH's password comes from: called once for every connection that sends AUTH, so that a
 * command can hand out a fresh short-lived token each time (--password-command); a fixed password
 * (environment, prompt, --uri) answers the same every time. Throws a PasswordError when it cannot.
 */
export type PasswordSupplier = () => Promise<string>

export const fixedPassword = (value: string): PasswordSupplier => async () => value

/**
 * The one shape connection flags are resolved into, once, in the command layer: where, with what TLS
 * material, for whom, and how long each step may take. Everything below takes this (and an Endpoint
 * when it talks to another node with the same material).
 */
export interface ConnectOptions extends Endpoint {
  tls: TlsMaterial
  /** Bounds the TCP connect + TLS handshake, and separately every reply. */
  timeoutMs: number
  user?: string
  /** No supplier: no AUTH is sent. */
  password?: PasswordSupplier
}

export const formatAddress = ({host, port}: Endpoint): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`)

/** `AUTH [user] password`: the one-argument form for the default user, as valkey-cli sends it. */
export const authCommand = (user: string | undefined, password: string): string[] => (user ? ['AUTH', user, password] : ['AUTH', password])

/** A step's bound: `timeoutMs`, cut to what is left before `deadline` (epoch ms), at least 1 ms. */
export const boundBy = (timeoutMs: number, deadline: number | undefined): number => Math.max(1, Math.min(timeoutMs, (deadline ?? Infinity) - Date.now()))
