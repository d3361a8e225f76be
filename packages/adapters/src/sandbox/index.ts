export * from "./SandboxAuthentication.js"
export * from "./SandboxConsole.js"
export * from "./SandboxLedger.js"
export * from "./SandboxPayments.js"
