/**
 * `qwip pods list | add | set-rate | set-device | release`.
 */
import { Args, Command, Options } from "@effect/cli"
import {
  type AccessMode,
  formatRate,
  Pod,
  PodNotFound,
  parseRate,
  SessionStore,
  StaffAudit,
  StaffPods,
  StaffSessions,
  StaffStore
} from "@qwip/core"
import { Effect, Either, Option } from "effect"
import { actorName, changeOptions, confirm, onPlatform, podIdOf, readOptions, UsageError } from "../Common.js"
import { green, printJson, printTable, say, yellow } from "../Output.js"

const rateOf = (text: string) =>
  Either.match(parseRate(text), {
    onLeft: (reason) => Effect.fail(new UsageError({ message: `rate: ${reason} (pounds per minute, e.g. 0.5)` })),
    onRight: Effect.succeed
  })

const mode = Options.choice("mode", ["static", "lock-provider"] as const).pipe(
  Options.withDescription("how door codes are made: a static code list, or the pod's smart lock"),
  Options.optional
)

const list = Command.make("list", readOptions, (o) =>
  onPlatform(o.dataDir)(
    Effect.gen(function* () {
      const store = yield* SessionStore
      const staff = yield* StaffStore
      const pods = yield* store.pods
      const live = yield* StaffSessions.listSessions({ filter: "live", limit: 10_000 })
      const rows = yield* Effect.forEach(pods, (status) =>
        Effect.map(staff.podCodes(status.pod.id), (codes) => ({
          ...StaffAudit.podRecord(status),
          liveSessions: live.filter((s) => s.podId === status.pod.id).map((s) => s.id),
          codes: codes.length
        }))
      )
      if (o.json) return yield* printJson(rows)
      yield* printTable(
        ["POD", "NAME", "£/MIN", "MODE", "DEVICE", "IN USE", "LIVE SESSION", "BLOCKED BY CODE ON LOCK", "CODES"],
        rows.map((p) => [
          p.id,
          p.name,
          p.rate,
          p.accessMode,
          p.lockDeviceId ?? "-",
          p.inUse ? yellow("yes") : "no",
          p.liveSessions.join(", ") || "-",
          p.codeHold === null ? "-" : yellow(`session ${p.codeHold.sessionId} since ${p.codeHold.since}`),
          String(p.codes)
        ]),
        "no pods"
      )
      const blocked = rows.filter((p) => p.codeHold !== null)
      for (const p of blocked) {
        yield* say(
          `Pod ${p.id} is blocked: a door code of session ${p.codeHold?.sessionId} is not confirmed removed from its lock; it frees itself once the lock confirms. To free it now, remove the code by hand, then: qwip pods release ${p.id} --force --reason TEXT`
        )
      }
    })
  )
).pipe(Command.withDescription("pods, with whether a live session, or a door code still on the lock, holds each"))

const add = Command.make(
  "add",
  {
    ...changeOptions,
    id: Args.text({ name: "POD" }).pipe(
      Args.withDescription("the new pod's id (e.g. pod-7): customers book it, and staff commands name it, by this id")
    ),
    name: Options.text("name").pipe(Options.withDescription("the pod's name, shown to customers")),
    address: Options.text("address").pipe(Options.withDescription("where the pod is, shown to customers")),
    rate: Options.text("rate").pipe(Options.withDescription("what customers pay, in pounds per minute (e.g. 0.5)")),
    mode,
    device: Options.text("device").pipe(Options.withDescription("the smart lock's device id"), Options.optional)
  },
  (o) =>
    Effect.gen(function* () {
      const podId = yield* podIdOf(o.id)
      const rate = yield* rateOf(o.rate)
      const accessMode: AccessMode = Option.getOrElse(o.mode, () =>
        Option.isSome(o.device) ? "lock-provider" : "static"
      )
      const pod = new Pod({ id: podId, name: o.name, address: o.address, rate, lockDeviceId: o.device, accessMode })
      yield* onPlatform(o.dataDir)(
        Effect.gen(function* () {
          yield* confirm(o.yes, `Add pod ${podId} (${o.name}, £${formatRate(rate)}/min, ${accessMode})?`)
          yield* StaffPods.addPod(pod, { by: actorName(o.actor) })
          yield* say(
            green(`Added pod ${podId}.`) +
              (accessMode === "static" ? ` Give it door codes with qwip codes rotate --pod ${podId}.` : "")
          )
        })
      )
    })
).pipe(Command.withDescription("add a pod (free, bookable at once)"))

const setRate = Command.make(
  "set-rate",
  {
    ...changeOptions,
    id: Args.text({ name: "POD" }).pipe(Args.withDescription("the pod whose price changes")),
    rate: Args.text({ name: "RATE" }).pipe(
      Args.withDescription(
        "the new price in pounds per minute (e.g. 0.65); live sessions keep the price they started at"
      )
    )
  },
  (o) =>
    Effect.gen(function* () {
      const podId = yield* podIdOf(o.id)
      const rate = yield* rateOf(o.rate)
      yield* onPlatform(o.dataDir)(
        Effect.gen(function* () {
          const store = yield* SessionStore
          const status = yield* store.podStatus(podId)
          if (Option.isNone(status)) return yield* new PodNotFound({ podId })
          if (status.value.pod.rate === rate) return yield* say(`Pod ${podId} already costs £${formatRate(rate)}/min.`)
          yield* confirm(
            o.yes,
            `Change pod ${podId}'s rate from £${formatRate(status.value.pod.rate)} to £${formatRate(rate)} a minute? Live sessions keep their rate.`
          )
          yield* StaffPods.setPodRate(podId, rate, { by: actorName(o.actor) })
          yield* say(green(`Pod ${podId} now costs £${formatRate(rate)}/min for new sessions.`))
        })
      )
    })
).pipe(Command.withDescription("change a pod's price per minute (new sessions only)"))

const setDevice = Command.make(
  "set-device",
  {
    ...changeOptions,
    id: Args.text({ name: "POD" }).pipe(Args.withDescription("the pod whose smart lock changes")),
    device: Args.text({ name: "DEVICE" }).pipe(
      Args.withDescription("the smart lock's device id, from the lock provider (or --none)"),
      Args.optional
    ),
    none: Options.boolean("none").pipe(
      Options.withDescription("remove the pod's lock device (give it static door codes with qwip codes rotate)")
    ),
    mode
  },
  (o) =>
    Effect.gen(function* () {
      const podId = yield* podIdOf(o.id)
      if (Option.isSome(o.device) === o.none) {
        return yield* new UsageError({ message: "give a DEVICE id, or --none to remove the pod's device" })
      }
      const device = o.none ? Option.none<string>() : o.device
      yield* onPlatform(o.dataDir)(
        Effect.gen(function* () {
          yield* confirm(
            o.yes,
            `Set pod ${podId}'s lock device to ${Option.getOrElse(device, () => "none")}${Option.match(o.mode, { onNone: () => "", onSome: (m) => ` (${m} mode)` })}?`
          )
          const result = yield* StaffPods.setPodDevice(
            podId,
            { deviceId: device, accessMode: Option.getOrUndefined(o.mode) },
            { by: actorName(o.actor) }
          )
          const p = result.after.pod
          yield* say(
            result.changed
              ? green(`Pod ${podId}: device ${Option.getOrElse(p.lockDeviceId, () => "none")}, ${p.accessMode} mode.`)
              : `Pod ${podId} already has that device and mode.`
          )
        })
      )
    })
).pipe(Command.withDescription("set or remove a pod's smart-lock device (refused while a live session holds it)"))

const release = Command.make(
  "release",
  {
    ...changeOptions,
    id: Args.text({ name: "POD" }).pipe(Args.withDescription("the pod to free for new bookings")),
    force: Options.boolean("force").pipe(
      Options.withDescription(
        "end the live sessions holding the pod first, or free it from a door code still on its lock (needs --reason)"
      )
    ),
    reason: Options.text("reason").pipe(Options.withDescription("why the pod is forced free"), Options.optional),
    waive: Options.boolean("waive").pipe(Options.withDescription("with --force: waive the ended sessions' charges"))
  },
  (o) =>
    Effect.gen(function* () {
      const podId = yield* podIdOf(o.id)
      if (o.force && Option.isNone(o.reason)) return yield* new UsageError({ message: "--force needs --reason TEXT" })
      if (!o.force && (Option.isSome(o.reason) || o.waive)) {
        return yield* new UsageError({ message: "--reason and --waive go with --force" })
      }
      yield* onPlatform(o.dataDir)(
        Effect.gen(function* () {
          const store = yield* SessionStore
          const live = yield* store.liveSessionsOnPod(podId)
          if (live.length > 0 && o.force) {
            yield* confirm(
              o.yes,
              `Pod ${podId} is held by ${live.map((s) => `${s.id} (${s.state._tag})`).join(", ")}. End ${live.length === 1 ? "it" : "them"} now (${o.waive ? "waived" : "active sessions charged from when their door code was ready, provisioning ones not charged"}) and free the pod?`
            )
          }
          const hold = Option.flatMap(yield* store.podStatus(podId), (p) => p.codeHold)
          if (Option.isSome(hold) && o.force) {
            yield* confirm(
              o.yes,
              `Pod ${podId} is blocked by session ${hold.value.sessionId}'s door code, not confirmed removed from the lock since ${hold.value.since.toISOString()}. Free the pod anyway (remove the code by hand first, or the previous customer may still open the door)?`
            )
          }
          const result = yield* StaffPods.releasePod(podId, {
            by: actorName(o.actor),
            force: o.force ? { reason: Option.getOrElse(o.reason, () => ""), waive: o.waive } : undefined
          })
          for (const s of result.endedSessions) {
            const state = s.state
            yield* say(
              `Ended session ${s.id}: ${state._tag === "Ended" ? state.outcome._tag : state._tag}${state._tag === "Ended" ? ` (${state.quote.chargePence}p)` : ""}.`
            )
          }
          if (Option.isSome(result.codeOverridden)) {
            yield* say(
              yellow(
                `Freed before the lock confirmed session ${result.codeOverridden.value.sessionId}'s door code gone (recorded in the audit log); its removal keeps being retried.`
              )
            )
          }
          yield* say(
            result.changed
              ? green(`Pod ${podId} is free.`)
              : `Pod ${podId} was already free${result.after.inUse ? yellow(" (still marked in use)") : ""}.`
          )
        })
      )
    })
).pipe(
  Command.withDescription(
    "free a pod for new bookings; refused while a live session holds it unless --force --reason, which ends those sessions as qwip sessions end does (charged, or not with --waive)"
  )
)

export const pods = Command.make("pods").pipe(
  Command.withDescription(
    'the pods customers book: list, add, price, lock device, release. Example: qwip pods add pod-7 --name "Soho 7" --address "7 Dean St" --rate 0.5'
  ),
  Command.withSubcommands([list, add, setRate, setDevice, release])
)
