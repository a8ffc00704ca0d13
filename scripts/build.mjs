// npm run build: the JavaScript (tsup.config.ts's ESM and CJS passes; the ESM chunks then regrouped by
// scripts/group-chunks.mjs) and the declarations at the same time (two cores), then scripts/postbuild.mjs. The
// declarations are emitted per module without a type check (scripts/emit-declarations.mjs, in a child process) and
// then bundled by tsup's declaration pass, which reads `.d.ts` input and so compiles nothing. Run with
// `node --import tsx` (it imports tsup.config.ts).
import { execFileSync, spawn } from 'node:child_process'
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'tsup'
import { cjsPass, declarationPass, declarationsDir, entries, esmPass } from '../tsup.config.ts'
import { groupChunks } from './group-chunks.mjs'

const root = new URL('..', import.meta.url).pathname
process.chdir(root)
rmSync('dist', { recursive: true, force: true })

await Promise.all([
  build({ ...esmPass, config: false }).then(() => groupChunks(join(root, 'dist'), Object.keys(esmPass.entry))),
  build({ ...cjsPass, config: false }),
  run(process.execPath, ['scripts/emit-declarations.mjs', declarationsDir, ...Object.values(entries)]).then(
    async () => {
      await build({ ...declarationPass, config: false })
      renameDeclarationChunks()
    },
  ),
])
execFileSync(process.execPath, ['scripts/postbuild.mjs'], { stdio: 'inherit' })

function run(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit' })
    child.on('error', reject)
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args[0]} exited with ${code}`)),
    )
  })
}

// A shared declaration chunk is named after its first module's file, which is now `x.d.ts`: rename
// `x.d-<hash>.d.ts` to `x-<hash>.d.ts` (the names the bundling of `.ts` input gave) and the imports that name it.
function renameDeclarationChunks() {
  const chunk = /^([\w-]+)\.d-([\w-]+\.d\.c?ts)$/
  const files = readdirSync('dist').filter((f) => f.endsWith('.d.ts') || f.endsWith('.d.cts'))
  for (const file of files) {
    const match = chunk.exec(file)
    if (match) renameSync(join('dist', file), join('dist', `${match[1]}-${match[2]}`))
  }
  for (const file of readdirSync('dist', { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.d.ts') && !file.endsWith('.d.cts')) continue
    const text = readFileSync(join('dist', file), 'utf8')
    const renamed = text.replace(/(['"]\.{1,2}\/(?:[\w-]+\/)*[\w-]+)\.d-([\w-]+\.c?js['"])/g, '$1-$2')
    if (renamed !== text) writeFileSync(join('dist', file), renamed)
  }
}
