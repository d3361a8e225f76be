/**
 * Starts the service on a test platform for one test, and stops everything it started after it.
 */
import { afterEach } from "@effect/vitest"
import { Duration } from "effect"
import { defaultHttpConfig, type HttpConfigShape, type RunningService, start } from "../../src/index.js"
import { client } from "./Client.js"
import { makeTestPlatform, type TestPlatformOptions } from "./TestPlatform.js"

export const testConfig = (overrides: Partial<HttpConfigShape> = {}): Partial<HttpConfigShape> => ({
  worker: { ...defaultHttpConfig.worker, interval: Duration.millis(20), overdueInterval: Duration.hours(1) },
  shutdownGrace: Duration.seconds(2),
  ...overrides
})

const started: Array<RunningService> = []
afterEach(async () => {
  while (started.length > 0) await started.pop()?.stop()
})

export type TestPlatform = ReturnType<typeof makeTestPlatform>

/** Starts a server on `platform` (a new one unless given); stopped after the test. */
export const boot = async (
  options: {
    readonly platform?: TestPlatform
    readonly platformOptions?: TestPlatformOptions
    readonly config?: Partial<HttpConfigShape>
  } = {}
) => {
  const platform = options.platform ?? makeTestPlatform(options.platformOptions)
  const running = await start(platform.layer, { runtime: platform.runtime, config: testConfig(options.config) })
  started.push(running)
  return {
    platform,
    running,
    api: client(running.url),
    stop: async () => {
      const i = started.indexOf(running)
      if (i >= 0) started.splice(i, 1)
      await running.stop()
    }
  }
}
