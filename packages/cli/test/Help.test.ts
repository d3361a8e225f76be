/**
 * `qwip --help` in process: every command, argument and option says what it is for, and every
 * command group shows an example. The command paths are read from the root's own listing, so a
 * command added later is checked without touching this file.
 */
import { stripVTControlCharacters } from "node:util"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import { main } from "@qwip/cli"
import { captureConsole } from "@qwip/test-support/CapturedConsole"
import { Effect } from "effect"

/** Runs `qwip ...args --help` and returns its exit code and what it printed, without colours. */
const help = (...args: Array<string>) =>
  captureConsole(main(["node", "qwip", ...args, "--help"])).pipe(
    Effect.map(({ value: code, stdout, stderr }) => ({
      code,
      text: stripVTControlCharacters([stdout, stderr].filter((t) => t !== "").join("\n"))
    })),
    Effect.provide(NodeContext.layer)
  )

/** The help's sections (DESCRIPTION, ARGUMENTS, OPTIONS, COMMANDS, ...) as their lines. */
const sections = (text: string): Map<string, Array<string>> => {
  const found = new Map<string, Array<string>>()
  let current: Array<string> | undefined
  for (const line of text.split("\n")) {
    if (/^[A-Z]+$/.test(line.trim()) && !line.startsWith(" ")) {
      current = []
      found.set(line.trim(), current)
    } else current?.push(line)
  }
  return found
}

/** An ARGUMENTS or OPTIONS section as items: the unindented name line and its indented paragraphs. */
const items = (lines: ReadonlyArray<string>) => {
  const result: Array<{ name: string; paragraphs: Array<string> }> = []
  for (const line of lines) {
    if (line.trim() === "") continue
    if (!line.startsWith(" ")) result.push({ name: line.trim(), paragraphs: [] })
    else result.at(-1)?.paragraphs.push(line.trim())
  }
  return result
}

/** @effect/cli's own options, described by @effect/cli. */
const BUILT_IN = /^(--completions|--log-level|\(-h, --help\)|--wizard|--version)\b/

/** What @effect/cli adds to every item: its value's type first, then whether it may be left out. */
const GENERATED = /^(This (setting|argument) is optional|One of the following:|May be specified)/

/** The command paths in the root's listing: `- pods add [--data-dir text] ... <POD>   add a pod`. */
const commandPaths = (rootHelp: string) =>
  (sections(rootHelp).get("COMMANDS") ?? [])
    .map((line) => line.trim())
    .filter((line) => line.startsWith("- "))
    .map((line) => {
      // The usage and the description are set apart by two or more spaces.
      const [usage = "", ...rest] = line.slice(2).split(/ {2,}/)
      const words = usage.split(" ")
      const end = words.findIndex((w) => /^[[<(-]/.test(w))
      return { path: words.slice(0, end === -1 ? words.length : end), listed: rest.join(" ").trim() }
    })

describe("qwip --help", () => {
  it.effect("every command, argument and option has its own description; every group an example", () =>
    Effect.gen(function* () {
      const root = yield* help()
      expect(root.code).toBe(0)
      expect((sections(root.text).get("DESCRIPTION") ?? []).join("").trim()).not.toBe("")
      const paths = commandPaths(root.text)
      // The listing was read: all eight groups and their commands.
      expect(paths.length).toBeGreaterThan(25)
      const missing: Array<string> = []
      for (const { path, listed } of paths) {
        const command = path.join(" ")
        if (listed === "") missing.push(`${command}: no description in qwip --help`)
        const shown = yield* help(...path)
        expect([command, shown.code]).toEqual([command, 0])
        const parts = sections(shown.text)
        const description = (parts.get("DESCRIPTION") ?? []).join(" ").trim()
        if (description === "") missing.push(`${command}: no description`)
        const isGroup = parts.has("COMMANDS")
        if (isGroup && !description.includes(`Example: qwip ${command} `)) {
          missing.push(`${command}: no "Example: qwip ${command} ..." in its description`)
        }
        for (const section of ["ARGUMENTS", "OPTIONS"]) {
          for (const item of items(parts.get(section) ?? [])) {
            if (BUILT_IN.test(item.name)) continue
            // The first paragraph is the value's type ("A user-defined piece of text."), not a description.
            const own = item.paragraphs.slice(1).filter((p) => !GENERATED.test(p))
            if (own.length === 0 || own.some((p) => p === "")) missing.push(`${command} ${item.name}: no description`)
          }
        }
      }
      expect(missing).toEqual([])
    })
  )

  // What the check above relies on: items are read whole, the type line apart from the description.
  it.effect("reads an option's type line apart from its description", () =>
    Effect.gen(function* () {
      const shown = yield* help("pods", "add")
      expect(shown.code).toBe(0)
      const parts = sections(shown.text)
      expect(items(parts.get("ARGUMENTS") ?? []).map((a) => a.name)).toEqual(["<POD>"])
      const options = items(parts.get("OPTIONS") ?? [])
      expect(options.map((o) => o.name.split(" ")[0])).toEqual(
        expect.arrayContaining(["--name", "--address", "--rate", "--mode", "--device", "--completions"])
      )
      const address = options.find((o) => o.name.startsWith("--address"))
      expect(address?.paragraphs[0]).toBe("A user-defined piece of text.")
      expect(address?.paragraphs.slice(1).join(" ")).toContain("shown to customers")
    })
  )
})
