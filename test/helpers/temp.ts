/**
 * Temp folders for test material (PKI files, configs, the servers' working folders), all made and
 * removed here:
 * - `makeTempDir(prefix)`: one folder, kept until the calling test file ends;
 * - `useTempDirs(prefix)`: a maker of folders that go after each test of the calling file.
 *
 * They live in the run folder the globalSetup provides (test/helpers/global-setup.ts), so its teardown,
 * or its watchdog if the worker dies, removes whatever is left; outside vitest, in os.tmpdir().
 * KEEP_TEST_DIRS=1 keeps them all for a post-mortem.
 */
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, afterEach, inject} from 'vitest'

/** The per-run scratch folder (globalSetup value, else $VALKEY_TLS_TEST_RUN_DIR); '' when there is none. */
export function runDir(): string {
  let d = ''
  try {
    d = inject('valkeyRunDir') || ''
  } catch {
    // not running inside a vitest worker
  }
  return d || process.env.VALKEY_TLS_TEST_RUN_DIR || ''
}

const keep = (): boolean => process.env.KEEP_TEST_DIRS === '1'

/** Folders to remove after the test file, and after the current test. */
const untilFileEnd = new Set<string>()
const untilTestEnd = new Set<string>()

function remove(dirs: Set<string>): void {
  if (!keep()) for (const d of dirs) rmSync(d, {recursive: true, force: true, maxRetries: 3})
  dirs.clear()
}

let exitHooked = false
function create(prefix: string, owner: Set<string>): string {
  if (!exitHooked) {
    exitHooked = true
    process.on('exit', () => {
      remove(untilTestEnd)
      remove(untilFileEnd)
    })
  }
  const d = runDir()
  const root = d && existsSync(d) ? d : tmpdir()
  const dir = mkdtempSync(join(root, `${prefix.replace(/[^A-Za-z0-9_.-]/g, '_')}-`))
  owner.add(dir)
  return dir
}

/** A fresh folder `<prefix>-XXXXXX`, removed after the calling test file (unless KEEP_TEST_DIRS=1). */
export function makeTempDir(prefix = 'tmp'): string {
  return create(prefix, untilFileEnd)
}

/** Returns a maker of fresh temp folders, each removed after the test that made it (unless KEEP_TEST_DIRS=1). */
export function useTempDirs(prefix: string): () => string {
  afterEach(() => remove(untilTestEnd))
  return () => create(prefix, untilTestEnd)
}

// Registered when a test file imports this module (directly or through another helper), before the hooks of
// the modules that import it: afterAll hooks run last-registered first, so servers stop before their folders go.
try {
  afterAll(() => remove(untilFileEnd))
} catch {
  // imported outside a test file's collection phase
}
