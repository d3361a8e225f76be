export * as SeamLockAccess from "./SeamLockAccess.js"
export { makeSeamLockAccess, type SeamLockAccessOptions } from "./SeamLockAccess.js"
