/**
 * Where oclif finds the commands (package.json `oclif.commands`: the `explicit` strategy, export `COMMANDS`).
 * Bundled into dist/index.js (scripts/bundle.mjs); oclif imports it to run a command, not for help, which it
 * renders from oclif.manifest.json.
 *
 * Importing this loads every command class, so a command module statically imports only what its flags and
 * help need; the work (X.509, TLS and server sessions, prompts) is import()ed in run(), from chunks loaded on demand.
 */
import Autocomplete from './commands/autocomplete.js'
import CaRotate from './commands/ca/rotate.js'
import CertsGen from './commands/certs/gen.js'
import CertsInspect from './commands/certs/inspect.js'
import CertsVerify from './commands/certs/verify.js'
import Check from './commands/check.js'
import Exporter from './commands/exporter.js'
import Help from './commands/help.js'
import Reload from './commands/reload.js'
import Whoami from './commands/whoami.js'

/** Command ids as oclif spells them (topic separator `:`; shown with a space). */
export const COMMANDS = {
  autocomplete: Autocomplete,
  'ca:rotate': CaRotate,
  'certs:gen': CertsGen,
  'certs:inspect': CertsInspect,
  'certs:verify': CertsVerify,
  check: Check,
  exporter: Exporter,
  help: Help,
  reload: Reload,
  whoami: Whoami,
}
