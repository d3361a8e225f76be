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

/** A Stripe event as received, stored once by its id. */
export type WebhookEventStatus = "received" | "processed" | "failed"

export interface WebhookEventsShape {
  /**
   * Stores the event if its id is new. Returns its status: `processed` for a duplicate of
   * an event already handled (nothing more to do), else `received`/`failed` (handle it).
   */
  readonly receive: (event: {
    readonly id: string
    readonly type: string
    readonly payload: unknown
  }) => Effect.Effect<WebhookEventStatus>
  /** Done with; `note` says why it changed nothing (ignored, or a payment refused), for staff. */
  readonly markProcessed: (id: string, note?: string) => Effect.Effect<void>
  readonly markFailed: (id: string, error: string) => Effect.Effect<void>
}
export class WebhookEvents extends Context.Tag("@qwip/adapters/WebhookEvents")<WebhookEvents, WebhookEventsShape>() {}
