/**
 * What a span may carry out of the process: credentials and door codes are dropped by name or
 * by look, URLs lose their query, camelCase ids are also sent under Qwip's keys.
 */
import { describe, expect, it } from "@effect/vitest"
import { scrubAttributes } from "../../src/observability/Scrub.js"

describe("span attributes before export", () => {
  it("drops credentials and door codes by name", () => {
    expect(
      scrubAttributes({
        "http.request.header.authorization": "<redacted>",
        "http.request.header.cookie": "a=b",
        "http.request.header.stripe-signature": "t=1,v1=abc",
        "http.response.header.set-cookie": "a=b",
        provisioning_jwt_token: "x",
        doorCode: "04726",
        access_code_text: "04726",
        "http.request.method": "GET",
        "session.id": "s-1"
      })
    ).toEqual({ "http.request.method": "GET", "session.id": "s-1" })
  })

  it("drops values that look like a JWT, a client secret or a bearer credential", () => {
    expect(
      scrubAttributes({
        note: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
        secretish: "seti_123_secret_456",
        header: "Bearer abc",
        fine: "pod-1"
      })
    ).toEqual({ fine: "pod-1" })
  })

  it("cuts the query string off URLs and drops it as its own attribute", () => {
    expect(
      scrubAttributes({
        "url.full": "http://qwip.test/api/end-session-preview?session_id=s-1#x",
        "url.query": "session_id=s-1",
        "url.path": "/api/end-session-preview"
      })
    ).toEqual({ "url.full": "http://qwip.test/api/end-session-preview", "url.path": "/api/end-session-preview" })
  })

  it("also sends camelCase ids as session.id and pod.id, without overriding them", () => {
    expect(scrubAttributes({ sessionId: "s-1", podId: "p-1" })).toEqual({
      sessionId: "s-1",
      podId: "p-1",
      "session.id": "s-1",
      "pod.id": "p-1"
    })
    expect(scrubAttributes({ sessionId: "s-1", "session.id": "s-2" })["session.id"]).toBe("s-2")
  })
})
