/**
 * How store failures reach the caller: input errors pass through unchanged, anything else becomes a `StorageError`.
 *
 * @packageDocumentation
 */
import { StorageError, isBudgetError } from '../errors.js'

/** The error as a `StorageError` of the named store. */
export function asStorageError(error: unknown, store: string): StorageError {
  if (error instanceof StorageError) return error
  if (isBudgetError(error) && error.code === 'STORAGE') return error as StorageError
  return new StorageError(store, error instanceof Error ? error.message : 'unknown failure', { cause: error })
}

/** True for errors that mean "bad input", which must not be turned into store errors. */
export function isInputError(error: unknown): boolean {
  return isBudgetError(error) && (error.code === 'INVALID_INPUT' || error.code === 'BUDGET_CONFIG')
}

/** Runs a store operation; a failure that is not an input error becomes a `StorageError`. */
export async function storeCall<T>(store: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation()
  } catch (error) {
    throw isInputError(error) ? error : asStorageError(error, store)
  }
}
