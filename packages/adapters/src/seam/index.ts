/** Seam: `LockAccess` over Seam's API, and the rules a code on one of its locks must meet. */
export * as CodeRules from "./CodeRules.js"
export * as SeamLockAccess from "./SeamLockAccess.js"
export { makeSeamLockAccess, type SeamLockAccessOptions } from "./SeamLockAccess.js"
