/**
 * Static code lists per pod, with a reversible stand-in for sealing (NOT encryption:
 * the AES-GCM implementation lives in @qwip/adapters).
 */
import { Context, Effect, Layer } from "effect"
import type { AccessCode } from "../doorcodes/AccessCode.js"
import { accessCode } from "../doorcodes/AccessCode.js"
import type { PodId } from "../Ids.js"
import { StaticCodes, type StaticCodesShape, UnreadableAccessToken } from "../ports/StaticCodes.js"

export interface FakeStaticCodesControl {
  readonly setCodes: (podId: PodId, codes: ReadonlyArray<string>) => void
}

export class FakeStaticCodes extends Context.Tag("@qwip/core/testing/FakeStaticCodes")<
  FakeStaticCodes,
  FakeStaticCodesControl
>() {}

const PREFIX = "sealed:"

export const makeFakeStaticCodes = () => {
  const lists = new Map<PodId, ReadonlyArray<AccessCode>>()
  const codes: StaticCodesShape = {
    codesFor: (podId) => Effect.sync(() => lists.get(podId) ?? []),
    seal: (code) => Effect.succeed(`${PREFIX}${code}`),
    open: (token) =>
      token.startsWith(PREFIX)
        ? Effect.try({
            try: () => accessCode(token.slice(PREFIX.length)),
            catch: () => new UnreadableAccessToken({ reason: "not digits" })
          })
        : Effect.fail(new UnreadableAccessToken({ reason: "not sealed by the test double" }))
  }
  const control: FakeStaticCodesControl = {
    setCodes: (podId, list) => lists.set(podId, list.map(accessCode))
  }
  return { codes, control }
}

export const layerFakeStaticCodes = Layer.effectContext(
  Effect.sync(() => {
    const { codes, control } = makeFakeStaticCodes()
    return Context.make(StaticCodes, codes).pipe(Context.add(FakeStaticCodes, control))
  })
)
