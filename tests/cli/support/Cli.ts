/**
 * Running `qwip` against a store: in process (`main` with an argv array, its console captured,
 * its settings from a map), or as the built CLI in a subprocess where exit codes and signals are
 * the point; and setting the store up from the test process with the same platform composition
 * (`layerFromEnv`).
 *
 * Targets: `embedded` (a temp QWIP_DATA_DIR, always) and `postgres` (a fresh database on
 * QWIP_TEST_DATABASE_URL's server, dropped afterwards, when that variable is set). The
 * environment is given explicitly, so a developer's own settings never leak into a run.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import * as NodeContext from "@effect/platform-node/NodeContext"
import {
  layerFromEnv,
  layerStaff,
  type PlatformServices,
  Sandbox,
  type StaffViews,
  StaticCodeTokens
} from "@qwip/adapters"
import { main } from "@qwip/cli"
import { Checkout, type PodId, type SealedCodeKeys, type Session, type StaffStore, Worker } from "@qwip/core"
import { captureConsole } from "@qwip/test-support/CapturedConsole"
import { Clock, ConfigProvider, Effect, Layer, Logger, LogLevel, Option } from "effect"
import pg from "pg"

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..")
export const binPath = join(repoRoot, "packages/cli/dist/bin.js")

const newestIn = (dir: string): number => {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestIn(path) : statSync(path).mtimeMs)
  }
  return newest
}

/**
 * The CLI's build. `npm test` runs `tsc -b` first; a stale or missing build (a developer
 * running vitest alone) is rebuilt once here, and a build that cannot be made fails clearly.
 */
export const ensureBuilt = () => {
  const sources = ["core", "adapters", "http", "cli"].map((name) => newestIn(join(repoRoot, "packages", name, "src")))
  const built = existsSync(binPath) ? statSync(binPath).mtimeMs : 0
  if (built >= Math.max(...sources)) return
  try {
    execFileSync("npx", ["tsc", "-b", "packages/cli"], { cwd: repoRoot, stdio: "pipe" })
  } catch {
    // tsc reports type errors but still emits; what matters is the file below.
  }
  if (!existsSync(binPath)) {
    throw new Error(`the CLI is not built (${binPath} is missing): run \`npx tsc -b\` in the repository root`)
  }
}

export interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** The environment every run gets: nothing from the developer's shell but what node needs. */
const baseEnv = (): Record<string, string> => ({
  PATH: process.env.PATH ?? "",
  HOME: process.env.HOME ?? tmpdir(),
  NO_COLOR: "1"
})

/**
 * Runs `qwip args...` in this process: the exit code `main` returns, what it printed through
 * the console, and settings from `env` only (as the subprocess gets nothing from the shell).
 */
export const qwip = async (args: ReadonlyArray<string>, env: Readonly<Record<string, string>>): Promise<Result> => {
  const program = captureConsole(
    main(["node", "qwip", ...args]).pipe(
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
    )
  ).pipe(Effect.provide(NodeContext.layer))
  const { value: code, stdout, stderr } = await Effect.runPromise(program)
  return { code, stdout, stderr }
}

/** Runs `qwip args... --json` in process, expecting success, and parses what it printed. */
export const qwipJson = async <A = unknown>(args: ReadonlyArray<string>, env: Readonly<Record<string, string>>) => {
  const r = await qwip([...args, "--json"], env)
  if (r.code !== 0) throw new Error(`qwip ${args.join(" ")} exited ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout) as A
}

/** Starts the built `qwip args...` as a subprocess with `env`; the caller waits or signals it. */
export const start = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>>) => {
  const child = spawn(process.execPath, [binPath, ...args], {
    cwd: repoRoot,
    env: { ...baseEnv(), ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString()
  })
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString()
  })
  const done = new Promise<Result>((resolveDone) => {
    child.on("close", (code) => resolveDone({ code, stdout, stderr }))
  })
  return { child, done, output: () => ({ stdout, stderr }) }
}

/**
 * Runs the built `qwip args...` to completion as a subprocess; one that has not finished in
 * `timeoutMs` is killed and fails the test.
 */
export const qwipProcess = async (
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string>>,
  timeoutMs = 120_000
): Promise<Result> => {
  const run = start(args, env)
  const timer = setTimeout(() => run.child.kill("SIGKILL"), timeoutMs)
  const result = await run.done.finally(() => clearTimeout(timer))
  if (result.code === null) {
    throw new Error(`qwip ${args.join(" ")} did not finish within ${timeoutMs} ms; stderr: ${result.stderr}`)
  }
  return result
}

/** Runs the built `qwip args... --json` as a subprocess, expecting success, and parses stdout. */
export const qwipProcessJson = async <A = unknown>(
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string>>
) => {
  const r = await qwipProcess([...args, "--json"], env)
  if (r.code !== 0) throw new Error(`qwip ${args.join(" ")} exited ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout) as A
}

/** Waits until `predicate` holds of the process's output (or fails after `ms`). */
export const waitFor = async (
  proc: ReturnType<typeof start>,
  predicate: (out: { stdout: string; stderr: string }) => boolean,
  ms = 60_000
) => {
  const until = Date.now() + ms
  while (!predicate(proc.output())) {
    if (proc.child.exitCode !== null) throw new Error(`qwip exited early: ${proc.output().stderr}`)
    if (Date.now() > until) throw new Error(`timed out waiting; stderr: ${proc.output().stderr}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

export const stop = (child: ChildProcess, signal: NodeJS.Signals = "SIGINT") => {
  if (child.exitCode === null) child.kill(signal)
}

// ---- targets ---------------------------------------------------------------------------------

export const testDatabaseUrl = process.env.QWIP_TEST_DATABASE_URL?.trim() || undefined

export interface Target {
  readonly name: "embedded" | "postgres"
  /** The CLI's (and the test platform's) environment. */
  readonly env: Record<string, string>
  readonly cleanUp: () => Promise<void>
}

/** A fresh embedded store in a temp directory. */
export const embeddedTarget = (): Target => {
  const dir = mkdtempSync(join(tmpdir(), "qwip-cli-"))
  return {
    name: "embedded",
    env: { QWIP_DATA_DIR: dir },
    cleanUp: async () => rmSync(dir, { recursive: true, force: true })
  }
}

/** A fresh schema on the test database (`DATABASE_SCHEMA`), dropped afterwards. */
export const postgresTarget = async (): Promise<Target> => {
  const schema = `qwip_cli_${randomBytes(5).toString("hex")}`
  const sql = async (text: string) => {
    const c = new pg.Client({ connectionString: testDatabaseUrl })
    await c.connect()
    try {
      await c.query(text)
    } finally {
      await c.end()
    }
  }
  await sql(`create schema ${schema}`)
  const dir = mkdtempSync(join(tmpdir(), "qwip-cli-pg-"))
  return {
    name: "postgres",
    env: {
      DATABASE_URL: testDatabaseUrl ?? "",
      DATABASE_SCHEMA: schema,
      JWT_SECRET_KEY: randomBytes(48).toString("base64url"),
      STATIC_CODE_B64_KEY: StaticCodeTokens.generateKey(),
      QWIP_DATA_DIR: dir
    },
    cleanUp: async () => {
      await sql(`drop schema if exists ${schema} cascade`)
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

// ---- the store from the test process ----------------------------------------------------------

const quiet = Logger.minimumLogLevel(process.env.QWIP_TEST_LOGS === "1" ? LogLevel.Debug : LogLevel.Error)

/** Runs `self` with the clock `minutes` in the past (sessions that started a while ago). */
export const ago =
  (minutes: number) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    const offset = minutes * 60_000
    const base = Clock.make()
    const clock: Clock.Clock = {
      [Clock.ClockTypeId]: Clock.ClockTypeId,
      unsafeCurrentTimeMillis: () => base.unsafeCurrentTimeMillis() - offset,
      currentTimeMillis: Effect.sync(() => base.unsafeCurrentTimeMillis() - offset),
      unsafeCurrentTimeNanos: () => base.unsafeCurrentTimeNanos() - BigInt(offset) * 1_000_000n,
      currentTimeNanos: Effect.sync(() => base.unsafeCurrentTimeNanos() - BigInt(offset) * 1_000_000n),
      sleep: (d) => base.sleep(d)
    }
    return Effect.withClock(self, clock)
  }

export type TestServices = PlatformServices | StaffStore | StaffViews | SealedCodeKeys

/**
 * Runs `program` on the target's platform (plus the staff store), opened for this call only:
 * an embedded store is closed again before the CLI runs.
 */
export const inStore = <A, E>(
  env: Readonly<Record<string, string>>,
  program: Effect.Effect<A, E, TestServices>
): Promise<A> => {
  const platform = layerStaff.pipe(
    Layer.provideMerge(layerFromEnv),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
  )
  return Effect.runPromise(program.pipe(Effect.provide(platform), Effect.provide(quiet)) as Effect.Effect<A, E>)
}

export const CARDS = {
  succeeds: "4242424242424242",
  chargesDeclined: "4000000000000341"
} as const

/** Books `podId` with a sandbox test card, `minutesAgo`; `provision` runs the background work. */
export const book = (
  podId: string,
  card: string,
  options: { readonly provision?: boolean; readonly minutesAgo?: number } = {}
) =>
  Effect.gen(function* () {
    const sandbox = Option.getOrThrow(yield* Sandbox)
    const started = yield* Checkout.startCheckout(podId as PodId)
    yield* sandbox.confirmSetupIntent(started.setupIntentId, { cardNumber: card, email: "ada@example.com" })
    const session: Session = yield* Checkout.finalizeBooking(started)
    if (options.provision !== false) yield* drain
    return session
  }).pipe(ago(options.minutesAgo ?? 0))

/** Runs due background work until none is left. */
export const drain = Effect.gen(function* () {
  for (let i = 0; i < 20; i++) {
    const r = yield* Worker.runDueWork("cli-test", 50)
    if (r.claimed === 0) return
  }
})
