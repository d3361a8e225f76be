#!/usr/bin/env node
// The `qwip` command. The CLI is TypeScript compiled to dist/ by `tsc -b` (the repository's
// `npm install` runs it through `prepare`); this launcher only loads it.
import("../dist/bin.js").catch((error) => {
  if (error?.code === "ERR_MODULE_NOT_FOUND" && String(error.message).includes("dist/bin.js")) {
    console.error("qwip: not built yet: run `npm run build` (tsc -b) in the repository root")
    process.exit(1)
  }
  throw error
})
