#!/usr/bin/env node
// Makes sure the system programs that the test suite starts are installed: a real redis-server (and
// redis-cli, for the cluster tests), PostgreSQL's server binaries, and Chromium (browser tests). Run by
// `npm test` (pretest) and by .ci/run, so the README's `npm test` passes on a fresh machine by itself.
//
// For each program that is missing: as root with apt-get (Debian, Ubuntu, CI), it installs the Debian packages;
// otherwise it prints the exact command to run and exits 1. It never skips a missing program silently.
//
//   node scripts/provision.mjs           check, and install what is missing (root + apt-get)
//   node scripts/provision.mjs --check   check only: exit 1 with the install command when something is missing
import { spawnSync } from 'node:child_process'
import { accessSync, constants, existsSync, readdirSync } from 'node:fs'
import { delimiter, join } from 'node:path'

/** The first executable called `name` on the PATH, or null. */
function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    try {
      accessSync(join(dir, name), constants.X_OK)
      return join(dir, name)
    } catch {
      // not in this directory
    }
  }
  return null
}

/** PostgreSQL's server binaries: Debian's `/usr/lib/postgresql/<n>/bin` (where the test helper looks), or `initdb` on the PATH. */
function postgresBinaries() {
  const root = '/usr/lib/postgresql'
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, 'bin', 'initdb')) && existsSync(join(root, v, 'bin', 'pg_ctl')))
      .sort((a, b) => Number(b) - Number(a))
    if (versions[0] !== undefined) return join(root, versions[0], 'bin')
  }
  const initdb = onPath('initdb')
  return initdb === null ? null : initdb.slice(0, -'/initdb'.length)
}

/** What the tests need: how to find it, and the Debian packages that provide it. */
const REQUIREMENTS = [
  {
    name: 'redis-server and redis-cli',
    find: () => (onPath('redis-server') && onPath('redis-cli') ? onPath('redis-server') : null),
    packages: ['redis-server'],
    usedBy: 'the Redis store tests start their own redis-server (and a cluster) on free loopback ports',
  },
  {
    name: 'PostgreSQL server binaries (initdb, pg_ctl, postgres)',
    find: postgresBinaries,
    packages: ['postgresql'],
    usedBy: 'the PostgreSQL store tests start their own server (as an unprivileged user) on a free loopback port',
  },
  {
    name: 'chromium',
    find: () => onPath('chromium') ?? onPath('chromium-browser'),
    packages: ['chromium'],
    usedBy: 'the browser tests drive the system Chromium through playwright-core',
  },
]

const checkOnly = process.argv.includes('--check')
const unknown = process.argv.slice(2).filter((a) => a !== '--check')
if (unknown.length > 0) {
  console.error(
    `provision: unknown argument ${JSON.stringify(unknown[0])} (usage: node scripts/provision.mjs [--check])`,
  )
  process.exit(2)
}

const missing = () => REQUIREMENTS.filter((r) => r.find() === null)
let absent = missing()
if (absent.length === 0) {
  console.log(`provision: found ${REQUIREMENTS.map((r) => `${r.name.split(' ')[0]} (${r.find()})`).join(', ')}`)
  process.exit(0)
}

const packages = [...new Set(absent.flatMap((r) => r.packages))]
const command = `apt-get install -y --no-install-recommends ${packages.join(' ')}`
const isRoot = process.getuid?.() === 0
const canInstall = !checkOnly && isRoot && onPath('apt-get') !== null
for (const r of absent) console.error(`provision: missing ${r.name}: ${r.usedBy}`)

if (!canInstall) {
  const why = checkOnly ? '--check given' : !isRoot ? 'not running as root' : 'no apt-get on this machine'
  console.error(`provision: not installing (${why}). Install them, then run the tests again:`)
  if (onPath('apt-get') !== null)
    console.error(`  ${isRoot ? '' : 'sudo '}apt-get update && ${isRoot ? '' : 'sudo '}${command}`)
  else
    console.error(
      `  the packages that provide: ${absent.map((r) => r.name).join('; ')} (on Debian or Ubuntu: ${packages.join(' ')}; on macOS: brew install redis postgresql chromium)`,
    )
  process.exit(1)
}

const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
for (const args of [['update'], ['install', '-y', '--no-install-recommends', ...packages]]) {
  console.log(`provision: apt-get ${args.join(' ')}`)
  const run = spawnSync('apt-get', args, { stdio: 'inherit', env })
  if (run.status !== 0) {
    console.error(`provision: apt-get ${args[0]} failed (exit ${run.status ?? run.signal})`)
    process.exit(1)
  }
}
absent = missing()
if (absent.length > 0) {
  console.error(
    `provision: still missing after installing ${packages.join(' ')}: ${absent.map((r) => r.name).join('; ')}`,
  )
  process.exit(1)
}
console.log(`provision: installed ${packages.join(' ')}`)
