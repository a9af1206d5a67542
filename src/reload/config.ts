import {parseInfo} from '../server/facts.js'

/** The settings naming TLS files: a CONFIG SET of them re-reads every TLS file (no RELOAD command exists). */
export const TLS_FILE_SETTINGS = [
  'tls-cert-file', 'tls-key-file', 'tls-ca-cert-file', 'tls-ca-cert-dir',
  'tls-client-cert-file', 'tls-client-key-file', 'tls-dh-params-file',
] as const

export type TlsFileSetting = (typeof TLS_FILE_SETTINGS)[number]

export interface NodeTlsConfig {
  /** The file settings that are set (empty ones are left out). */
  files: Partial<Record<TlsFileSetting, string>>
  /** Passphrases of the keys: used to open them, never shown. */
  keyPassphrase?: string
  clientKeyPassphrase?: string
  tlsCluster: boolean
  /** tls-replication yes: the node presents its certificate as a client to its primary. */
  tlsReplication: boolean
  /** tls-auth-clients: whether the node asks clients for a certificate. */
  authClients: 'yes' | 'no' | 'optional'
  /** The server's working folder (CONFIG GET dir): relative file paths are the server's, resolved against it. */
  dir?: string
  /** INFO server run_id: one server however it is reached. */
  runId?: string
  /** Seconds between the server's own reloads (Valkey 9.1+); 0 = off; null = the server has no such setting. */
  autoReloadInterval: number | null
  /** What the server says it loaded (INFO tls, Valkey 9.1+): serials, upper-case hex. */
  loaded: {clientCertSerial?: string; caCertSerial?: string}
}

/** From `CONFIG GET tls-* dir` (a flat name/value list) and `INFO server tls` (no tls section on servers without it). */
export function parseTlsConfig(configReply: unknown, infoTls: string): NodeTlsConfig {
  const values = new Map<string, string>()
  if (Array.isArray(configReply)) {
    for (let i = 0; i + 1 < configReply.length; i += 2) values.set(String(configReply[i]), String(configReply[i + 1] ?? ''))
  }
  const files: NodeTlsConfig['files'] = {}
  for (const name of TLS_FILE_SETTINGS) {
    const value = values.get(name)
    if (value) files[name] = value
  }
  const interval = values.get('tls-auto-reload-interval')
  const info = parseInfo(infoTls)
  return {
    files,
    keyPassphrase: values.get('tls-key-file-pass') || undefined,
    clientKeyPassphrase: values.get('tls-client-key-file-pass') || undefined,
    tlsCluster: values.get('tls-cluster') === 'yes',
    tlsReplication: values.get('tls-replication') === 'yes',
    authClients: values.get('tls-auth-clients') === 'no' ? 'no' : values.get('tls-auth-clients') === 'optional' ? 'optional' : 'yes',
    dir: values.get('dir') || undefined,
    runId: info.run_id || undefined,
    autoReloadInterval: interval === undefined || !/^\d+$/.test(interval) ? null : Number(interval),
    loaded: {clientCertSerial: normalizeSerial(info.tls_client_cert_serial), caCertSerial: normalizeSerial(info.tls_ca_cert_serial)},
  }
}

/** Serial numbers compared as upper-case hex without leading zeros (OpenSSL and Node pad differently). */
export function normalizeSerial(serial: string | undefined): string | undefined {
  if (!serial || serial === 'none') return undefined // Valkey prints "none" when there is no such certificate
  return serial.replace(/:/g, '').toUpperCase().replace(/^0+(?=.)/, '')
}
