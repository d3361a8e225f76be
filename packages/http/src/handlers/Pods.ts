/**
 * Pods: one pod's status (today's `GET /api/pod`), the list for pickers and maps, and a lock's
 * state. Each is one store read.
 */
import { HttpApiBuilder } from "@effect/platform"
import { LockStatus, PodNotFound, type PodStatus, rateToPoundsNumber, SessionStore } from "@qwip/core"
import { Effect, Option } from "effect"
import { PlatformInfo } from "../Adapters.js"
import { QwipApi } from "../Api.js"
import { orProblem } from "../Problem.js"

const podView = (status: PodStatus) => ({
  name: status.pod.name,
  address: status.pod.address,
  price_per_minute: rateToPoundsNumber(status.pod.rate),
  in_use: status.inUse
})

export const PodsLive = HttpApiBuilder.group(QwipApi, "pods", (handlers) =>
  Effect.gen(function* () {
    const store = yield* SessionStore
    const platform = yield* PlatformInfo
    return handlers
      .handle("getPod", ({ urlParams }) =>
        store.podStatus(urlParams.pod_id).pipe(
          Effect.flatMap(
            Option.match({
              onNone: () => Effect.fail(new PodNotFound({ podId: urlParams.pod_id })),
              onSome: (status) => Effect.succeed(podView(status))
            })
          ),
          orProblem
        )
      )
      .handle("listPods", () =>
        Effect.map(store.pods, (pods) => ({ pods: pods.map((s) => ({ id: s.pod.id, ...podView(s) })) }))
      )
      .handle("lockStatus", ({ urlParams }) =>
        LockStatus.lockStatus(urlParams.device_id, platform.locks === "none" ? "none" : "configured").pipe(
          Effect.map((status) => ({ is_locked: status.isLocked })),
          orProblem
        )
      )
  })
)
