/**
 * @qwip/core/testing: in-memory layers for every port, with switches to inject failures,
 * so tests (ours and other apps') run use cases with no I/O. Test doubles, not the
 * embedded default.
 *
 * @example
 * const layer = TestKit.layer({ pods: [TestKit.demoPod()] })
 * it.effect("ends once", () => Effect.gen(function* () { ... }).pipe(Effect.provide(layer)))
 */
import { Duration, Layer, Option } from "effect"
import type { PodId } from "../Ids.js"
import { type AccessMode, Pod } from "../Pod.js"
import { Policy, type PolicyShape } from "../Policy.js"
import { rate } from "../tariff/Rate.js"
import { layerFakeLock } from "./FakeLock.js"
import { layerFakeMailer } from "./FakeMailer.js"
import { layerFakePayLinks } from "./FakePayLinks.js"
import { layerFakePayments } from "./FakePayments.js"
import { layerFakeStaticCodes } from "./FakeStaticCodes.js"
import { layerMemoryStore } from "./MemoryStore.js"

export * from "./FakeLock.js"
export * from "./FakeMailer.js"
export * from "./FakePayLinks.js"
export * from "./FakePayments.js"
export * from "./FakeStaticCodes.js"
export * from "./Faults.js"
export * from "./KeyedStaticCodes.js"
export * from "./MemoryStaffStore.js"
export * from "./MemoryStore.js"

/** A pod for tests: 50p a minute, static codes unless a lock device is given. */
export const demoPod = (
  options: { readonly id?: string; readonly rate?: string; readonly mode?: AccessMode; readonly deviceId?: string } = {}
): Pod =>
  new Pod({
    id: (options.id ?? "pod-1") as PodId,
    name: `Pod ${options.id ?? "pod-1"}`,
    address: "1 Test Street, London",
    rate: rate(options.rate ?? "0.5"),
    lockDeviceId: Option.fromNullable(options.deviceId ?? (options.mode === "lock-provider" ? "device-1" : undefined)),
    accessMode: options.mode ?? "static"
  })

/** Policy for tests: quick retries, so `TestClock.adjust` of seconds drives them. */
export const testPolicy: Partial<PolicyShape> = {
  provisioningBackoff: Duration.millis(100),
  activationPoll: Duration.millis(100),
  provisioningDeadline: Duration.seconds(5),
  chargeBackoff: Duration.millis(100),
  outsideCallDeadline: Duration.seconds(5),
  workLease: Duration.seconds(30)
}

/** Every port in memory plus the policy, with controls for each double. */
export const layer = (options: { readonly pods?: ReadonlyArray<Pod>; readonly policy?: Partial<PolicyShape> } = {}) =>
  Layer.mergeAll(
    layerMemoryStore(options.pods ?? [demoPod()]),
    layerFakePayments,
    layerFakePayLinks,
    layerFakeLock,
    layerFakeStaticCodes,
    layerFakeMailer,
    Policy.layer({ ...testPolicy, ...options.policy })
  )
