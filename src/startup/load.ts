/**
 * How bin/run.js loads the CLI: dist/cli.cjs (oclif and every command, one CommonJS file; scripts/bundle.mjs) is
 * compiled through node:vm with V8's code cache, so that a start does not parse and compile the same 800 KB
 * again (a fifth to a third of a start on Node 20, which has no compile cache of its own; BENCHMARKS.md).
 *
 * The cache is a file per command under oclif's cache folder (VALKEY_TLS_CACHE_DIR, else ~/Library/Caches/
 * valkey-tls on macOS, $XDG_CACHE_HOME/valkey-tls, %LOCALAPPDATA%\valkey-tls, ~/.cache/valkey-tls), in
 * `code-cache/`, written at the end of the run that found none: V8 bytecode of the bundle's own source (never
 * data of the run: no certificate, key or password is in it). Its name holds a SHA-256 of Node's version and
 * flags, the CPU architecture and the bundle, so an upgrade of either uses a new file (the old ones go after a
 * week); the file carries a SHA-256 of its data, checked before V8 sees it (V8's own checks miss a flipped bit).
 * Bytecode is code, and V8 takes a file made from any source of the same length: so the folder is used only when
 * no one else can change it or any folder on the way to it (privateFolder), and the file only when it is a
 * regular file of this user's, not reached through a link. NODE_DISABLE_COMPILE_CACHE (Node's own switch for its
 * compile cache) turns it off. Whatever goes wrong with the cache, the command runs the same: the cache is only
 * ever a shortcut. DEBUG=valkey-tls:startup (or *) says on stderr what happened.
 */
import {createHash} from 'node:crypto'
import {closeSync, constants, existsSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {homedir} from 'node:os'
import {basename, dirname, isAbsolute, join} from 'node:path'
import vm from 'node:vm'

export type CacheOutcome = 'hit' | 'miss' | 'rejected' | 'off' | 'unsafe'

export interface LoadedCli {
  exports: Record<string, unknown>
  outcome: CacheOutcome
}

interface Place {
  env?: NodeJS.ProcessEnv
  home?: string
  platform?: NodeJS.Platform
}

/**
 * oclif's cacheDir (Config: `<BIN>_CACHE_DIR`, macOS's Caches, XDG_CACHE_HOME, LOCALAPPDATA, ~/.cache), worked out
 * before oclif loads; undefined when there is no home to put it in.
 */
export function cacheDirectory(bin: string, {env = process.env, home = env.HOME || userHome(), platform = process.platform}: Place = {}): string | undefined {
  const scoped = env[`${bin.replaceAll('@', '').replaceAll(/[-\s]/g, '_').toUpperCase()}_CACHE_DIR`]
  if (scoped) return scoped
  if (platform === 'darwin') return home ? join(home, 'Library', 'Caches', bin) : undefined
  const base = env.XDG_CACHE_HOME || (platform === 'win32' && env.LOCALAPPDATA) || (home && join(home, '.cache'))
  return base ? join(base, bin) : undefined
}

function userHome(): string | undefined {
  try {
    return homedir() || undefined
  } catch {
    return undefined // no HOME and no passwd entry (a container's odd uid)
  }
}

/**
 * The cache file's name for the command in argv (the words before the first flag, as oclif reads them: the
 * longest run of words that is a command file under dist/commands), or "cli" for anything else (help, a typo), so
 * that there are at most as many files as commands.
 */
export function commandKey(argv: readonly string[], isCommand: (id: string) => boolean): string {
  const words: string[] = []
  for (const word of argv) {
    if (!/^[a-z][a-z0-9-]*$/.test(word) || words.length === 3) break
    words.push(word)
  }
  for (let n = words.length; n > 0; n--) {
    const id = words.slice(0, n).join('/')
    if (isCommand(id)) return id.replaceAll('/', '-')
  }
  return 'cli'
}

/**
 * The code cache's folder for oclif's cache folder `dir` (cacheDirectory), or undefined where it is not used. V8
 * runs the bytecode of any cache file that passes its header checks, even one made from another source of the same
 * length, so the folder must be one only this user controls (privateFolder). On Windows, whose ACLs are not read
 * here, that is only the default place under %LOCALAPPDATA% (the user's profile), not a folder named by
 * VALKEY_TLS_CACHE_DIR or XDG_CACHE_HOME.
 */
export function codeCacheFolder(bin: string, place: Place = {}): string | undefined {
  const {env = process.env, platform = process.platform} = place
  const dir = cacheDirectory(bin, place)
  if (dir === undefined || !isAbsolute(dir)) return undefined // a relative XDG_CACHE_HOME would follow the current folder
  if (platform === 'win32' && (!env.LOCALAPPDATA || dir !== join(env.LOCALAPPDATA, bin))) return undefined
  return join(dir, 'code-cache')
}

/**
 * Whether `dir` (absolute) is a folder that no one but this user and root can change, nor anything on the way to
 * it, creating what is missing (mode 0700) only below a path that passes. On POSIX: every folder of its real path
 * from / down is owned by this user or root and writable by no one else unless sticky (in /tmp others may add
 * entries, not move ours), and the folder itself is this user's. Windows: see codeCacheFolder.
 */
function privateFolder(dir: string): boolean {
  if (process.getuid === undefined) {
    mkdirSync(dir, {recursive: true})
    return lstatSync(dir).isDirectory()
  }
  const uid = process.getuid()
  const missing: string[] = []
  let existing = dir
  while (!existsSync(existing)) {
    if (dirname(existing) === existing) return false
    missing.unshift(basename(existing))
    existing = dirname(existing)
  }
  let path = realpathSync(existing)
  for (let p = path; ; p = dirname(p)) {
    const stat = statSync(p) // a real path: no links left in it
    if (!stat.isDirectory() || (stat.uid !== uid && stat.uid !== 0)) return false
    if ((stat.mode & 0o022) !== 0 && (stat.mode & 0o1000) === 0) return false
    if (dirname(p) === p) break
  }
  for (const name of missing) {
    path = join(path, name)
    mkdirSync(path, {mode: 0o700}) // fails if someone made it meanwhile: then no cache
  }
  const stat = lstatSync(path)
  return stat.isDirectory() && stat.uid === uid && (stat.mode & 0o022) === 0
}

/** privateFolder, false when it fails (a read-only home, a folder made meanwhile by someone else): run without. */
function usableFolder(dir: string): boolean {
  try {
    return privateFolder(dir)
  } catch {
    return false
  }
}

/** Far more than V8 writes for the bundle (under 1 MB): a file this big is not ours, and is not read. */
const MAX_CACHE_BYTES = 64 * 1024 * 1024

/** The cache file's bytes, if it exists, is a regular file (not through a link) and only this user can change it. */
function readOwnFile(file: string): Buffer | undefined {
  let fd: number
  try {
    // O_NONBLOCK: a FIFO put in its place would otherwise block the open until a writer comes (it is then refused).
    fd = openSync(file, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0))
  } catch {
    return undefined
  }
  try {
    const stat = fstatSync(fd)
    if (!stat.isFile() || stat.size > MAX_CACHE_BYTES) return undefined
    if (process.getuid !== undefined && (stat.uid !== process.getuid() || (stat.mode & 0o022) !== 0)) return undefined
    return readFileSync(fd)
  } catch {
    return undefined
  } finally {
    closeSync(fd)
  }
}

/**
 * The file is a magic line, the SHA-256 of V8's data, then the data: release builds of V8 take code cache data
 * that passes its header checks without a checksum of the rest, so a damaged file (a flipped bit) would run as
 * bytecode. Node's own compile cache checks a hash for the same reason.
 */
const MAGIC = Buffer.from('valkey-tls code cache 1\n')
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest()

function sealed(data: Buffer): Buffer {
  return Buffer.concat([MAGIC, sha256(data), data])
}

/** V8's data from a file's bytes, or null when they are not a whole, intact file of ours. */
function unsealed(file: Buffer): Buffer | null {
  const start = MAGIC.length + 32
  if (file.length <= start || !file.subarray(0, MAGIC.length).equals(MAGIC)) return null
  const data = file.subarray(start)
  return sha256(data).equals(file.subarray(MAGIC.length, start)) ? data : null
}

/** Files of other builds (or other Node flags) are removed once a week old; temporary files of killed runs once stale. */
const OTHER_BUILDS_MS = 7 * 24 * 3600 * 1000
const STALE_TEMPORARY_MS = 10 * 60 * 1000

/** Replaces the cache file whole (a temporary file renamed into place), then removes old files of other builds. */
function writeCache(dir: string, file: string, digest: string, data: Buffer): void {
  const temporary = `${file}.${process.pid}.tmp`
  try {
    writeFileSync(temporary, sealed(data), {flag: 'wx', mode: 0o600})
    renameSync(temporary, file)
    const now = Date.now()
    for (const name of readdirSync(dir)) {
      const old = name.endsWith('.v8cache') ? !name.endsWith(`-${digest}.v8cache`) && OTHER_BUILDS_MS : /\.v8cache\.\d+\.tmp$/.test(name) ? STALE_TEMPORARY_MS : false
      if (old !== false && now - lstatSync(join(dir, name)).mtimeMs > old) rmSync(join(dir, name), {force: true})
    }
  } catch {
    rmSync(temporary, {force: true})
  }
}

/**
 * Runs dist/cli.cjs (file) as CommonJS, through the code cache file for `key` in `folder` (codeCacheFolder)
 * unless it is undefined, and returns its exports.
 */
export function loadCli(file: string, key: string, folder: string | undefined, debug: (line: string) => void = () => {}): LoadedCli {
  const source = readFileSync(file, 'utf8')
  const run = (script: vm.Script) => {
    const module = {exports: {} as Record<string, unknown>}
    const wrapper = script.runInThisContext() as (...args: unknown[]) => void
    wrapper.call(module.exports, module.exports, createRequire(file), module, file, dirname(file))
    return module.exports
  }
  const compile = (cachedData?: Buffer) => new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    cachedData,
    filename: file,
    // import() in the bundle (none today) would go to Node's own loader, as in a required file (Node >= 20.12).
    importModuleDynamically: vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  })

  if (folder === undefined || !usableFolder(folder)) {
    const outcome = folder === undefined ? 'off' : 'unsafe'
    debug(`code cache ${outcome}${folder ? ` (${folder} is not a folder only this user can write to)` : ''}`)
    return {exports: run(compile()), outcome}
  }

  // V8's data depends on its version and flags (it refuses data made with others): a file for each, so that
  // `node --stack-size=...` now and then does not replace the usual one.
  const digest = createHash('sha256').update(`${process.version} ${process.arch} ${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}\n`).update(source).digest('hex').slice(0, 16)
  const cacheFile = join(folder, `${key}-${digest}.v8cache`)
  const stored = readOwnFile(cacheFile)
  const cachedData = stored && unsealed(stored)
  const script = compile(cachedData ?? undefined)
  const outcome = stored === undefined ? 'miss' : cachedData === null || script.cachedDataRejected ? 'rejected' : 'hit'
  debug(`code cache ${outcome} ${cacheFile}`)
  // Written at exit, so that it holds the functions this command compiled too, not only the bundle's top level.
  if (outcome !== 'hit') process.once('exit', () => writeCache(folder, cacheFile, digest, script.createCachedData()))
  return {exports: run(script), outcome}
}
