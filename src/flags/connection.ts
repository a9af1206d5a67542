import * as Flags from '@oclif/core/flags'

import {usageError} from '../errors.js'

/**
 * Connection flags shared by every command that talks to a server, named as in valkey-cli.
 * There is deliberately no password flag: a password on the command line ends up in `ps` and
 * shell history. It comes from VALKEY_TLS_PASSWORD (or VALKEYCLI_AUTH / REDISCLI_AUTH), or --askpass.
 */
export const connectionFlags = {
  host: Flags.string({char: 'h', summary: 'Server host name or IP address (default 127.0.0.1).', helpGroup: 'CONNECTION'}),
  port: Flags.integer({char: 'p', summary: 'Server TLS port (default 6379).', min: 1, max: 65_535, helpGroup: 'CONNECTION'}),
  user: Flags.string({summary: 'ACL user to AUTH as; the password comes from VALKEY_TLS_PASSWORD, VALKEYCLI_AUTH or REDISCLI_AUTH, or --askpass.', helpGroup: 'CONNECTION'}),
  askpass: Flags.boolean({summary: 'Prompt for the password on the terminal (never echoed).', helpGroup: 'CONNECTION'}),
  cacert: Flags.string({summary: 'CA bundle (PEM) that verifies the server certificate.', helpGroup: 'CONNECTION'}),
  cert: Flags.string({summary: 'Client certificate (PEM) to present, when the server asks for one.', dependsOn: ['key'], helpGroup: 'CONNECTION'}),
  key: Flags.string({summary: 'Private key (PEM) of --cert.', dependsOn: ['cert'], helpGroup: 'CONNECTION'}),
  sni: Flags.string({summary: 'Server name to send (SNI) and to match the server certificate against.', helpGroup: 'CONNECTION'}),
  insecure: Flags.boolean({summary: 'Do not verify the server certificate.', helpGroup: 'CONNECTION'}),
  timeout: Flags.custom<number>({
    summary: 'Seconds to wait for the TLS handshake and for each reply.',
    default: 5,
    helpGroup: 'CONNECTION',
    async parse(input) {
      const seconds = Number(input)
      if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) throw usageError(`--timeout must be a number of seconds between 0 and 3600, not "${input}"`)
      return seconds
    },
  })(),
}

/** Whether any flag naming a server was given (commands that also work offline use this). */
export const wantsServer = (flags: {host?: string; port?: number}): boolean => flags.host !== undefined || flags.port !== undefined
