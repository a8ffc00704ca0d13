/** Files loaded statically from `entry` (relative to `directory`), the entry first, as paths relative to `directory`. */
export function staticImportGraph(directory: string, entry: string): string[]
/** The text of each file of {@link staticImportGraph}, in the same order. */
export function staticImportSources(directory: string, entry: string): string[]
