/** The black-box `fetch` client, shared with @qwip/http's own tests. */
export * from "../../../packages/http/test/support/Client.js"
