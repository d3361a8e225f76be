/**
 * The worker inside the service: overdue sessions are reported to staff once, from the store;
 * payments are reconciled with the provider on the policy's schedule; how many items it runs
 * at once is a setting.
 */
import { describe, expect, it } from "@effect/vitest"
import { defaultHttpConfig, httpConfigFromEnv } from "@qwip/http"
import { book, eventually } from "@qwip/test-support/Client"
import { boot } from "@qwip/test-support/Service"
import { ConfigProvider, Duration, Effect, Exit } from "effect"

describe("background work", () => {
  it("reports a session past its window and grace to staff once", async () => {
    const { api, platform } = await boot({
      platformOptions: { policy: { accessWindow: Duration.minutes(1), overdueGrace: Duration.minutes(1) } },
      config: {
        worker: { ...defaultHttpConfig.worker, interval: Duration.millis(20), overdueInterval: Duration.millis(50) }
      }
    })
    const { sessionToken } = await book(api, "pod-1")
    await eventually(
      () => api.get("/api/provisioning-status", { token: sessionToken }),
      (a) => a.body.status === "ready"
    )
    platform.clock.advance("3 minutes")
    const overdue = () =>
      platform.mailer.sent().filter((m) => m._tag === "StaffAlert" && "topic" in m && m.topic === "overdue")
    await eventually(
      async () => overdue().length,
      (n) => n > 0
    )
    await new Promise((r) => setTimeout(r, 200)) // several more overdue rounds
    expect(overdue()).toHaveLength(1)
    expect(platform.logs.filter((l) => l.includes('"session overdue"'))).toHaveLength(1)
  })

  it("reconciles payments every reconcileEvery over the last reconcileWindow, finding a paid charge agrees", async () => {
    const { api, platform } = await boot({
      platformOptions: {
        policy: { reconcileEvery: Duration.millis(150), reconcileWindow: Duration.hours(1) }
      }
    })
    const { sessionToken } = await book(api, "pod-1")
    await eventually(
      () => api.get("/api/provisioning-status", { token: sessionToken }),
      (a) => a.body.status === "ready"
    )
    platform.clock.advance("2 minutes")
    expect((await api.post("/api/end-session", { token: sessionToken })).status).toBe(200)
    const runs = () => platform.logs.filter((l) => l.includes('"reconciliation done"'))
    const checked = await eventually(
      async () => runs().map((l) => JSON.parse(l) as { annotations: { checked: number; findings: number } }),
      (r) => r.some((line) => line.annotations.checked > 0),
      { timeoutMs: 10_000 }
    )
    // The session's one charge agrees with the provider: nothing to fix or report, run after run.
    expect(checked.filter((r) => r.annotations.checked > 0).every((r) => r.annotations.findings === 0)).toBe(true)
    expect(platform.mailer.sent().filter((m) => m._tag === "StaffAlert" && m.topic === "reconciliation")).toEqual([])
    expect((await api.get("/healthz")).status).toBe(200)
  })

  it("WORKER_CONCURRENCY sets how many items run at once: 8 unless set, a positive whole number", async () => {
    const read = (env: Record<string, string>) =>
      Effect.runPromiseExit(
        Effect.withConfigProvider(httpConfigFromEnv, ConfigProvider.fromMap(new Map(Object.entries(env))))
      )
    const concurrency = (exit: Exit.Exit<{ readonly worker: { readonly concurrency: number } }, unknown>) =>
      Exit.map(exit, (c) => c.worker.concurrency)
    expect(concurrency(await read({}))).toEqual(Exit.succeed(8))
    expect(concurrency(await read({ WORKER_CONCURRENCY: "3" }))).toEqual(Exit.succeed(3))
    expect(Exit.isFailure(await read({ WORKER_CONCURRENCY: "0" }))).toBe(true)
    expect(Exit.isFailure(await read({ WORKER_CONCURRENCY: "many" }))).toBe(true)
  })
})
