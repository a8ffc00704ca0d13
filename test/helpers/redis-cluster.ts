/**
 * Starts a real Redis Cluster for tests: three masters (no replicas) on free loopback ports, each
 * `redis-server --cluster-enabled yes` in its own temporary directory, joined with
 * `redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes` (with a long `cluster-node-timeout` while they
 * join); resolves once every node's `CLUSTER INFO` says `cluster_state:ok` and every node agrees on the slot map.
 * `node.kill()` stops one node with SIGKILL (a crash), `node.start()` brings it back on the same ports and directory
 * (its `nodes.conf` keeps its identity and slots), `stop()` shuts every node down and removes the directories.
 *
 * ```ts
 * const cluster = await startRedisCluster()
 * const client = new Cluster(cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })))
 * ...
 * await cluster.stop()
 * ```
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { exited, freePort, redisServerBinary } from './redis-server.js'

/** Options of {@link startRedisCluster}. */
export interface RedisClusterOptions {
  /** Number of masters. Default `3`. */
  masters?: number
  /** Replicas per master (extra nodes; `redis-cli --cluster create --cluster-replicas`). Default `0`. */
  replicas?: number
  /**
   * `cluster-node-timeout` in ms: how long a silent node takes to be marked failed by the others, once the cluster
   * has formed. Default `1000` (Redis's default is 15 s).
   */
  nodeTimeoutMs?: number
  /**
   * `cluster-require-full-coverage`: with `false` the nodes keep serving their own slots while a slot's
   * owner is down; with `true` (Redis's default) the whole cluster refuses queries then. Default `false`.
   */
  requireFullCoverage?: boolean
  /** Extra `--name value` arguments for every node. */
  args?: string[]
}

/** One node of a test cluster. */
export interface RedisClusterNode {
  /** The client port on 127.0.0.1. */
  readonly port: number
  /** The cluster bus port on 127.0.0.1. */
  readonly busPort: number
  /** The data directory (nodes.conf, log). */
  readonly dir: string
  /** The current process id, or `null` while stopped. */
  readonly pid: number | null
  /** Starts it again on the same ports and directory. */
  start(): Promise<void>
  /** SIGKILL: the process dies at once. */
  kill(): Promise<void>
}

/** A running test cluster. */
export interface RedisCluster {
  /** The masters, in the order they were given to `redis-cli --cluster create`. */
  readonly nodes: readonly RedisClusterNode[]
  /** The hash slot of a key (`CLUSTER KEYSLOT`, computed locally: CRC16 of the hash tag, mod 16384). */
  slotOf(key: string): number
  /** The node that owns a key's slot, from `CLUSTER NODES` of a live node. */
  ownerOf(key: string): Promise<RedisClusterNode>
  /** Runs `redis-cli -p <port> <args>` and resolves with its output (trimmed). */
  cli(port: number, ...args: string[]): Promise<string>
  /** A node's cluster id (`CLUSTER MYID`). */
  idOf(node: RedisClusterNode): Promise<string>
  /** The replicas of a master, from `CLUSTER NODES` of a live node. */
  replicasOf(master: RedisClusterNode): Promise<RedisClusterNode[]>
  /** Resolves once every live node reports `cluster_state:ok` (or `fail` with `state: 'fail'`). */
  waitForState(state?: 'ok' | 'fail', nodes?: readonly RedisClusterNode[], deadlineMs?: number): Promise<void>
  /** Shuts every node down and removes the directories. */
  stop(): Promise<void>
}

function redisCliBinary(): string {
  const found = spawnSync('sh', ['-c', 'command -v redis-cli'], { encoding: 'utf8' })
  const path = found.stdout.trim()
  if (found.status !== 0 || path === '')
    throw new Error('redis-cli is not installed; it comes with `apt-get install -y redis-server`')
  return path
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** `cluster-node-timeout` while the nodes join (see startRedisCluster). */
const JOIN_NODE_TIMEOUT_MS = 60_000

/** The last lines of a node's log, for an error message. */
function logTail(dir: string): string {
  const path = join(dir, 'redis.log')
  return existsSync(path) ? readFileSync(path, 'utf8').trimEnd().split('\n').slice(-8).join('\n') : '(no log)'
}

/** CRC16/XMODEM, as Redis Cluster uses for key slots. */
function crc16(bytes: Uint8Array): number {
  let crc = 0
  for (const byte of bytes) {
    crc ^= byte << 8
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc
}

/** A key's slot: CRC16 of the text between the first `{` and the next `}` when it is non-empty, else of the key. */
export function keySlot(key: string): number {
  const open = key.indexOf('{')
  if (open !== -1) {
    const close = key.indexOf('}', open + 1)
    if (close > open + 1) key = key.slice(open + 1, close)
  }
  return crc16(new TextEncoder().encode(key)) % 16384
}

/** Starts a Redis Cluster of fresh masters on free loopback ports. */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const server = redisServerBinary()
  const cliBinary = redisCliBinary()
  const replicas = options.replicas ?? 0
  const count = (options.masters ?? 3) * (1 + replicas)
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 1000
  const cli = (port: number, ...args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile(
        cliBinary,
        ['-h', '127.0.0.1', '-p', String(port), ...args],
        { timeout: 10_000 },
        (error, stdout, stderr) => {
          if (error) reject(new Error(`redis-cli -p ${port} ${args.join(' ')}: ${error.message} ${stderr}`))
          else resolve(stdout.trim())
        },
      )
    })

  const nodes: (RedisClusterNode & { stopNode(): Promise<void> })[] = []
  for (let i = 0; i < count; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'llm-budget-redis-cluster-'))
    const port = await freePort()
    let busPort = await freePort()
    while (busPort === port) busPort = await freePort()
    const args = [
      '--port',
      String(port),
      '--cluster-port',
      String(busPort),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      '--protected-mode',
      'yes',
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      join(dir, 'nodes.conf'),
      '--cluster-node-timeout',
      String(nodeTimeoutMs),
      '--cluster-require-full-coverage',
      options.requireFullCoverage === true ? 'yes' : 'no',
      '--logfile',
      join(dir, 'redis.log'),
      ...(options.args ?? []),
    ]
    let child: ChildProcess | null = null
    const start = async (): Promise<void> => {
      if (child !== null) throw new Error(`redis-server on port ${port} is already running`)
      const spawned = spawn(server, args, { stdio: 'ignore' })
      child = spawned
      spawned.once('exit', () => {
        if (child === spawned) child = null
      })
      for (let attempt = 0; attempt < 200; attempt++) {
        // The answer must come from this process: a port that freePort() found free can be taken by another
        // process's server before this one binds it (then this one exits, and a PING alone would pass).
        const info = await cli(port, 'INFO', 'server').catch(() => '')
        if (Number(/process_id:(\d+)/.exec(info)?.[1]) === spawned.pid) return
        if (child !== spawned) throw new Error(`redis-server on port ${port} exited while starting:\n${logTail(dir)}`)
        await sleep(25)
      }
      throw new Error(`redis-server did not answer on port ${port}:\n${logTail(dir)}`)
    }
    const signal = async (name: NodeJS.Signals): Promise<void> => {
      const current = child
      if (current === null) return
      current.kill(name)
      await exited(current)
      child = null
    }
    nodes.push({
      port,
      busPort,
      dir,
      get pid() {
        return child?.pid ?? null
      },
      start,
      kill: () => signal('SIGKILL'),
      stopNode: async () => {
        await signal('SIGTERM')
        rmSync(dir, { recursive: true, force: true })
      },
    })
  }

  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.stopNode()))
  }

  const waitForState = async (
    state: 'ok' | 'fail' = 'ok',
    which: readonly RedisClusterNode[] = nodes,
    deadlineMs = 20_000,
  ): Promise<void> => {
    const end = Date.now() + deadlineMs
    for (;;) {
      const infos = await Promise.all(which.map((node) => cli(node.port, 'CLUSTER', 'INFO').catch(() => '')))
      const ok = infos.every((info) => info.includes(`cluster_state:${state}`))
      // every node must also know the full slot map (redis-cli's "all slots covered" is checked on one node)
      const covered = state === 'fail' || infos.every((info) => info.includes('cluster_slots_assigned:16384'))
      if (ok && covered) return
      if (Date.now() > end)
        throw new Error(
          `the cluster did not reach cluster_state:${state}: ${infos.map((i) => i.split('\n')[0]).join(', ')}`,
        )
      await sleep(50)
    }
  }

  // The nodes join with a long cluster-node-timeout and get the asked one once they agree. A node drops a node whose
  // handshake did not finish within that timeout (at least 1 s), and the create command then never meets it again:
  // one node stopped for 2 s right after its config epoch was set left the cluster split (2 + 1 nodes) for good (the
  // command's 30 s ran out; 60 s by hand), which a machine at a load average of 10-22 can do to a setup.
  const setNodeTimeout = (ms: number): Promise<unknown> =>
    Promise.all(nodes.map((node) => cli(node.port, 'CONFIG', 'SET', 'cluster-node-timeout', String(ms))))
  try {
    await Promise.all(nodes.map((node) => node.start()))
    await setNodeTimeout(JOIN_NODE_TIMEOUT_MS)
    await new Promise<void>((resolve, reject) => {
      execFile(
        cliBinary,
        [
          '--cluster',
          'create',
          ...nodes.map((node) => `127.0.0.1:${node.port}`),
          '--cluster-replicas',
          String(replicas),
          '--cluster-yes',
        ],
        { timeout: 30_000 },
        (error, stdout, stderr) =>
          error
            ? reject(new Error(`redis-cli --cluster create failed: ${error.message}\n${stdout}\n${stderr}`))
            : resolve(),
      )
    })
    await waitForState('ok')
    await setNodeTimeout(nodeTimeoutMs)
  } catch (error) {
    // The nodes' logs say why (a port in use, a node that left the handshake); stop() removes them.
    const logs = nodes.map((node) => `node ${node.port} (bus ${node.busPort}):\n${logTail(node.dir)}`).join('\n')
    await stop()
    throw new Error(`${(error as Error).message}\n${logs}`, { cause: error })
  }

  const ownerOf = async (key: string): Promise<RedisClusterNode> => {
    const slot = keySlot(key)
    for (const node of nodes) {
      if (node.pid === null) continue
      const text = await cli(node.port, 'CLUSTER', 'NODES').catch(() => '')
      for (const line of text.split('\n')) {
        const fields = line.trim().split(' ')
        const port = Number(fields[1]?.split('@')[0]?.split(':')[1])
        if (!fields[2]?.includes('master')) continue
        for (const range of fields.slice(8)) {
          if (range.startsWith('[')) continue // a slot being migrated
          const [from, to] = range.split('-').map(Number)
          if (from !== undefined && slot >= from && slot <= (to ?? from)) {
            const owner = nodes.find((n) => n.port === port)
            if (owner !== undefined) return owner
          }
        }
      }
    }
    throw new Error(`no live node knows the owner of slot ${slot}`)
  }

  const idOf = async (node: RedisClusterNode): Promise<string> => cli(node.port, 'CLUSTER', 'MYID')

  const replicasOf = async (master: RedisClusterNode): Promise<RedisClusterNode[]> => {
    const id = await idOf(master)
    const text = await cli(master.port, 'CLUSTER', 'NODES')
    const ports = text
      .split('\n')
      .map((line) => line.trim().split(' '))
      .filter((fields) => fields[3] === id)
      .map((fields) => Number(fields[1]?.split('@')[0]?.split(':')[1]))
    return nodes.filter((n) => ports.includes(n.port))
  }

  return { nodes, slotOf: keySlot, ownerOf, cli, idOf, replicasOf, waitForState, stop }
}
