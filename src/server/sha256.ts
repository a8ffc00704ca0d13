/**
 * The server's synchronous SHA-256 (moved to `src/internal/sha256.ts`, which the ledger keys use as well).
 *
 * @internal Used by the server.
 */
export { sha256, sha256Hex } from '../internal/sha256.js'
