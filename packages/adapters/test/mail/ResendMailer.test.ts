import { describe, expect, it, layer } from "@effect/vitest"
import {
  AccessReady,
  accessCode,
  Mailer,
  type MailFailed,
  messageKey,
  PaymentProblem,
  ProvisioningFailedNotice,
  pence,
  type SessionId,
  StaffAlert
} from "@qwip/core"
import { ResendServer, type ScriptedResponse } from "@qwip/test-support/ResendServer"
import { ConfigProvider, Effect, HashMap, Layer, Logger, Option, Redacted, Schedule } from "effect"
import {
  classifyResendError,
  layerFromConfig,
  makeResendMailer,
  type ResendMailerOptions,
  resendConfig
} from "../../src/mail/ResendMailer.js"
import { type ManageLink, manageSessionUrl } from "../../src/mail/Templates.js"

const sessionId = "6d1f3c2a-9b8e-4f7d-a6c5-0e1d2c3b4a59" as SessionId
const STAFF = ["ops@qwip.co.uk", "founder@founders.example"]
const sessionToken = (id: SessionId) => `eyJhbGciOiJIUzI1NiJ9.session-${id}.sig`
const manageLink: ManageLink = (id) => Effect.succeed(manageSessionUrl(sessionToken(id)))

/** Retries without waiting long, so scripted failures finish quickly. */
const quickRetries = Schedule.exponential("5 millis").pipe(Schedule.intersect(Schedule.recurs(3)))

const accessReady = (overrides: Partial<ConstructorParameters<typeof AccessReady>[0]> = {}) =>
  new AccessReady({
    to: "ada@example.com",
    sessionId,
    podName: "Soho 1",
    podAddress: "1 Dean St, London",
    startsAt: new Date("2025-07-02T13:30:00Z"),
    accessUntil: new Date("2025-07-02T16:30:00Z"),
    code: accessCode("04726"),
    ...overrides
  })

const paymentProblem = new PaymentProblem({
  sessionId,
  customerEmail: "ada@example.com",
  amountPence: pence(1234),
  problem: "declined",
  detail: "card_declined"
})

const mailerFor = (server: typeof ResendServer.Service, overrides: Partial<ResendMailerOptions> = {}) =>
  makeResendMailer({
    apiKey: Redacted.make(server.apiKey),
    baseUrl: server.baseUrl,
    staffEmails: STAFF,
    manageLink,
    retrySchedule: quickRetries,
    ...overrides
  })

/** A fresh stand-in state plus a mailer pointed at it. */
const setup = (overrides: Partial<ResendMailerOptions> = {}) =>
  Effect.gen(function* () {
    const server = yield* ResendServer
    yield* server.reset
    return { server, mailer: mailerFor(server, overrides) }
  })

const script = (...responses: ReadonlyArray<ScriptedResponse>) =>
  Effect.flatMap(ResendServer, (server) => server.script(...responses))

const error = (status: number, name: string): ScriptedResponse => ({ _tag: "Error", status, name })

const withEnv =
  (env: Record<string, string>) =>
  <A, E, R>(self: Effect.Effect<A, E, R>) =>
    Effect.withConfigProvider(self, ConfigProvider.fromMap(new Map(Object.entries(env))))

// A live clock: retries really wait (briefly) and the stand-in is a real HTTP server.
// The default logger is removed to keep test output quiet; logging tests add their own.
layer(Layer.merge(ResendServer.layer, Logger.remove(Logger.defaultLogger)), { excludeTestServices: true })(
  "ResendMailer",
  (it) => {
    describe("requests", () => {
      it.effect("sends the access email: auth, from, to, London subject, spaced code, link, idempotency key", () =>
        Effect.gen(function* () {
          const { server, mailer } = yield* setup()
          const message = accessReady()
          yield* mailer.send(message)

          const [request] = yield* server.requests
          expect(request?.method).toBe("POST")
          expect(request?.path).toBe("/emails")
          expect(request?.authorization).toBe("Bearer re_test_123")
          expect(request?.idempotencyKey).toBe(messageKey(message))
          expect(request?.idempotencyKey).toBe(`AccessReady:${sessionId}`)

          const [email] = yield* server.sent
          expect(email?.from).toBe("hello@qwip.co.uk")
          expect(email?.to).toEqual(["ada@example.com"])
          // BST: 13:30 UTC is 2:30pm in London.
          expect(email?.subject).toBe("Your qwip session at Soho 1 from 2nd July 2025 @ 2:30pm")
          expect(email?.html).toContain("0 4 7 2 6")
          expect(email?.text).toContain("0 4 7 2 6")
          const link = `https://qwip.co.uk/session?t=${sessionToken(sessionId)}`
          expect(email?.html).toContain(`href="${link}"`)
          expect(email?.text).toContain(link)
        })
      )

      it.effect("formats a GMT start and escapes the pod name in the HTML part", () =>
        Effect.gen(function* () {
          const { server, mailer } = yield* setup()
          yield* mailer.send(
            accessReady({ podName: "<script>alert(1)</script> & Sons", startsAt: new Date("2025-01-01T09:05:00Z") })
          )
          const [email] = yield* server.sent
          expect(email?.subject).toBe(
            "Your qwip session at <script>alert(1)</script> & Sons from 1st January 2025 @ 9:05am"
          )
          expect(email?.html).not.toContain("<script>")
          expect(email?.html).toContain("&lt;script&gt;alert(1)&lt;/script&gt; &amp; Sons")
        })
      )

      it.effect("uses the configured from address", () =>
        Effect.gen(function* () {
          const { server, mailer } = yield* setup({ from: "Qwip <bookings@qwip.co.uk>" })
          yield* mailer.send(accessReady())
          expect((yield* server.sent)[0]?.from).toBe("Qwip <bookings@qwip.co.uk>")
        })
      )
    })

    describe("idempotency", () => {
      it.effect("the same message twice sends one email (same key, same id)", () =>
        Effect.gen(function* () {
          const { server, mailer } = yield* setup()
          yield* mailer.send(accessReady())
          yield* mailer.send(accessReady())
          const requests = yield* server.requests
          expect(requests).toHaveLength(2)
          expect(requests.map((r) => r.idempotencyKey)).toEqual([
            `AccessReady:${sessionId}`,
            `AccessReady:${sessionId}`
          ])
          expect(yield* server.sent).toHaveLength(1)
        })
      )

      it.effect("a repeat whose link was minted afresh is treated as already sent", () =>
        Effect.gen(function* () {
          const { server, mailer } = yield* setup()
          yield* mailer.send(accessReady())
          const remint = mailerFor(server, { manageLink: () => Effect.succeed(manageSessionUrl("a-newer-token")) })
          yield* remint.send(accessReady())
          expect((yield* server.requests).map((r) => r.status)).toEqual([200, 409])
          expect(yield* server.sent).toHaveLength(1)
        })
      )

      it.effect("different messages for one session have different keys", () =>
        Effect.gen(function* () {
          const { server, mailer } = yield* setup()
          yield* mailer.send(accessReady())
          yield* mailer.send(new ProvisioningFailedNotice({ to: "ada@example.com", sessionId, podName: "Soho 1" }))
          expect((yield* server.sent).map((e) => e.idempotencyKey)).toEqual([
            `AccessReady:${sessionId}`,
            `ProvisioningFailedNotice:${sessionId}`
          ])
        })
      )
    })

    describe("staff routing", () => {
      it.effect("PaymentProblem goes to STAFF_EMAILS with the session, customer and pence", () =>
        Effect.gen(function* () {
          const { server, mailer } = yield* setup()
          yield* mailer.send(paymentProblem)
          const [email] = yield* server.sent
          expect(email?.to).toEqual(STAFF)
          expect(email?.idempotencyKey).toBe(`PaymentProblem:${sessionId}:declined`)
          expect(email?.text).toContain(sessionId)
          expect(email?.text).toContain("ada@example.com")
          expect(email?.text).toContain("1234")
        })
      )

      it.effect("StaffAlert goes to STAFF_EMAILS", () =>
        Effect.gen(function* () {
          const { server, mailer } = yield* setup({ staffEmails: ["oncall@qwip.co.uk"] })
          yield* mailer.send(new StaffAlert({ topic: "overdue", sessionId, podId: "pod-1", detail: "5 hours" }))
          expect((yield* server.sent)[0]?.to).toEqual(["oncall@qwip.co.uk"])
        })
      )

      it.effect("with no staff addresses, fails without calling Resend", () =>
        Effect.gen(function* () {
          const { server, mailer } = yield* setup({ staffEmails: [] })
          const failure = yield* Effect.flip(mailer.send(paymentProblem))
          expect(failure.retryable).toBe(false)
          expect(failure.reason).toContain("STAFF_EMAILS")
          expect(yield* server.requests).toHaveLength(0)
        })
      )
    })

    describe("failures", () => {
      it.effect("500 then success: retried, sent once", () =>
        Effect.gen(function* () {
          const { server, mailer } = yield* setup()
          yield* script(error(500, "internal_server_error"))
          yield* mailer.send(accessReady())
          expect((yield* server.requests).map((r) => r.status)).toEqual([500, 200])
          expect(yield* server.sent).toHaveLength(1)
        })
      )

      it.effect("the default schedule retries too", () =>
        Effect.gen(function* () {
          const { server } = yield* setup()
          const mailer = makeResendMailer({
            apiKey: Redacted.make(server.apiKey),
            baseUrl: server.baseUrl,
            staffEmails: STAFF,
            manageLink
          })
          yield* script(error(503, "application_error"))
          yield* mailer.send(accessReady())
          expect((yield* server.requests).map((r) => r.status)).toEqual([503, 200])
        })
      )

      it.effect("a dropped connection and a non-JSON 502 are retried", () =>
        Effect.gen(function* () {
          const { server, mailer } = yield* setup()
          yield* script({ _tag: "Drop" }, { _tag: "Html", status: 502 })
          yield* mailer.send(accessReady())
          expect((yield* server.requests).map((r) => r.status)).toEqual([0, 502, 200])
          expect(yield* server.sent).toHaveLength(1)
        })
      )

      it.effect("an attempt that hangs times out and is retried", () =>
        Effect.gen(function* () {
          const { server, mailer } = yield* setup({ attemptTimeout: "100 millis" })
          yield* script({ _tag: "Hang" })
          yield* mailer.send(accessReady())
          expect((yield* server.requests).map((r) => r.status)).toEqual([0, 200])
          expect(yield* server.sent).toHaveLength(1)
        })
      )

      it.effect("a send that keeps hanging ends at its deadline, retries included: MailFailed, retryable", () =>
        Effect.gen(function* () {
          const { server, mailer } = yield* setup({ attemptTimeout: "100 millis", deadline: "250 millis" })
          yield* script({ _tag: "Hang" }, { _tag: "Hang" }, { _tag: "Hang" }, { _tag: "Hang" })
          const failure = yield* Effect.flip(mailer.send(accessReady()))
          expect(failure).toMatchObject({ _tag: "MailFailed", retryable: true })
          expect(failure.reason).toBe("Resend did not answer within 250ms, retries included")
          expect(yield* server.sent).toHaveLength(0)
        })
      )

      it.effect("429 then success: retried", () =>
        Effect.gen(function* () {
          const { server, mailer } = yield* setup()
          yield* script(error(429, "rate_limit_exceeded"))
          yield* mailer.send(accessReady())
          expect((yield* server.requests).map((r) => r.status)).toEqual([429, 200])
        })
      )

      it.effect("persistent 429: a few attempts, then MailFailed that is retryable later", () =>
        Effect.gen(function* () {
          const { server, mailer } = yield* setup()
          yield* script(...Array.from({ length: 6 }, () => error(429, "rate_limit_exceeded")))
          const failure: MailFailed = yield* Effect.flip(mailer.send(accessReady()))
          expect(failure._tag).toBe("MailFailed")
          expect(failure.retryable).toBe(true)
          expect(failure.messageKey).toBe(`AccessReady:${sessionId}`)
          expect(failure.reason).toContain("rate_limit_exceeded (429)")
          // One attempt and three retries.
          expect(yield* server.requests).toHaveLength(4)
          expect(yield* server.sent).toHaveLength(0)
        })
      )

      it.effect("422 validation error: MailFailed, not retryable, not retried", () =>
        Effect.gen(function* () {
          const { server, mailer } = yield* setup()
          yield* script(error(422, "validation_error"))
          const failure = yield* Effect.flip(mailer.send(accessReady()))
          expect(failure.retryable).toBe(false)
          expect(failure.reason).toContain("validation_error (422)")
          expect(yield* server.requests).toHaveLength(1)
        })
      )

      it.effect("a wrong API key: not retryable", () =>
        Effect.gen(function* () {
          const { server, mailer } = yield* setup({ apiKey: Redacted.make("re_wrong") })
          const failure = yield* Effect.flip(mailer.send(accessReady()))
          expect(failure.retryable).toBe(false)
          expect(failure.reason).toContain("invalid_api_key (403)")
          expect(yield* server.requests).toHaveLength(1)
        })
      )

      it.effect("daily quota exceeded: retryable later, not retried now", () =>
        Effect.gen(function* () {
          const { server, mailer } = yield* setup()
          yield* script(error(429, "daily_quota_exceeded"))
          const failure = yield* Effect.flip(mailer.send(accessReady()))
          expect(failure.retryable).toBe(true)
          expect(yield* server.requests).toHaveLength(1)
        })
      )
    })

    describe("logging", () => {
      it.effect("one summary line per send: kind, recipient domain, key; never the code or token", () =>
        Effect.gen(function* () {
          const lines: Array<string> = []
          const capture = Logger.make(({ annotations, logLevel, message }) => {
            lines.push(
              JSON.stringify({ level: logLevel.label, message, ...Object.fromEntries(HashMap.toEntries(annotations)) })
            )
          })
          const { mailer } = yield* setup()
          yield* script(error(500, "internal_server_error"))
          yield* mailer.send(accessReady()).pipe(Effect.provide(Logger.add(capture)))

          expect(lines).toHaveLength(1)
          const line = JSON.parse(lines[0] ?? "{}") as Record<string, unknown>
          expect(line).toMatchObject({
            level: "INFO",
            kind: "AccessReady",
            recipientDomain: "example.com",
            messageKey: `AccessReady:${sessionId}`
          })
          const all = lines.join("\n")
          expect(all).not.toContain("ada@")
          expect(all).not.toContain("04726")
          expect(all).not.toContain("0 4 7 2 6")
          expect(all).not.toContain(sessionToken(sessionId))
        })
      )

      it.effect("a failure logs one warning with the reason", () =>
        Effect.gen(function* () {
          const lines: Array<string> = []
          const capture = Logger.make(({ annotations, logLevel }) => {
            lines.push(JSON.stringify({ level: logLevel.label, ...Object.fromEntries(HashMap.toEntries(annotations)) }))
          })
          const { mailer } = yield* setup()
          yield* script(error(422, "validation_error"))
          yield* Effect.flip(mailer.send(paymentProblem)).pipe(Effect.provide(Logger.add(capture)))
          expect(lines).toHaveLength(1)
          expect(JSON.parse(lines[0] ?? "{}")).toMatchObject({
            level: "WARN",
            kind: "PaymentProblem",
            recipientDomain: "qwip.co.uk,founders.example",
            retryable: false
          })
        })
      )
    })

    describe("configuration", () => {
      it.effect("layerFromConfig reads RESEND_API_KEY, STAFF_EMAILS and RESEND_BASE_URL", () =>
        Effect.gen(function* () {
          const server = yield* ResendServer
          yield* server.reset
          yield* Effect.gen(function* () {
            const mailer = yield* Mailer
            yield* mailer.send(paymentProblem)
          }).pipe(
            Effect.provide(layerFromConfig({ manageLink })),
            withEnv({
              RESEND_API_KEY: server.apiKey,
              STAFF_EMAILS: " a@qwip.co.uk, b@qwip.co.uk ,",
              RESEND_BASE_URL: server.baseUrl
            })
          )
          expect((yield* server.sent)[0]?.to).toEqual(["a@qwip.co.uk", "b@qwip.co.uk"])
        })
      )

      it.effect("STAFF_EMAILS is required when RESEND_API_KEY is set", () =>
        Effect.gen(function* () {
          const failure = yield* Effect.flip(resendConfig.pipe(withEnv({ RESEND_API_KEY: "re_x" })))
          expect(failure.message).toBe("STAFF_EMAILS is required when RESEND_API_KEY is set (comma-separated)")
          expect(String(failure).split("\n")).toHaveLength(1)
          const bad = yield* Effect.flip(
            resendConfig.pipe(withEnv({ RESEND_API_KEY: "re_x", STAFF_EMAILS: "ops, a@b.c" }))
          )
          expect(bad.message).toBe("STAFF_EMAILS has an invalid address: ops")
        })
      )

      it.effect("without RESEND_API_KEY there is no Resend config, and the layer says which variable", () =>
        Effect.gen(function* () {
          expect(Option.isNone(yield* resendConfig.pipe(withEnv({})))).toBe(true)
          const failure = yield* Effect.flip(
            Effect.provide(Mailer, layerFromConfig({ manageLink })).pipe(withEnv({ STAFF_EMAILS: "a@b.c" }))
          )
          expect(failure.message).toContain("RESEND_API_KEY")
        })
      )
    })
  }
)

describe("classifyResendError", () => {
  const cases: ReadonlyArray<readonly [string, number | null, boolean, boolean]> = [
    ["application_error", null, true, true],
    ["internal_server_error", 500, true, true],
    ["application_error", 502, true, true],
    ["rate_limit_exceeded", 429, true, true],
    ["concurrent_idempotent_requests", 409, true, true],
    ["daily_quota_exceeded", 429, true, false],
    ["monthly_quota_exceeded", 429, true, false],
    ["validation_error", 422, false, false],
    ["invalid_from_address", 403, false, false],
    ["missing_required_field", 422, false, false],
    ["invalid_idempotency_key", 400, false, false],
    ["not_found", 404, false, false]
  ]
  it.each(cases)("%s (%s): retryable %s, retry now %s", (name, statusCode, retryable, retryNow) => {
    expect(classifyResendError({ name, statusCode })).toEqual({ retryable, retryNow })
  })
})
