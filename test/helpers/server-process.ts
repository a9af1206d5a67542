/**
 * The process side of the servers that test/helpers/valkey/server.ts (Valkey) and
 * test/helpers/redis7.ts (Redis 7) start: spawning, early stdout/stderr,
 * exit tracking, the readiness wait, stop (SIGTERM, then SIGKILL) and the
 * synchronous kill used by 'exit' handlers. Valkey and Redis behave the same
 * here, so one implementation serves both.
 *
 * Pid recording: every server pid is a file in <runDir>/pids while the
 * process lives. The globalSetup teardown (killRecordedServers() in
 * test/helpers/global-setup.ts) kills whatever is still recorded, and its
 * detached watchdog does the same if the vitest process dies without a
 * teardown.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, readdirSync, unlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {runDir} from './temp.js'

export interface ExitStatus {
  code: number | null
  signal: NodeJS.Signals | null
}

function pidDir(): string | undefined {
  const d = runDir()
  return d && existsSync(d) ? join(d, 'pids') : undefined
}

function recordPid(pid: number): void {
  const d = pidDir()
  if (!d) return
  try {
    mkdirSync(d, {recursive: true})
    writeFileSync(join(d, String(pid)), '')
  } catch {
    // best effort
  }
}

function unrecordPid(pid: number): void {
  const d = pidDir()
  if (!d) return
  try {
    unlinkSync(join(d, String(pid)))
  } catch {
    // best effort
  }
}

/** A spawned server process, not yet attached to a ServerProcess. */
export interface Spawned {
  child: ChildProcess
  pid: number
}

/**
 * Spawn `command ...args` in `cwd` with stdout/stderr piped (read them through
 * a ServerProcess, constructed or attached right away) and record its pid.
 */
export async function spawnServer(command: string, args: string[], cwd: string): Promise<Spawned> {
  const child = spawn(command, args, {cwd, stdio: ['ignore', 'pipe', 'pipe']})
  const pid = await new Promise<number>((res, rej) => {
    child.once('spawn', () => res(child.pid!))
    child.once('error', rej)
  })
  recordPid(pid)
  return {child, pid}
}

const exitHooked = new WeakSet<Set<ServerProcess>>()

/**
 * Once per registry: a process 'exit' handler SIGKILLs whatever is left in
 * `registry`, then runs `after` (e.g. removing folders).
 */
export function killOnExit(registry: Set<ServerProcess>, after?: () => void): void {
  if (exitHooked.has(registry)) return
  exitHooked.add(registry)
  process.on('exit', () => {
    for (const h of registry) h.forceKillSync()
    after?.()
  })
}

/** What the readiness probe needs from a RESP connection (TlsRespClient). */
export interface ProbeConnection {
  command(...args: string[]): Promise<unknown>
  close(): void
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** What a ServerProcess knows of the process it is attached to. */
interface Attached extends Spawned {
  exited: Promise<void>
  status: ExitStatus | undefined
  /** The tail (16,384 characters) of stdout and stderr. */
  early: string
  paused: boolean
  stopping: Promise<void> | undefined
}

/**
 * A spawned server process. Subclasses add the port and how to connect;
 * `registry` is the owning module's set of live servers (stopAll / 'exit'
 * handler): the process is in it until it exits. A subclass that starts the
 * server again (a restart) attaches the new process with attach().
 */
export abstract class ServerProcess {
  abstract readonly port: number
  private current!: Attached

  constructor(
    spawned: Spawned,
    readonly logFile: string,
    /** Command name used in messages, e.g. 'valkey-server'. */
    private readonly serverName: string,
    private readonly registry: Set<ServerProcess>,
  ) {
    this.attach(spawned)
  }

  get child(): ChildProcess {
    return this.current.child
  }

  get pid(): number {
    return this.current.pid
  }

  /** Resolves when the attached process has exited. */
  get exited(): Promise<void> {
    return this.current.exited
  }

  /**
   * Track `spawned` from now on: output capture, registry, exit tracking (its pid record goes when it
   * exits). The process attached before must be gone (stop() it first).
   */
  protected attach({child, pid}: Spawned): void {
    if (this.current && !this.current.status) throw new Error(`${this.serverName} ${this.pid} is still running; stop it before attaching another process`)
    const state: Attached = {child, pid, exited: Promise.resolve(), status: undefined, early: '', paused: false, stopping: undefined}
    const collect = (d: Buffer): void => {
      state.early = (state.early + d.toString()).slice(-16_384)
    }
    child.stdout?.on('data', collect)
    child.stderr?.on('data', collect)
    this.registry.add(this)
    state.exited = new Promise((res) => {
      child.once('exit', (code, signal) => {
        state.status = {code, signal}
        this.registry.delete(this)
        unrecordPid(pid)
        res()
      })
    })
    this.current = state
    // Do not let a forgotten server keep the worker alive; exit handlers still kill it.
    child.unref()
    ;(child.stdout as unknown as {unref?: () => void})?.unref?.()
    ;(child.stderr as unknown as {unref?: () => void})?.unref?.()
  }

  /** A fresh connection to the server, for the readiness probe. */
  protected abstract connect(timeoutMs: number): Promise<ProbeConnection>

  /** Exit status once the process is gone, else undefined. */
  exitStatus(): ExitStatus | undefined {
    return this.current.status
  }

  /** Send a signal; SIGSTOP / SIGTSTP / SIGCONT are tracked so stop() still works. */
  signal(sig: NodeJS.Signals): void {
    const p = this.current
    if (p.status) throw new Error(`${this.serverName} ${p.pid} has already exited`)
    process.kill(p.pid, sig)
    if (sig === 'SIGSTOP' || sig === 'SIGTSTP') p.paused = true
    if (sig === 'SIGCONT') p.paused = false
  }

  /**
   * SIGTERM (after SIGCONT when stopped), SIGKILL after `graceMs`; fork
   * children (RDB / replication children) do not outlive the server.
   * Idempotent; resolves once the process is gone.
   */
  stop(graceMs = 3000): Promise<void> {
    const p = this.current
    p.stopping ??= (async () => {
      if (p.status) return
      if (!p.paused) {
        // Valkey / Redis reap finished fork children (e.g. the RDB-to-replicas
        // child) from serverCron; killing the server first leaves them as
        // zombies adopted by init. Give it a moment to reap.
        const until = Date.now() + 1000
        while (Date.now() < until && childProcesses(p.pid).some((c) => c.state === 'Z')) await sleep(50)
      }
      const kids = childProcesses(p.pid).map((c) => c.pid)
      try {
        // A stopped process only acts on SIGTERM once continued.
        if (p.paused) process.kill(p.pid, 'SIGCONT')
        process.kill(p.pid, 'SIGTERM')
      } catch {
        // already gone
      }
      const timer = setTimeout(() => {
        killQuietly(p.pid, 'SIGCONT')
        killQuietly(p.pid, 'SIGKILL')
      }, graceMs)
      await p.exited
      clearTimeout(timer)
      // Fork children must not outlive the server: kill survivors, then wait
      // (bounded) until init has reaped them.
      const until = Date.now() + 2000
      for (;;) {
        const alive = kids.map((k) => ({pid: k, state: procState(k)})).filter((k) => k.state !== undefined)
        if (alive.length === 0 || Date.now() > until) break
        for (const k of alive) if (k.state !== 'Z') killQuietly(k.pid, 'SIGKILL')
        await sleep(50)
      }
    })()
    return p.stopping
  }

  /** SIGKILL the server and its fork children now (for process 'exit' handlers). */
  forceKillSync(): void {
    const p = this.current
    if (p.status) return
    for (const c of childProcesses(p.pid)) killQuietly(c.pid, 'SIGKILL')
    killQuietly(p.pid, 'SIGCONT')
    killQuietly(p.pid, 'SIGKILL')
    unrecordPid(p.pid)
  }

  /** Last `lines` lines of the server log, plus early stdout/stderr. */
  logTail(lines = 40): string {
    let log = ''
    try {
      log = readFileSync(this.logFile, 'utf8')
    } catch {
      // not created yet
    }
    const tail = log.split('\n').slice(-lines - 1).join('\n').trimEnd()
    const early = this.current.early.trim()
    return [tail && `--- ${this.logFile} (tail) ---\n${tail}`, early && `--- stdout/stderr ---\n${early}`]
      .filter(Boolean)
      .join('\n')
  }

  /**
   * Wait until the server answers PING and reports this process's pid (not
   * someone else's server that won a port race). Throws, with the log tail,
   * when it exits first or `deadline` (epoch ms) passes.
   */
  async waitReady(deadline: number): Promise<void> {
    let lastError: unknown
    let exited = false
    void this.exited.then(() => (exited = true))
    while (Date.now() < deadline && !exited) {
      try {
        const c = await this.connect(Math.max(500, Math.min(2000, deadline - Date.now())))
        try {
          const r = await c.command('PING')
          if (r !== 'PONG') throw new Error(`PING answered ${JSON.stringify(r)}`)
          const pid = Number(/^process_id:(\d+)/m.exec(String(await c.command('INFO', 'server')))?.[1])
          if (pid === this.pid) return
          throw new Error(`port ${this.port} is served by pid ${pid}, not ${this.pid}`)
        } finally {
          c.close()
        }
      } catch (e) {
        lastError = e
      }
      await sleep(50)
    }
    await sleep(20) // let 'exit' land if it is about to
    const st = this.current.status
    const why = st
      ? `exited early (code ${st.code}, signal ${st.signal})`
      : `not ready in time (last error: ${(lastError as Error | undefined)?.message ?? 'none'})`
    throw new Error(`${this.serverName} pid ${this.pid} on 127.0.0.1:${this.port} ${why}\n${this.logTail(30)}`)
  }
}

/** State letter (R, S, Z, ...) of a process, undefined when it does not exist. */
function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]
  } catch {
    return undefined
  }
}

/** Direct children of `pid` (Linux /proc scan; empty elsewhere). */
function childProcesses(pid: number): Array<{pid: number; state: string}> {
  const out: Array<{pid: number; state: string}> = []
  let entries: string[]
  try {
    entries = readdirSync('/proc')
  } catch {
    return out
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8')
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(rest[1]) === pid) out.push({pid: Number(e), state: rest[0]!})
    } catch {
      // raced with exit
    }
  }
  return out
}

function killQuietly(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig)
  } catch {
    // gone
  }
}
