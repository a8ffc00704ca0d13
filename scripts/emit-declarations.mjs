// Writes one declaration file per module reachable from the given entries (node scripts/emit-declarations.mjs
// <outDir> <entry.ts>...), the way `tsc --emitDeclarationOnly` would, but without type-checking the program:
// `tsc --noEmit` (CI's typecheck step) does that, and checking again here took most of the build's time. The
// declarations are still TypeScript's own (the checker infers what is not written out). Fails on syntax errors and
// on errors of the declaration emit itself (an exported type that cannot be named, for instance).
import { rmSync } from 'node:fs'
import ts from 'typescript'

const [outDir, ...entries] = process.argv.slice(2)
if (!outDir || entries.length === 0) throw new Error('usage: node scripts/emit-declarations.mjs <outDir> <entry.ts>...')

const config = ts.getParsedCommandLineOfConfigFile(
  'tsconfig.json',
  {},
  {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => report([diagnostic]),
  },
)
const options = {
  ...config.options,
  noEmit: false,
  declaration: true,
  emitDeclarationOnly: true,
  declarationMap: false,
  sourceMap: false,
  noEmitOnError: false,
  incremental: false,
  rootDir: 'src',
  outDir,
}

rmSync(outDir, { recursive: true, force: true })
const program = ts.createProgram({ rootNames: entries, options })
report(program.getOptionsDiagnostics())
report(program.getSyntacticDiagnostics())
// emitOnlyDtsFiles and forceDtsEmit: the checker then answers the declaration emitter's questions without first
// computing every diagnostic of each file (which is a full type check).
const result = program.emit(undefined, undefined, undefined, true, undefined, true)
report(result.diagnostics)
if (result.emitSkipped)
  report([{ category: ts.DiagnosticCategory.Error, code: 0, messageText: 'declaration emit skipped' }])

function report(diagnostics) {
  const errors = diagnostics.filter((d) => d.category === ts.DiagnosticCategory.Error)
  if (errors.length === 0) return
  const host = {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: ts.sys.getCurrentDirectory,
    getNewLine: () => '\n',
  }
  process.stderr.write(ts.formatDiagnostics(errors, host))
  process.exit(1)
}
