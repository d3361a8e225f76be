/**
 * Staff alerts on the staff channel: a staff email's work also queues `notify-staff` work,
 * which posts `{"text": ...}` to a Slack-compatible webhook (here a local receiver) once per
 * alert key: not again when the work runs twice, once after a failing first attempt (500, then
 * 200), parked at once when the webhook refuses for good (404). Without a channel nothing is
 * queued or posted. The text names the session and the `qwip` command to act on it.
 */
import { createServer, type Server } from "node:http"
import { describe, expect, it } from "@effect/vitest"
import { layerFromEnv, PlatformStartError, SlackWebhook } from "@qwip/adapters"
import {
  messageKey,
  PaymentProblem,
  pence,
  type SessionId,
  SessionStore,
  StaffAlert,
  StaffChannel,
  StaffNotices,
  sendMail,
  Worker,
  WorkItem
} from "@qwip/core"
import { FakeMailer, layer as layerTestKit, MemoryStore } from "@qwip/core/testing"
import {
  Cause,
  ConfigProvider,
  Context,
  Duration,
  Effect,
  Exit,
  Layer,
  Logger,
  LogLevel,
  Option,
  Redacted,
  TestClock
} from "effect"
import { book, eventually, sessionIdOf } from "../support/Client.js"
import { dataDir, makeOffsetClock, serve } from "../support/Service.js"

interface Receiver {
  readonly url: string
  /** Every post's body text, whatever the answer. */
  readonly posts: Array<string>
  /** Statuses to answer with, in order; 200 once they run out. */
  readonly script: Array<number>
}

/** A local webhook receiver on a free port. */
const startReceiver = () =>
  new Promise<{ readonly receiver: Receiver; readonly close: () => Promise<void> }>((resolve) => {
    const posts: Array<string> = []
    const script: Array<number> = []
    const server: Server = createServer((req, res) => {
      let body = ""
      req.on("data", (chunk) => {
        body += chunk
      })
      req.on("end", () => {
        posts.push(JSON.parse(body).text)
        const status = script.shift() ?? 200
        res.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? "ok" : "no_service")
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      resolve({
        receiver: { url: `http://127.0.0.1:${port}/services/T/B/x`, posts, script },
        close: () => new Promise((done) => server.close(() => done()))
      })
    })
  })

const receiver = Effect.acquireRelease(Effect.promise(startReceiver), ({ close }) => Effect.promise(close)).pipe(
  Effect.map(({ receiver }) => receiver)
)

const sessionId = "0b6a3c1e-5f2d-4e8a-9c7b-1d2e3f4a5b6c" as SessionId
const overdue = new StaffAlert({ topic: "overdue", sessionId, podId: "pod-1", detail: "still Active" })

/** The in-memory kit, with the staff channel posting to `url` when given. */
const kit = (url: Option.Option<string>) =>
  Layer.mergeAll(
    layerTestKit(),
    Option.match(url, {
      onNone: () => Layer.empty,
      onSome: (u) => SlackWebhook.layer({ url: Redacted.make(u), deadline: Duration.seconds(2) })
    })
  )

const only = <A>(xs: ReadonlyArray<A>): A => {
  expect(xs).toHaveLength(1)
  return xs[0] as A
}

/** Runs due work until nothing is due now. */
const drain = Effect.gen(function* () {
  for (let i = 0; i < 20; i++) if ((yield* Worker.runDueWork("worker-1", 10)).claimed === 0) return
})

const notifyWork = Effect.map(MemoryStore, (store) => store.work().filter((w) => w.item.kind === "notify-staff"))

describe("staff alerts on the staff webhook", () => {
  it.scoped("one post per alert key, even when the staff email and the notice run twice", () =>
    Effect.gen(function* () {
      const hook = yield* receiver
      yield* Effect.gen(function* () {
        const store = yield* SessionStore
        yield* store.enqueue([sendMail(overdue, new Date(0))])
        yield* drain
        // The same alert raised again (another overdue sweep) queues nothing new.
        yield* store.enqueue([sendMail(overdue, new Date(0))])
        yield* drain
        expect(hook.posts).toHaveLength(1)
        expect(hook.posts[0]).toContain(sessionId)
        expect(hook.posts[0]).toContain(`qwip sessions end ${sessionId}`)
        const work = yield* notifyWork
        expect(work.map((w) => [w.item.key, w.status])).toEqual([[`notify-staff:${messageKey(overdue)}`, "done"]])
        // The notice's work run again (a worker that lost its lease after posting): no second post.
        yield* Worker.performWork(new WorkItem({ ...only(work).item, attempts: 2 }))
        expect(hook.posts).toHaveLength(1)
        // The staff email went too.
        expect((yield* FakeMailer).sent().map(messageKey)).toContain(messageKey(overdue))
      }).pipe(Effect.provide(kit(Option.some(hook.url))))
    })
  )

  it.scoped("a failing first attempt (500) is tried again with backoff; one post gets through", () =>
    Effect.gen(function* () {
      const hook = yield* receiver
      hook.script.push(500)
      yield* Effect.gen(function* () {
        const store = yield* SessionStore
        const problem = new PaymentProblem({
          sessionId,
          customerEmail: "ada@example.com",
          amountPence: pence(1250),
          problem: "declined",
          detail: "card_declined"
        })
        yield* store.enqueue([sendMail(problem, new Date(0))])
        yield* drain
        expect(hook.posts).toHaveLength(1)
        const deferred = only(yield* notifyWork)
        expect(deferred.status).toBe("pending")
        expect(Option.getOrElse(deferred.item.lastError, () => "")).toContain("500")
        // The worker's backoff after a first failure is 5 s.
        yield* TestClock.adjust(Duration.seconds(6))
        yield* drain
        expect(hook.posts).toHaveLength(2)
        expect(hook.posts[1]).toContain(`Charge declined: session ${sessionId}`)
        expect(hook.posts[1]).toContain(`qwip payments retry ${sessionId}`)
        expect((yield* notifyWork).map((w) => w.status)).toEqual(["done"])
        yield* TestClock.adjust(Duration.hours(1))
        yield* drain
        expect(hook.posts).toHaveLength(2)
      }).pipe(Effect.provide(kit(Option.some(hook.url))))
    })
  )

  it.scoped("a webhook that refuses for good (404) is parked at once and staff hear of it by email", () =>
    Effect.gen(function* () {
      const hook = yield* receiver
      hook.script.push(404, 404)
      yield* Effect.gen(function* () {
        const store = yield* SessionStore
        yield* store.enqueue([sendMail(overdue, new Date(0))])
        yield* drain
        const parked = only((yield* notifyWork).filter((w) => w.item.key === `notify-staff:${messageKey(overdue)}`))
        expect(parked.status).toBe("parked")
        expect(Option.getOrElse(parked.item.lastError, () => "")).toContain("404")
        const mailed = (yield* FakeMailer).sent()
        expect(
          mailed.some((m) => m._tag === "StaffAlert" && m.topic === "work_parked" && m.detail.includes("404"))
        ).toBe(true)
      }).pipe(Effect.provide(kit(Option.some(hook.url))))
    })
  )

  it.scoped("without a staff channel nothing is queued or posted; the email still goes", () =>
    Effect.gen(function* () {
      const hook = yield* receiver
      yield* Effect.gen(function* () {
        const store = yield* SessionStore
        yield* store.enqueue([sendMail(overdue, new Date(0))])
        yield* drain
        expect(yield* notifyWork).toEqual([])
        expect((yield* FakeMailer).sent().map(messageKey)).toEqual([messageKey(overdue)])
      }).pipe(Effect.provide(kit(Option.none())))
      expect(hook.posts).toEqual([])
    })
  )
})

describe("staff notices", () => {
  it("each staff message names its session and the command that acts on it; customers' have none", () => {
    const notice = StaffNotices.staffNoticeOf(
      new StaffAlert({ topic: "provisioning_failed", sessionId, podId: "pod-1", detail: "lock offline" })
    )
    expect(Option.map(notice, (n) => n.command)).toEqual(Option.some(`qwip sessions retry-provisioning ${sessionId}`))
    expect(Option.getOrThrow(notice).summary).toContain(sessionId)
    const code = StaffNotices.staffNoticeOf(
      new StaffAlert({ topic: "code_not_removed", sessionId, podId: "pod-7", detail: "lock offline" })
    )
    expect(Option.getOrThrow(code).command).toBe("qwip codes list --pod pod-7")
  })
})

describe("the staff channel from the environment", () => {
  const build = (env: Record<string, string>) =>
    Effect.scoped(Layer.build(layerFromEnv)).pipe(
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries({ QWIP_DATA_DIR: dataDir(), ...env })))),
      Effect.provide(Logger.minimumLogLevel(LogLevel.Warning)),
      Effect.exit
    )

  it.live(
    "STAFF_WEBHOOK_URL set: the platform has the webhook channel; unset: none; not a URL: start-up stops",
    () =>
      Effect.gen(function* () {
        const on = yield* build({ STAFF_WEBHOOK_URL: "https://hooks.example.com/services/T/B/x" })
        expect(Exit.map(on, (c) => Option.isSome(Context.getOption(c, StaffChannel)))).toEqual(Exit.succeed(true))
        const off = yield* build({})
        expect(Exit.map(off, (c) => Option.isSome(Context.getOption(c, StaffChannel)))).toEqual(Exit.succeed(false))
        const wrong = yield* build({ STAFF_WEBHOOK_URL: "hooks.example.com/x" })
        expect(Exit.isFailure(wrong)).toBe(true)
        if (Exit.isFailure(wrong)) {
          const error = Cause.failureOption(wrong.cause)
          expect(Option.map(error, (e) => e instanceof PlatformStartError && e.setting)).toEqual(
            Option.some("STAFF_WEBHOOK_URL")
          )
        }
      }),
    { timeout: 60_000 }
  )
})

describe("[pglite] the service with STAFF_WEBHOOK_URL", () => {
  it("a declined charge reaches the webhook once, naming the session and `qwip payments retry`", {
    timeout: 90_000
  }, async () => {
    const { receiver: hook, close } = await startReceiver()
    try {
      const clock = makeOffsetClock()
      const { api } = await serve({ QWIP_DATA_DIR: dataDir(), STAFF_WEBHOOK_URL: hook.url }, { clock })
      const { sessionToken } = await book(api, "demo-pod", "4000000000000341")
      await eventually(
        () => api.get("/api/provisioning-status", { token: sessionToken }),
        (a) => a.body.status === "ready",
        { timeoutMs: 30_000 }
      )
      clock.advance("2 minutes")
      expect((await api.post("/api/end-session", { token: sessionToken })).status).toBe(200)
      const sessionId = sessionIdOf(sessionToken)
      await eventually(
        async () => hook.posts,
        (posts) => posts.length > 0,
        { timeoutMs: 30_000 }
      )
      // Later polls of the worker post nothing more for the same alert.
      await new Promise((r) => setTimeout(r, 500))
      const declined = hook.posts.filter((p) => p.startsWith("Charge declined"))
      expect(declined).toHaveLength(1)
      expect(declined[0]).toContain(`session ${sessionId}`)
      expect(declined[0]).toContain(`\`qwip payments retry ${sessionId}\``)
    } finally {
      await close()
    }
  })
})
