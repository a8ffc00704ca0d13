/**
 * Starts a real `redis-server` for tests: on a free loopback port, in its own temporary directory, never
 * the system's Redis. `kill()` stops it with SIGKILL (a crash), `start()` brings it back on the same port
 * and directory (replaying the AOF when `appendonly` is on), `stop()` shuts it down and removes the
 * directory.
 *
 * ```ts
 * const server = await startRedisServer()
 * const client = new Redis(server.port, '127.0.0.1')
 * ...
 * await server.stop()
 * ```
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Options of {@link startRedisServer}. */
export interface RedisServerOptions {
  /** Keep an append-only file (`appendonly yes`). Default `false`. */
  appendonly?: boolean
  /** `appendfsync` when `appendonly` is on. Default `'always'`. */
  appendfsync?: 'always' | 'everysec' | 'no'
  /** Active expiry frequency (`hz`). Default `10`, Redis's default. */
  hz?: number
  /** Extra `--name value` arguments. */
  args?: string[]
}

/** A running test Redis. */
export interface RedisServer {
  /** The loopback port. */
  readonly port: number
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string
  /** The data directory (AOF, RDB). */
  readonly dir: string
  /** The current process id, or `null` while stopped. */
  readonly pid: number | null
  /** Starts it again on the same port and directory. */
  start(): Promise<void>
  /** SIGKILL: the process dies without saving anything more. */
  kill(): Promise<void>
  /** Shuts it down and removes its directory. */
  stop(): Promise<void>
}

/** The `redis-server` binary, or a clear error when it is not installed. */
export function redisServerBinary(): string {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' })
  const path = found.stdout.trim()
  if (found.status !== 0 || path === '') {
    throw new Error(
      'redis-server is not installed; run `apt-get install -y redis-server` (the tests start their own server)',
    )
  }
  return path
}

/** A free loopback TCP port (the OS picks one, the probe closes it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port })
    let data = ''
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(500, () => done(false))
    socket.once('error', () => done(false))
    socket.on('data', (chunk) => {
      data += chunk.toString()
      if (data.includes('\r\n')) done(data.startsWith('+PONG'))
    })
    socket.once('connect', () => socket.write('PING\r\n'))
  })
}

/** Resolves once the child process has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

/** Starts a fresh `redis-server` on a free loopback port in a new temporary directory. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = redisServerBinary()
  const dir = mkdtempSync(join(tmpdir(), 'llm-budget-redis-'))
  const port = await freePort()
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    options.appendonly === true ? 'yes' : 'no',
    '--appendfsync',
    options.appendfsync ?? 'always',
    '--hz',
    String(options.hz ?? 10),
    '--daemonize',
    'no',
    '--protected-mode',
    'yes',
    '--logfile',
    join(dir, 'redis.log'),
    ...(options.args ?? []),
  ]
  let child: ChildProcess | null = null

  const start = async (): Promise<void> => {
    if (child !== null) throw new Error('redis-server is already running')
    const spawned = spawn(binary, args, { stdio: 'ignore' })
    child = spawned
    spawned.once('exit', () => {
      if (child === spawned) child = null
    })
    for (let attempt = 0; attempt < 200; attempt++) {
      if (await ping(port)) return
      if (child !== spawned) throw new Error(`redis-server exited while starting; see ${join(dir, 'redis.log')}`)
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    throw new Error(`redis-server did not answer on port ${port}; see ${join(dir, 'redis.log')}`)
  }

  const kill = async (): Promise<void> => {
    const current = child
    if (current === null) return
    current.kill('SIGKILL')
    await exited(current)
    child = null
  }

  await start()
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get pid() {
      return child?.pid ?? null
    },
    start,
    kill,
    async stop() {
      const current = child
      if (current !== null) {
        current.kill('SIGTERM')
        await exited(current)
        child = null
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
