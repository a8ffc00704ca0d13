/**
 * Starts a real PostgreSQL for tests: a fresh cluster (a copy of one `initdb` per run) in a new temporary directory, `postgres` on a free loopback port,
 * run as an unprivileged user when the tests run as root (PostgreSQL refuses root). `kill()` sends SIGKILL to every
 * server process at once (a crash), `start()` brings it back on the same port and data directory (crash recovery
 * replays the WAL), `stop()` shuts it down and removes the directory.
 *
 * ```ts
 * const server = await startPostgresServer()
 * const pool = new pg.Pool({ connectionString: server.url })
 * ...
 * await pool.end()
 * await server.stop()
 * ```
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inject } from 'vitest'
import { exited, freePort } from './redis-server.js'

/** Options of {@link startPostgresServer}. */
export interface PostgresServerOptions {
  /**
   * `fsync`: off makes tests faster and loses nothing when only the processes die (the WAL is in the OS's cache).
   * `synchronous_commit` stays on, so a commit is acknowledged only once its WAL is written. Default `false`.
   */
  fsync?: boolean
  /** `max_connections`. Default `100`. */
  maxConnections?: number
  /** Extra `-c name=value` settings. */
  settings?: Record<string, string>
}

/** A running test PostgreSQL. */
export interface PostgresServer {
  /** The loopback port. */
  readonly port: number
  /** `postgres://postgres@127.0.0.1:<port>/postgres`. */
  readonly url: string
  /** The directory holding the data directory and the log. */
  readonly dir: string
  /** The binaries' directory (for `pgbench`, `psql`). */
  readonly bin: string
  /** The postmaster's process id, or `null` while stopped. */
  readonly pid: number | null
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>
  /** SIGKILL to the postmaster and every backend: nothing more is written. */
  kill(): Promise<void>
  /** Shuts it down and removes its directory. */
  stop(): Promise<void>
}

/** The directory of PostgreSQL's binaries (Debian's newest `/usr/lib/postgresql/<n>/bin`), or a clear error. */
export function postgresBinaries(): string {
  const root = '/usr/lib/postgresql'
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))) : []
  versions.sort((a, b) => Number(b) - Number(a))
  if (versions[0] === undefined)
    throw new Error(
      'PostgreSQL is not installed; run `apt-get install -y postgresql` (the tests start their own server)',
    )
  return join(root, versions[0], 'bin')
}

/** The uid and gid to run PostgreSQL as: `nobody` when we are root, else ourselves. */
function runAs(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null
  const id = spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' })
  const gid = spawnSync('id', ['-g', 'nobody'], { encoding: 'utf8' })
  if (id.status !== 0 || gid.status !== 0)
    throw new Error('running as root, and there is no `nobody` user to run PostgreSQL as')
  return { uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()) }
}

/** Runs `initdb` into `data` (a directory that does not exist yet, in `dir`), as `user`. */
function initdb(bin: string, user: { uid: number; gid: number } | null, dir: string, data: string): void {
  const init = spawnSync(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
    { ...(user === null ? {} : { uid: user.uid, gid: user.gid }), encoding: 'utf8', cwd: dir },
  )
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`)
}

/**
 * A freshly initialised data directory that every server of this run copies (`initdb` costs about 1 s of CPU and
 * several seconds of wall time on a loaded machine; a copy of its 40 MB a tenth of that). It is made once per run,
 * in the run's directory from test/helpers/global-setup.ts: the first process that needs it runs `initdb` into a
 * directory of its own and renames it into place; a process that loses that race uses the winner's. Each server
 * still gets a cluster of its own, started and killed on its own.
 */
function template(bin: string, user: { uid: number; gid: number } | null): string {
  const run = inject('runDirectory')
  const path = join(run, 'postgres-template')
  if (existsSync(join(path, 'PG_VERSION'))) return path
  const dir = mkdtempSync(join(run, 'postgres-initdb-'))
  if (user !== null) chownSync(dir, user.uid, user.gid)
  try {
    initdb(bin, user, dir, join(dir, 'data'))
    try {
      renameSync(join(dir, 'data'), path)
    } catch (error) {
      // Another process put its template there first: the same initdb, use that one.
      if (!existsSync(join(path, 'PG_VERSION'))) throw error
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  return path
}

/** Copies a data directory, keeping its owner and modes (PostgreSQL refuses a data directory others can read). */
function copyCluster(from: string, to: string): void {
  const copy = spawnSync('cp', ['-a', from, to], { encoding: 'utf8' })
  if (copy.status !== 0) throw new Error(`copying the PostgreSQL template failed: ${copy.stderr}`)
}

/** Starts a fresh PostgreSQL on a free loopback port in a new temporary directory. */
export async function startPostgresServer(options: PostgresServerOptions = {}): Promise<PostgresServer> {
  const bin = postgresBinaries()
  const user = runAs()
  const dir = mkdtempSync(join(tmpdir(), 'llm-budget-pg-'))
  const data = join(dir, 'data')
  if (user !== null) chownSync(dir, user.uid, user.gid)
  const identity = user === null ? {} : { uid: user.uid, gid: user.gid }
  try {
    // Outside Vitest (the benches) there is no run directory to keep a template in: initdb this cluster itself.
    if (process.env.VITEST === undefined) initdb(bin, user, dir, data)
    else copyCluster(template(bin, user), data)
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
  const port = await freePort()
  const fsync = options.fsync === true ? 'on' : 'off'
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    port: String(port),
    unix_socket_directories: dir,
    fsync,
    synchronous_commit: 'on',
    full_page_writes: fsync,
    max_connections: String(options.maxConnections ?? 100),
    shared_buffers: '128MB',
    logging_collector: 'off',
    ...options.settings,
  }
  const args = ['-D', data, ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`])]
  const logPath = join(dir, 'postgres.log')
  let child: ChildProcess | null = null

  const ready = (): boolean =>
    spawnSync(join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-t', '1'], {
      stdio: 'ignore',
    }).status === 0

  const start = async (): Promise<void> => {
    if (child !== null) throw new Error('postgres is already running')
    const { openSync, closeSync } = await import('node:fs')
    const log = openSync(logPath, 'a')
    if (user !== null) chownSync(logPath, user.uid, user.gid)
    // Its own process group, so that kill() reaches every backend at once.
    const spawned = spawn(join(bin, 'postgres'), args, {
      ...identity,
      cwd: dir,
      detached: true,
      stdio: ['ignore', log, log],
    })
    closeSync(log)
    child = spawned
    spawned.once('exit', () => {
      if (child === spawned) child = null
    })
    for (let attempt = 0; attempt < 400; attempt++) {
      if (ready()) return
      if (child !== spawned)
        throw new Error(`postgres exited while starting: ${readFileSync(logPath, 'utf8').slice(-2000)}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new Error(`postgres did not answer on port ${port}; see ${logPath}`)
  }

  const signalGroup = async (signal: NodeJS.Signals): Promise<void> => {
    const current = child
    if (current === null || current.pid === undefined) return
    try {
      process.kill(-current.pid, signal)
    } catch {
      // Already gone.
    }
    await exited(current)
    child = null
    // Backends notice their postmaster's death; wait until none of the group is left.
    for (let attempt = 0; attempt < 200; attempt++) {
      try {
        process.kill(-current.pid, 0)
      } catch {
        return
      }
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }

  await start()
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dir,
    bin,
    get pid() {
      return child?.pid ?? null
    },
    start,
    kill: () => signalGroup('SIGKILL'),
    async stop() {
      await signalGroup('SIGINT')
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
