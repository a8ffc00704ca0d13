/**
 * `llm-budget/file`: the durable, multi-process file store (Node only).
 *
 * @packageDocumentation
 */
export { fileStore } from '../file.js'
export type { FileStore, FileStoreOptions, FileStoreRecovery, FileStoreStats } from '../file.js'
