import { defineConfig } from "vitest/config"

// Tests import workspace packages from their TypeScript sources (the "qwip-source" export
// condition), so `vitest` needs no build step; `tsc -b` builds what the CLI subprocess tests run.
export default defineConfig({
  resolve: { conditions: ["qwip-source"] },
  ssr: { resolve: { conditions: ["qwip-source"] } },
  test: {
    include: ["packages/*/test/**/*.test.ts", "tests/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    benchmark: { include: ["tests/bench/**/*.bench.ts"] },
    testTimeout: 30_000,
    hookTimeout: 60_000
  }
})
