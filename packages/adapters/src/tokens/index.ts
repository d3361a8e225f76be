export * from "./AccessTokens.js"
