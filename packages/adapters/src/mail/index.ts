export * from "./OutboxMailer.js"
export * from "./ResendMailer.js"
export * from "./Templates.js"
