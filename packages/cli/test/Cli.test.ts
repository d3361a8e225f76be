/**
 * The CLI in process (argv starting with "node", "qwip"): help, usage errors (exit code 2,
 * one line saying what is wrong) caught before any store is opened, and key generation.
 * The commands against real stores run as a subprocess in tests/cli.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import { main } from "@qwip/cli"
import { captureConsole } from "@qwip/test-support/CapturedConsole"
import { Effect } from "effect"

/** Runs `qwip ...args` and returns its exit code and what it printed. */
const qwip = (...args: Array<string>) =>
  captureConsole(main(["node", "qwip", ...args])).pipe(
    Effect.map(({ value: code, stdout, stderr }) => ({ code, stdout, stderr })),
    Effect.provide(NodeContext.layer)
  )

const SESSION = "7b0c1a52-5d0e-4a8e-9a53-2f6c3e1d9b10"

describe("qwip in process", () => {
  it.effect("shows help for itself and for a command group", () =>
    Effect.gen(function* () {
      const root = yield* qwip()
      expect(root.code).toBe(0)
      expect(root.stdout).toContain("sessions retry-provisioning")
      const group = yield* qwip("codes")
      expect(group.code).toBe(0)
      expect(group.stdout).toContain("rekey")
    })
  )

  it.effect("usage errors exit 2 with one line, before any store is opened", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
        [["sessions", "end", "12"], "is not a session id"],
        [["sessions", "end", SESSION, "--at", "yesterday"], "--at"],
        [["sessions", "end", SESSION, "--at", "2025-01-01T09:30"], "with its zone"],
        [["sessions", "end", SESSION, "--waive"], "--waive needs --reason"],
        [["sessions", "end", SESSION, "--reason", "x"], "--reason goes with --waive"],
        [["sessions", "list", "--live", "--failed"], "choose one of"],
        [["pods", "release", "pod-1", "--reason", "x"], "go with --force"],
        [["pods", "release", "pod-1", "--force"], "--force needs --reason"],
        [["pods", "set-rate", "pod-1", "abc"], "rate:"],
        [["pods", "set-device", "pod-1"], "--none"],
        [["codes", "rotate", "--pod", "pod-1"], "exactly one of --from-file"],
        [["payments", "retry", "nope"], "is not a session id"]
      ]
      for (const [args, fragment] of cases) {
        const r = yield* qwip(...args)
        expect([args.join(" "), r.code]).toEqual([args.join(" "), 2])
        expect(r.stderr.split("\n").length).toBe(1)
        expect(r.stderr).toContain(fragment)
      }
      const unknown = yield* qwip("sessions", "frobnicate")
      expect(unknown.code).toBe(2)
    })
  )

  it.effect("keys generate prints a JWT secret and a 32-byte static-code key", () =>
    Effect.gen(function* () {
      const text = yield* qwip("keys", "generate")
      expect(text.code).toBe(0)
      expect(text.stdout).toMatch(/^JWT_SECRET_KEY=[\w-]{64}\nSTATIC_CODE_B64_KEY=[\w-]{43}=$/)
      const json = yield* qwip("keys", "generate", "--json")
      const keys = JSON.parse(json.stdout) as { jwtSecretKey: string; staticCodeKey: string }
      expect(Buffer.from(keys.jwtSecretKey, "base64url").length).toBe(48)
      expect(Buffer.from(keys.staticCodeKey, "base64url").length).toBe(32)
    })
  )
})
