/**
 * Services the entry points (HTTP service, CLI) need beside the core's ports. Each is
 * implemented by the platform composition (`Platform.ts`) for the configured store.
 */
import { Context, type Effect, type Option } from "effect"
import type { SandboxConsoleShape } from "../sandbox/SandboxConsole.js"

/** What the platform runs on, for logs, readiness and the sandbox-only endpoints. */
export interface PlatformInfoShape {
  readonly store: "pglite" | "postgres" | "supabase"
  readonly payments: "stripe" | "sandbox"
  readonly mail: "resend" | "outbox"
  readonly locks: "seam" | "none"
  /**
   * Where checkout photos go: Supabase Storage whenever `SUPABASE_URL` and `SUPABASE_KEY` are set
   * (also with a direct `DATABASE_URL`: every instance must see every photo, and a host's disk
   * may not last), else a directory under `dataDir`.
   */
  readonly photos: "supabase-storage" | "local"
  /** `QWIP_DATA_DIR`: where the embedded store, generated keys and local photos live. */
  readonly dataDir: string
}
export class PlatformInfo extends Context.Tag("@qwip/adapters/PlatformInfo")<PlatformInfo, PlatformInfoShape>() {}

/** The sandbox's customer-side operations; `None` when real Stripe is configured. */
export class Sandbox extends Context.Tag("@qwip/adapters/Sandbox")<Sandbox, Option.Option<SandboxConsoleShape>>() {}

/** Whether the store answers and its schema is the one this code expects. */
export interface ReadinessShape {
  readonly check: Effect.Effect<{ readonly ok: boolean; readonly detail: string }>
}
export class Readiness extends Context.Tag("@qwip/adapters/Readiness")<Readiness, ReadinessShape>() {}
