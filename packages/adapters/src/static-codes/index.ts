export * from "./StaticCodeCipher.js"
export * from "./StaticCodes.js"
