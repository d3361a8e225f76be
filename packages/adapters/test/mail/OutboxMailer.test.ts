import { describe, expect, it } from "@effect/vitest"
import { AccessReady, accessCode, Mailer, type SessionId, StaffAlert } from "@qwip/core"
import { Effect, Layer, Logger } from "effect"
import { layerOutboxMailer, makeMemoryOutbox, Outbox } from "../../src/mail/OutboxMailer.js"

const SESSION = "6f1d3c52-1b7a-4c1e-9d59-0d2b8a1c9e11" as SessionId
const access = new AccessReady({
  to: "ada@example.com",
  sessionId: SESSION,
  podName: "Pod <One>",
  podAddress: "1 High St",
  startsAt: new Date("2025-01-01T09:05:00Z"),
  accessUntil: new Date("2025-01-01T12:05:00Z"),
  code: accessCode("04726")
})

describe("outbox mailer", () => {
  it.effect("keeps each email once, rendered, and never logs the code or token", () =>
    Effect.gen(function* () {
      const logs: Array<string> = []
      const logger = Logger.make(({ message, annotations }) => logs.push(JSON.stringify({ message, annotations })))
      const outbox = makeMemoryOutbox()
      const layer = layerOutboxMailer({
        manageLink: () => Effect.succeed("https://qwip.co.uk/session?t=SECRET.TOKEN")
      }).pipe(Layer.provide(Layer.succeed(Outbox, outbox)))
      yield* Effect.gen(function* () {
        const mailer = yield* Mailer
        yield* mailer.send(access)
        yield* mailer.send(access)
        yield* mailer.send(new StaffAlert({ topic: "overdue", sessionId: SESSION, podId: "pod-1", detail: "late" }))
      }).pipe(Effect.provide(layer), Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      const kept = yield* outbox.list(10)
      expect(kept.map((e) => e.kind)).toEqual(["StaffAlert", "AccessReady"])
      const email = kept[1]
      expect(email?.recipient).toBe("ada@example.com")
      expect(email?.rendered.subject).toBe("Your qwip session at Pod <One> from 1st January 2025 @ 9:05am")
      expect(email?.rendered.text).toContain("0 4 7 2 6")
      expect(email?.rendered.html).toContain("Pod &lt;One&gt;")
      expect(kept[0]?.recipient).toBe("staff@qwip.local")
      expect(logs).toHaveLength(2)
      expect(logs.join("\n")).not.toMatch(/04726|0 4 7 2 6|SECRET|ada@/)
    })
  )
})
