import { availableParallelism } from "node:os"
import { defineConfig } from "vitest/config"

// The one test that changes the process's umask, which a worker thread may not do.
const processWide = ["packages/adapters/test/store/PrivateDataDir.test.ts"]

// Tests import workspace packages from their TypeScript sources (the "qwip-source" export
// condition), so `vitest` needs no build step; `tsc -b` builds what the CLI subprocess tests run.
export default defineConfig({
  resolve: { conditions: ["qwip-source"] },
  ssr: { resolve: { conditions: ["qwip-source"] } },
  test: {
    // Vitest's default is one worker fewer than the CPUs: one file at a time on two cores. Many
    // files mostly wait (on subprocesses, the database, polling), so one worker per CPU.
    maxWorkers: Math.max(2, availableParallelism()),
    minWorkers: 1,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: "threads",
          benchmark: { include: ["tests/bench/**/*.bench.ts"] },
          include: ["packages/*/test/**/*.test.ts", "tests/**/*.test.ts"],
          exclude: ["**/node_modules/**", "**/dist/**", ...processWide],
          // Threads start and load modules faster than forked processes (measured: a third off
          // the in-process files' wall time).
          pool: "threads"
        }
      },
      { extends: true, test: { name: "process", include: processWide, pool: "forks", benchmark: { include: [] } } }
    ]
  }
})
