import * as Flags from '@oclif/core/flags'

import {usageError} from '../errors.js'
import {parseValkeyUri, type ValkeyUri} from './uri.js'

/**
 * Connection flags shared by every command that talks to a server, named as in valkey-cli.
 * There is deliberately no password flag: a password on the command line ends up in `ps` and
 * shell history. It comes from --password-command (run for every connection), VALKEY_TLS_PASSWORD
 * (or VALKEYCLI_AUTH / REDISCLI_AUTH), or --askpass; a password inside --uri is accepted, with a warning.
 */
export const connectionFlags = {
  tls: Flags.boolean({summary: 'Accepted for valkey-cli compatibility and ignored: valkey-tls always uses TLS.', helpGroup: 'CONNECTION'}),
  uri: Flags.custom<ValkeyUri>({
    char: 'u',
    summary: 'Server as valkeys://[[USER:]PASSWORD@]HOST[:PORT][/DB] (or rediss://), read as valkey-cli reads -u; instead of --host, --port and --user.',
    description: 'As in valkey-cli, a lone value before "@" is the default user\'s password (valkeys://SECRET@host); a user whose password comes from elsewhere is written valkeys://USER:@host. User and password are percent-decoded; an IPv6 address goes in brackets; the DB number is accepted and unused. A password here shows in the process list: a warning says so.',
    exclusive: ['host', 'port', 'user'],
    helpGroup: 'CONNECTION',
    async parse(input, command) {
      const uri = parseValkeyUri(input)
      // As valkey-cli warns for -a and -u: one line on stderr (oclif's warn() would wrap it), when the flag is read.
      const warning = uriPasswordWarning(uri)
      if (warning) command.logToStderr(`Warning: ${warning}`)
      return uri
    },
  })(),
  host: Flags.string({char: 'h', summary: 'Server host name or IP address (default 127.0.0.1).', helpGroup: 'CONNECTION'}),
  port: Flags.integer({char: 'p', summary: 'Server TLS port (default 6379).', min: 1, max: 65_535, helpGroup: 'CONNECTION'}),
  user: Flags.string({summary: 'ACL user to AUTH as; the password comes from --password-command, VALKEY_TLS_PASSWORD, VALKEYCLI_AUTH or REDISCLI_AUTH, or --askpass.', helpGroup: 'CONNECTION'}),
  askpass: Flags.boolean({summary: 'Prompt for the password on the terminal (never echoed).', helpGroup: 'CONNECTION'}),
  'password-command': Flags.string({
    summary: 'Command that prints the password (a short-lived token), run again for every connection; default $VALKEY_TLS_PASSWORD_COMMAND.',
    description: 'Run without a shell: words split at white space, \'...\' or "..." keep a word together, nothing else is special (for a pipeline, ask for a shell: sh -c \'...\'). Its standard output, less the final newline, is the password; it must finish within --timeout. It is run once for each connection that sends AUTH, so a token can expire between nodes. A failure (non-zero exit, timeout, no output) fails that connection as a credential failure (exit 7), naming the exit status and the first line of its standard error; the password is never shown.',
    exclusive: ['askpass'],
    helpGroup: 'CONNECTION',
  }),
  cacert: Flags.string({summary: 'CA bundle (PEM) that verifies the server certificate.', helpGroup: 'CONNECTION'}),
  cacertdir: Flags.string({summary: 'Folder of CA certificates laid out by `openssl rehash` (HASH.0 names), as valkey-cli\'s --cacertdir; with --cacert, both are trusted.', helpGroup: 'CONNECTION'}),
  cert: Flags.string({summary: 'Client certificate (PEM) to present, when the server asks for one.', dependsOn: ['key'], helpGroup: 'CONNECTION'}),
  key: Flags.string({summary: 'Private key (PEM) of --cert.', dependsOn: ['cert'], helpGroup: 'CONNECTION'}),
  sni: Flags.string({summary: 'Server name to send (SNI) and to match the server certificate against.', helpGroup: 'CONNECTION'}),
  insecure: Flags.boolean({summary: 'Do not verify the server certificate.', helpGroup: 'CONNECTION'}),
  'tls-ciphers': Flags.string({summary: 'TLS 1.2 ciphers to offer, OpenSSL\'s list syntax separated by ":" (see `openssl ciphers`); TLS 1.3 keeps its default.', helpGroup: 'CONNECTION'}),
  'tls-ciphersuites': Flags.string({summary: 'TLS 1.3 suites to offer, separated by ":" (TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256, ...); TLS 1.2 keeps its default.', helpGroup: 'CONNECTION'}),
  timeout: Flags.custom<number>({
    summary: 'Seconds to wait for the TLS handshake, for each reply, and for --password-command.',
    default: 5,
    helpGroup: 'CONNECTION',
    async parse(input) {
      const seconds = Number(input)
      if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) throw usageError(`--timeout must be a number of seconds between 0 and 3600, not "${input}"`)
      return seconds
    },
  })(),
}

/** The warning a password inside --uri earns (as valkey-cli warns for -a and -u); undefined when there is none. */
export function uriPasswordWarning(uri: ValkeyUri | undefined): string | undefined {
  if (uri?.password === undefined) return undefined
  const lone = uri.user === undefined ? ' (as in valkey-cli, valkeys://SECRET@host is the default user\'s password; for a user write valkeys://USER:@host)' : ''
  return `the password in --uri shows in the process list and shell history: prefer --password-command or VALKEY_TLS_PASSWORD${lone}`
}

/** Whether any flag naming a server was given (commands that also work offline use this). */
export const wantsServer = (flags: {host?: string; port?: number; uri?: ValkeyUri}): boolean => flags.host !== undefined || flags.port !== undefined || flags.uri !== undefined
