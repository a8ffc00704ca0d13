/**
 * Wraps an ioredis client (standalone or Cluster) so that every pipeline it hands out records its number of
 * commands in `sizes` when executed; everything else goes to the client unchanged.
 */
import type { ChainableCommander } from 'ioredis'

/** The wrapped client and the sizes of the pipelines it has executed, in order. */
export function spyPipelines<T extends { pipeline(): ChainableCommander }>(client: T): { client: T; sizes: number[] } {
  const sizes: number[] = []
  const pipeline = client.pipeline.bind(client)
  const spy = new Proxy(client, {
    get: (target, name, receiver) =>
      name === 'pipeline'
        ? () => {
            const p = pipeline()
            const exec = p.exec.bind(p)
            p.exec = (() => {
              sizes.push(p.length)
              return exec()
            }) as typeof p.exec
            return p
          }
        : Reflect.get(target, name, receiver),
  })
  return { client: spy, sizes }
}
