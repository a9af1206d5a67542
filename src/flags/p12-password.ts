import {usageError, ValkeyTlsError} from '../errors.js'
import {checkRunnable, commandPassword, splitCommandLine} from './password-command.js'

/** Where --p12's password comes from when --p12-password-command is not given. */
export const P12_PASSWORD_VARIABLE = 'VALKEY_TLS_P12_PASSWORD'
const COMMAND_TIMEOUT_MS = 30_000

/**
 * The PKCS#12 password, never from a flag value (it would show in the process list and shell history):
 * --p12-password-command (run once, no shell), else $VALKEY_TLS_P12_PASSWORD, else a prompt when there
 * is a terminal to ask on. Nothing else: a run without any of them is a usage error before any work.
 */
export async function resolveP12Password(
  options: {command?: string; canPrompt: boolean; ask?: () => Promise<string>},
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  if (options.command !== undefined) {
    const argv = splitCommandLine(options.command, '--p12-password-command')
    await checkRunnable(argv[0]!, '--p12-password-command', env)
    try {
      return await commandPassword(argv, '--p12-password-command', COMMAND_TIMEOUT_MS)()
    } catch (error) {
      // Its failure is this run's input, not a server refusing credentials (exit 7).
      if (error instanceof ValkeyTlsError) throw usageError(error.message)
      throw error
    }
  }
  const fromEnv = env[P12_PASSWORD_VARIABLE]
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv
  if (options.canPrompt && options.ask) return options.ask()
  throw usageError(`--p12 needs a password: use --p12-password-command CMD, set ${P12_PASSWORD_VARIABLE}, or run on a terminal to be asked`)
}
