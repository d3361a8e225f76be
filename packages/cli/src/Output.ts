/**
 * How the CLI talks to people and scripts: aligned tables, colour only on a terminal (and
 * never with `NO_COLOR`), JSON for `--json`, a progress bar on stderr for long work, and
 * errors as one line. Everything goes through Effect's `Console`, so tests can capture it.
 */
import { formatPounds, type Pence } from "@qwip/core"
import { Console, Effect } from "effect"

export const stdoutIsTty = (): boolean => process.stdout.isTTY === true
export const stderrIsTty = (): boolean => process.stderr.isTTY === true
const colourOn = (tty: boolean) => tty && process.env.NO_COLOR === undefined && process.env.TERM !== "dumb"

const ansi =
  (open: number, close: number) =>
  (text: string, tty = stdoutIsTty()) =>
    colourOn(tty) ? `\u001b[${open}m${text}\u001b[${close}m` : text

export const bold = ansi(1, 22)
export const dim = ansi(2, 22)
export const red = ansi(31, 39)
export const green = ansi(32, 39)
export const yellow = ansi(33, 39)

// biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes to measure text
const ANSI = /\u001b\[[0-9;]*m/g
const width = (text: string) => text.replace(ANSI, "").length

/** Columns padded to their widest cell; the header in bold. */
export const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = headers.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ""))))
  const render = (cells: ReadonlyArray<string>) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - width(cell))))
      .join("  ")
      .trimEnd()
  return [bold(render(headers)), ...rows.map(render)].join("\n")
}

/** A table, or a line saying there is nothing to show. */
export const printTable = (
  headers: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  empty: string
): Effect.Effect<void> => Console.log(rows.length === 0 ? dim(empty) : table(headers, rows))

/**
 * Runs `self` with a console that drops colour codes from what goes to a pipe or a file
 * (@effect/cli's help is coloured whatever the stream).
 */
export const plainWhenPiped = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Console.consoleWith((base) => {
    const plain = (tty: boolean) => (args: ReadonlyArray<unknown>) =>
      colourOn(tty) ? args : args.map((a) => (typeof a === "string" ? a.replace(ANSI, "") : a))
    const console: Console.Console = {
      ...base,
      log: (...args) => base.log(...plain(stdoutIsTty())(args)),
      info: (...args) => base.info(...plain(stdoutIsTty())(args)),
      error: (...args) => base.error(...plain(stderrIsTty())(args)),
      warn: (...args) => base.warn(...plain(stderrIsTty())(args))
    }
    return Console.withConsole(self, console)
  })

export const printJson = (value: unknown): Effect.Effect<void> => Console.log(JSON.stringify(value, null, 2))

export const say = (text: string): Effect.Effect<void> => Console.log(text)

/** A note for people on stderr, so it never mixes with what scripts read. */
export const note = (text: string): Effect.Effect<void> => Console.error(dim(text, stderrIsTty()))

const london = new Intl.DateTimeFormat("en-GB", {
  timeZone: "Europe/London",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23"
})

/** `2025-01-01 09:05` in London time. */
export const when = (date: Date | undefined | null): string => {
  if (date === undefined || date === null) return "-"
  const parts = Object.fromEntries(london.formatToParts(date).map((p) => [p.type, p.value]))
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`
}

export const pounds = (amount: number): string => `£${formatPounds(amount as Pence)}`

/**
 * Progress of long work on stderr: a bar redrawn in place on a terminal, otherwise one line
 * per update (for logs).
 */
export const progress = (label: string, total: number) => {
  const tty = stderrIsTty()
  let last = ""
  const render = (done: number) => {
    const shown = Math.min(done, Math.max(total, done))
    if (!tty) return `${label}: ${shown}/${total}`
    const size = 30
    const filled = total === 0 ? size : Math.round((Math.min(shown, total) / total) * size)
    return `\r${label} [${"#".repeat(filled)}${"-".repeat(size - filled)}] ${shown}/${total}`
  }
  return {
    update: (done: number, detail = ""): Effect.Effect<void> =>
      Effect.sync(() => {
        const text = `${render(done)}${detail === "" ? "" : ` ${detail}`}`
        if (text === last) return
        last = text
        process.stderr.write(tty ? text : `${text}\n`)
      }),
    finish: (): Effect.Effect<void> =>
      Effect.sync(() => {
        if (tty && last !== "") process.stderr.write("\n")
      })
  }
}
