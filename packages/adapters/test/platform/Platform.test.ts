import { randomBytes } from "node:crypto"
import { mkdtemp, readFile, rm, stat } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Checkout, Payments, type PodId, SessionEnd, SessionStore, Viewing, Worker } from "@qwip/core"
import { ConfigProvider, Effect, Exit, Layer, Option, Redacted } from "effect"
import pg from "pg"
import Stripe from "stripe"
import { DEMO_POD_ID } from "../../src/platform/DemoPod.js"
import { deriveSandboxWebhookSecret } from "../../src/platform/LocalSecrets.js"
import { layerFromEnv } from "../../src/platform/Platform.js"
import { PlatformInfo, Readiness, Sandbox } from "../../src/platform/Services.js"
import { StoreRecords } from "../../src/store/Records.js"
import { supabaseStorageConfigured } from "../../src/store/StoreConfig.js"
import { StripeWebhooks } from "../../src/stripe/StripeWebhooks.js"
import { AccessTokens } from "../../src/tokens/AccessTokens.js"

const withEnv = (env: Record<string, string>) =>
  layerFromEnv.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))))

/** Runs due work until none is left. */
const drain = Effect.gen(function* () {
  for (let i = 0; i < 10; i++) if ((yield* Worker.runDueWork("test", 10)).claimed === 0) return
})

const tempDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "qwip-platform-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
)

describe("platform from the environment", () => {
  it.effect("checkout photos go to Supabase Storage whenever its URL and key are set, whatever the store", () =>
    Effect.gen(function* () {
      const photosWith = (env: Record<string, string>) =>
        supabaseStorageConfigured.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
      const supabase = { SUPABASE_URL: "https://ref.supabase.co", SUPABASE_KEY: "service-role" }
      expect(yield* photosWith({ ...supabase, DATABASE_URL: "postgres://db.ref.supabase.co/postgres" })).toBe(true)
      expect(yield* photosWith(supabase)).toBe(true)
      expect(yield* photosWith({ SUPABASE_URL: "https://ref.supabase.co", SUPABASE_KEY: " " })).toBe(false)
      expect(yield* photosWith({ DATABASE_URL: "postgres://localhost/qwip" })).toBe(false)
    })
  )

  it.scoped("with nothing set: embedded store, sandbox, outbox, a seeded demo pod, a full booking", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const token = yield* Effect.gen(function* () {
        const info = yield* PlatformInfo
        expect(info).toMatchObject({
          store: "pglite",
          payments: "sandbox",
          mail: "outbox",
          locks: "none",
          photos: "local"
        })
        expect(yield* Effect.flatMap(Readiness, (r) => r.check)).toMatchObject({ ok: true })
        const pods = yield* Effect.flatMap(SessionStore, (s) => s.pods)
        expect(pods.map((p) => p.pod.id)).toEqual([DEMO_POD_ID])

        const sandbox = Option.getOrThrow(yield* Sandbox)
        const started = yield* Checkout.startCheckout(DEMO_POD_ID as PodId)
        yield* sandbox.confirmSetupIntent(started.setupIntentId, { cardNumber: "4242424242424242", email: "a@b.co" })
        const session = yield* Checkout.finalizeBooking(started)
        yield* drain
        const view = yield* Viewing.viewSession(session.id)
        expect(view.provisioning).toBe("ready")
        expect(Option.getOrThrow(view.accessCode)).toMatch(/^\d{5}$/)
        yield* SessionEnd.endSession(session.id)
        yield* drain
        const charge = yield* Effect.flatMap(Payments, (p) =>
          p.readCharge({ sessionId: session.id, paymentIntentId: Option.none() })
        )
        // Under a minute: below the 30p minimum, nothing charged.
        expect(charge).toEqual(Option.none())
        const outbox = yield* Effect.flatMap(StoreRecords, (r) => r.listOutbox(10))
        expect(outbox.map((e) => e.kind).sort()).toEqual(["AccessReady", "Receipt"])
        return yield* Effect.flatMap(AccessTokens, (t) => t.mintSession({ session_id: session.id }))
      }).pipe(Effect.provide(withEnv({ QWIP_DATA_DIR: dir })))

      const secrets = join(dir, "secrets.json")
      expect((yield* Effect.promise(() => stat(secrets))).mode & 0o777).toBe(0o600)
      expect(Object.keys(JSON.parse(yield* Effect.promise(() => readFile(secrets, "utf8"))))).toHaveLength(3)

      // A restart on the same directory: same keys (tokens still verify), same data, no second demo pod.
      yield* Effect.gen(function* () {
        const claims = yield* Effect.flatMap(AccessTokens, (t) => t.verifySession(token))
        const pods = yield* Effect.flatMap(SessionStore, (s) => s.pods)
        expect(pods).toHaveLength(1)
        expect(Option.isSome(yield* Effect.flatMap(SessionStore, (s) => s.session(claims.session_id)))).toBe(true)
      }).pipe(Effect.provide(withEnv({ QWIP_DATA_DIR: dir })))
    })
  )

  const startFailure = (env: Record<string, string>) =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(Layer.build(withEnv(env)).pipe(Effect.scoped))
      if (Exit.isSuccess(exit)) throw new Error("expected start-up to fail")
      return String(
        Exit.causeOption(exit).pipe(
          Option.map((c) => c.toString()),
          Option.getOrElse(() => "")
        )
      )
    })

  it.scoped("half-configured adapters stop start-up with one line naming what is missing", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      expect(yield* startFailure({ QWIP_DATA_DIR: dir, STRIPE_SECRET: "sk_test_x" })).toContain("STRIPE_WEBHOOK_SECRET")
      expect(yield* startFailure({ QWIP_DATA_DIR: dir, RESEND_API_KEY: "re_x" })).toContain("STAFF_EMAILS")
      expect(yield* startFailure({ QWIP_DATA_DIR: dir, JWT_SECRET_KEY: "short" })).toContain("JWT_SECRET_KEY")
      expect(yield* startFailure({ QWIP_DATA_DIR: dir, STATIC_CODE_B64_KEY: "AAAA" })).toContain("STATIC_CODE_B64_KEY")
      expect(yield* startFailure({ SUPABASE_URL: "http://127.0.0.1:1" })).toContain("SUPABASE_KEY")
    })
  )

  it.effect("a shared database needs the keys every instance shares", () =>
    Effect.gen(function* () {
      const failure = yield* startFailure({ DATABASE_URL: "postgres://postgres@127.0.0.1:1/none" })
      expect(failure).toContain("JWT_SECRET_KEY")
    })
  )

  const testDatabaseUrl = process.env.QWIP_TEST_DATABASE_URL?.trim() || undefined
  const withPostgres = testDatabaseUrl === undefined ? it.scopedLive.skip : it.scopedLive

  withPostgres("sandbox instances on one shared database verify the same webhook signatures", () =>
    Effect.gen(function* () {
      const schema = `qwip_platform_${randomBytes(4).toString("hex")}`
      yield* Effect.acquireRelease(Effect.void, () =>
        Effect.promise(async () => {
          const admin = new pg.Client({ connectionString: testDatabaseUrl })
          await admin.connect()
          await admin.query(`drop schema if exists "${schema}" cascade`)
          await admin.end()
        })
      )
      const jwtSecret = randomBytes(32).toString("base64url")
      const shared = {
        DATABASE_URL: testDatabaseUrl ?? "",
        DATABASE_SCHEMA: schema,
        JWT_SECRET_KEY: jwtSecret,
        STATIC_CODE_B64_KEY: randomBytes(32).toString("base64url")
      }
      const body = JSON.stringify({ id: "evt_shared_1", object: "event", type: "customer.created", data: {} })
      const header = Stripe.webhooks.generateTestHeaderString({
        payload: body,
        secret: Redacted.value(deriveSandboxWebhookSecret(Redacted.make(jwtSecret)))
      })
      const verifiedBy = (env: Record<string, string>) =>
        Effect.flatMap(StripeWebhooks, (w) => Effect.either(w.verify(body, header))).pipe(
          Effect.provide(withEnv(env)),
          Effect.map((result) => (result._tag === "Right" ? result.right.id : result.left.reason))
        )
      // Two instances, one after the other (the first migrates the schema), no webhook secret set;
      // the live clock, as signatures are dated now.
      expect(yield* verifiedBy(shared)).toBe("evt_shared_1")
      expect(yield* verifiedBy(shared)).toBe("evt_shared_1")
      // The secret follows the shared key: an instance given another one refuses the signature.
      const other = yield* verifiedBy({ ...shared, JWT_SECRET_KEY: randomBytes(32).toString("base64url") })
      expect(other).toMatch(/does not match/)
    })
  )
})
