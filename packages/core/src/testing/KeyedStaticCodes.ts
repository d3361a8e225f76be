/**
 * Static codes with key rotation, for tests of re-sealing stored door codes: tokens name the
 * key generation that sealed them (`key<generation>:<code>`, NOT encryption). `rotateKey`
 * makes a new current key while older tokens still open; `retireOldKeys` stops them opening.
 * Also provides `FakeStaticCodes` (the per-pod code lists), so it replaces that double.
 */
import { Context, Effect, Layer } from "effect"
import { type AccessCode, accessCode } from "../doorcodes/AccessCode.js"
import type { PodId } from "../Ids.js"
import { SealedCodeKeys, type SealedCodeKeysShape } from "../ports/SealedCodeKeys.js"
import { StaticCodes, type StaticCodesShape, UnreadableAccessToken } from "../ports/StaticCodes.js"
import { FakeStaticCodes, type FakeStaticCodesControl } from "./FakeStaticCodes.js"

export interface KeyedStaticCodesControl {
  /** A new current key; tokens sealed under older keys still open until `retireOldKeys`. */
  readonly rotateKey: () => void
  /** Only the current key opens tokens from now on. */
  readonly retireOldKeys: () => void
  /** The generation that sealed a token, if it is one of ours. */
  readonly generationOf: (token: string) => number | undefined
  readonly currentGeneration: () => number
}

export class KeyedStaticCodes extends Context.Tag("@qwip/core/testing/KeyedStaticCodes")<
  KeyedStaticCodes,
  KeyedStaticCodesControl
>() {}

const TOKEN = /^key(\d+):(\d{4,12})$/

export const makeKeyedStaticCodes = () => {
  const lists = new Map<PodId, ReadonlyArray<AccessCode>>()
  let current = 1
  let oldest = 1
  const parse = (token: string) => {
    const match = TOKEN.exec(token)
    return match === null ? undefined : { generation: Number(match[1]), code: accessCode(match[2] ?? "") }
  }
  const open = (token: string) =>
    Effect.suspend(() => {
      const parsed = parse(token)
      if (parsed === undefined) return Effect.fail(new UnreadableAccessToken({ reason: "not a keyed test token" }))
      if (parsed.generation < oldest || parsed.generation > current) {
        return Effect.fail(new UnreadableAccessToken({ reason: `key ${parsed.generation} is not known` }))
      }
      return Effect.succeed(parsed)
    })
  const seal = (code: AccessCode) => Effect.sync(() => `key${current}:${code}`)
  const codes: StaticCodesShape = {
    codesFor: (podId) => Effect.sync(() => lists.get(podId) ?? []),
    seal,
    open: (token) => Effect.map(open(token), (p) => p.code)
  }
  const keys: SealedCodeKeysShape = {
    needsRekey: (token) => Effect.map(open(token), (p) => p.generation < current),
    rekey: (token) => Effect.flatMap(open(token), (p) => seal(p.code))
  }
  const lists_: FakeStaticCodesControl = { setCodes: (podId, list) => lists.set(podId, list.map(accessCode)) }
  const control: KeyedStaticCodesControl = {
    rotateKey: () => {
      current++
    },
    retireOldKeys: () => {
      oldest = current
    },
    generationOf: (token) => parse(token)?.generation,
    currentGeneration: () => current
  }
  return { codes, keys, lists: lists_, control }
}

/** `StaticCodes`, `SealedCodeKeys`, `FakeStaticCodes` and `KeyedStaticCodes`, fresh. */
export const layerKeyedStaticCodes = Layer.effectContext(
  Effect.sync(() => {
    const { codes, keys, lists, control } = makeKeyedStaticCodes()
    return Context.make(StaticCodes, codes).pipe(
      Context.add(SealedCodeKeys, keys),
      Context.add(FakeStaticCodes, lists),
      Context.add(KeyedStaticCodes, control)
    )
  })
)
