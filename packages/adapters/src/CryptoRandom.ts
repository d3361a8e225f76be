/**
 * Effect's `Random` backed by the operating system's cryptographic source. The core draws
 * session ids, static-code picks and retry jitter from `Random`; entry points install this
 * one (`Layer.setRandom`) so session ids, which appear in links, cannot be guessed.
 */
import { randomBytes, randomInt } from "node:crypto"
import { Chunk, Effect, Layer, Random } from "effect"

/** A float in [0, 1) with 53 random bits. */
const nextDouble = (): number => {
  const b = randomBytes(7)
  const high = ((b[0] ?? 0) << 13) | ((b[1] ?? 0) << 5) | ((b[2] ?? 0) >>> 3)
  const low = ((b[3] ?? 0) << 24) | ((b[4] ?? 0) << 16) | ((b[5] ?? 0) << 8) | (b[6] ?? 0)
  return (high * 2 ** 32 + (low >>> 0)) / 2 ** 53
}

export const cryptoRandom: Random.Random = {
  [Random.RandomTypeId]: Random.RandomTypeId,
  next: Effect.sync(nextDouble),
  nextBoolean: Effect.sync(() => randomInt(2) === 1),
  nextInt: Effect.sync(() => randomInt(-(2 ** 31), 2 ** 31)),
  nextRange: (min, max) => Effect.sync(() => min + nextDouble() * (max - min)),
  // Same contract as Effect's: an integer in [min, max).
  nextIntBetween: (min, max) => Effect.sync(() => (max - min <= 1 ? min : randomInt(min, max))),
  shuffle: (elements) =>
    Effect.sync(() => {
      const out = Array.from(elements)
      for (let i = out.length - 1; i > 0; i--) {
        const j = randomInt(i + 1)
        const tmp = out[i] as (typeof out)[number]
        out[i] = out[j] as (typeof out)[number]
        out[j] = tmp
      }
      return Chunk.fromIterable(out)
    })
}

/** Installs the cryptographic `Random` for everything the layer's consumers run. */
export const layerCryptoRandom: Layer.Layer<never> = Layer.setRandom(cryptoRandom)
