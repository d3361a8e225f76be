/**
 * The OpenAPI document: what `/openapi.json` serves is what `npm run lint:api` lints
 * (`OpenApi.fromApi` on `QwipApi`), and it documents every operation, error and tag.
 */
import { OpenApi } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { boot } from "@qwip/test-support/Service"
import { QwipApi } from "../src/index.js"

interface Operation {
  readonly summary?: string
  readonly description?: string
  readonly responses: Record<string, { readonly description?: string }>
}

describe("the OpenAPI document", () => {
  it("is served as the lint script makes it", async () => {
    const { api } = await boot()
    const served = await api.get("/openapi.json")
    expect(served.status).toBe(200)
    expect(served.body).toEqual(JSON.parse(JSON.stringify(OpenApi.fromApi(QwipApi))))
  })

  it("gives every operation a summary and a description, every error and tag a description, and a server", () => {
    const spec = OpenApi.fromApi(QwipApi)
    expect(spec.servers).toEqual([{ url: "/", description: expect.any(String) }])
    const gaps: Array<string> = []
    const operations = Object.entries(spec.paths).flatMap(([path, item]) =>
      Object.entries(item as Record<string, Operation>).map(([method, op]) => [`${method} ${path}`, op] as const)
    )
    expect(operations.length).toBeGreaterThan(15)
    for (const [name, op] of operations) {
      if (!op.summary?.trim()) gaps.push(`${name}: no summary`)
      if (!op.description?.trim()) gaps.push(`${name}: no description`)
      for (const [status, response] of Object.entries(op.responses)) {
        // "Error" is what @effect/platform writes for an error whose schema has no description.
        if (Number(status) >= 400 && (!response.description?.trim() || response.description === "Error")) {
          gaps.push(`${name} ${status}: no description`)
        }
      }
    }
    for (const tag of spec.tags) if (!tag.description?.trim()) gaps.push(`tag ${tag.name}: no description`)
    expect(gaps).toEqual([])
  })

  it("documents an endpoint's own 400 beside the decoding's", () => {
    const end = OpenApi.fromApi(QwipApi).paths["/api/end-session"]?.post as Operation | undefined
    expect(end?.responses["400"]?.description).toContain("A checkout photo is required first")
    expect(end?.responses["400"]?.description).toContain("does not match its schema")
  })
})
