/**
 * Renders the core's `Message`s as emails: a subject, an HTML part and a plain-text part.
 *
 * HTML is built with the `html` tag below, which escapes every interpolated value unless it
 * is already `SafeHtml`, so a pod name like `<script>` can never become markup.
 * Times are shown in Europe/London (GMT or BST, whichever applies on that date).
 */
import {
  type AccessReady,
  chargedAtEndPence,
  describeRate,
  formatPounds,
  type Message,
  type PaymentProblem,
  type PaymentRequest,
  type ProvisioningFailedNotice,
  type Receipt,
  type RefundNotice,
  type SessionId,
  type StaffAlert,
  spacedDigits
} from "@qwip/core"
import { Effect, Option } from "effect"

export interface RenderedEmail {
  readonly subject: string
  readonly html: string
  readonly text: string
}

/** The customer's "Manage Session" URL; it holds a session token minted elsewhere. */
export type ManageLink = (sessionId: SessionId) => Effect.Effect<string>

export interface TemplateOptions {
  readonly manageLink: ManageLink
}

export const SUPPORT_EMAIL = "hello@qwip.co.uk"

/** `https://qwip.co.uk/session?t=<token>`, the link today's emails carry. */
export const manageSessionUrl = (sessionToken: string, origin = "https://qwip.co.uk"): string =>
  `${origin}/session?t=${encodeURIComponent(sessionToken)}`

// --- HTML escaping -------------------------------------------------------------------------

/** Markup that is already safe to embed. Only the `html` tag and `raw` make one. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value
  }
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }

export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c)

type HtmlValue = string | number | SafeHtml | ReadonlyArray<SafeHtml>

const toHtml = (value: HtmlValue): string => {
  if (value instanceof SafeHtml) return value.value
  if (typeof value === "number") return escapeHtml(String(value))
  if (typeof value === "string") return escapeHtml(value)
  return value.map((v) => v.value).join("")
}

/** Tagged template: literal parts are trusted, every interpolation is escaped. */
export const html = (strings: TemplateStringsArray, ...values: ReadonlyArray<HtmlValue>): SafeHtml =>
  new SafeHtml(
    strings.reduce((out, part, i) => out + part + (i < values.length ? toHtml(values[i] as HtmlValue) : ""), "")
  )

// --- London time ---------------------------------------------------------------------------

const londonFormat = new Intl.DateTimeFormat("en-GB", {
  timeZone: "Europe/London",
  day: "numeric",
  month: "long",
  year: "numeric",
  hour: "numeric",
  minute: "2-digit",
  hourCycle: "h12"
})

/** `1st`, `2nd`, `3rd`, `4th`, ..., `11th`, `12th`, `13th`, ..., `21st`, `22nd`, `23rd`, `31st`. */
export const ordinal = (n: number): string => {
  const lastTwo = n % 100
  if (lastTwo >= 11 && lastTwo <= 13) return `${n}th`
  switch (n % 10) {
    case 1:
      return `${n}st`
    case 2:
      return `${n}nd`
    case 3:
      return `${n}rd`
    default:
      return `${n}th`
  }
}

/** London local time as today's emails show it: `1st January 2025 @ 9:05am`. */
export const formatLondon = (date: Date): string => {
  const parts: Partial<Record<Intl.DateTimeFormatPartTypes, string>> = {}
  for (const part of londonFormat.formatToParts(date)) parts[part.type] = part.value
  const day = ordinal(Number(parts.day))
  // ICU has spelled the day period "am", "AM" and "a.m." across versions; normalise it.
  const period = (parts.dayPeriod ?? "").toLowerCase().replace(/\./g, "")
  return `${day} ${parts.month} ${parts.year} @ ${Number(parts.hour)}:${parts.minute}${period}`
}

const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"}`

/** `1 hour 5 minutes`, `42 minutes 10 seconds`, `0 seconds`. */
export const formatDuration = (totalSeconds: number): string => {
  const seconds = Math.max(0, Math.floor(totalSeconds))
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  const parts = [h > 0 ? plural(h, "hour") : "", m > 0 ? plural(m, "minute") : "", s > 0 ? plural(s, "second") : ""]
  const shown = parts.filter((p) => p.length > 0)
  return shown.length === 0 ? "0 seconds" : shown.join(" ")
}

// --- Layout --------------------------------------------------------------------------------

/** Subjects are plain text; line breaks are removed so a value cannot start a new line. */
const subjectLine = (text: string) => text.replace(/[\r\n]+/g, " ").trim()

const page = (title: string, body: SafeHtml): string =>
  html`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title></head>
<body style="margin:0;padding:24px;background:#f6f6f4;font-family:Helvetica,Arial,sans-serif;color:#1d1d1b;line-height:1.5">
<div style="max-width:560px;margin:0 auto;background:#ffffff;padding:24px;border-radius:8px">
${body}
</div>
</body>
</html>
`.value

const table = (rows: ReadonlyArray<readonly [string, string]>): SafeHtml =>
  html`<table style="border-collapse:collapse;margin:16px 0">${rows.map(
    ([label, value]) =>
      html`<tr><th style="text-align:left;padding:4px 16px 4px 0;font-weight:600">${label}</th><td style="padding:4px 0">${value}</td></tr>`
  )}</table>`

const textRows = (rows: ReadonlyArray<readonly [string, string]>): string =>
  rows.map(([label, value]) => `${label}: ${value}`).join("\n")

// --- Messages ------------------------------------------------------------------------------

const accessReady = (m: AccessReady, link: string): RenderedEmail => {
  const start = formatLondon(m.startsAt)
  const until = formatLondon(m.accessUntil)
  const code = spacedDigits(m.code)
  const subject = subjectLine(`Your qwip session at ${m.podName} from ${start}`)
  const body = html`<h1 style="font-size:20px">Your qwip session is ready</h1>
<p>Your session at <strong>${m.podName}</strong> (${m.podAddress}) starts ${start}.</p>
<p>Your door code:</p>
<p style="font-size:32px;font-weight:700;letter-spacing:4px;font-family:Menlo,Consolas,monospace">${code}</p>
<p>The code works until ${until}.</p>
<p><a href="${link}" style="display:inline-block;background:#1d1d1b;color:#ffffff;padding:10px 18px;border-radius:6px;text-decoration:none">Manage Session</a></p>
<p>Use Manage Session to see your code again and to end your session when you leave.</p>`
  const text = [
    "Your qwip session is ready",
    "",
    `Your session at ${m.podName} (${m.podAddress}) starts ${start}.`,
    "",
    `Your door code: ${code}`,
    `The code works until ${until}.`,
    "",
    `Manage Session: ${link}`,
    "Use Manage Session to see your code again and to end your session when you leave."
  ].join("\n")
  return { subject, html: page(subject, body), text }
}

const amountLine = (m: Receipt): string => {
  switch (m.basis) {
    case "charged":
      return `£${formatPounds(m.amountPence)}`
    case "not_billed":
      return "Not billed: the session cost less than our minimum charge"
    case "no_door_code":
      return "Not charged: your door code was never ready"
    case "waived":
      return "Waived"
  }
}

const receipt = (m: Receipt): RenderedEmail => {
  const start = formatLondon(m.startedAt)
  const durationSeconds = (m.endedAt.getTime() - m.startedAt.getTime()) / 1000
  const rows: Array<readonly [string, string]> = [
    ["Pod", m.podName],
    ["Started", start],
    ["Ended", formatLondon(m.endedAt)],
    ["Duration", formatDuration(durationSeconds)]
  ]
  // Billing starts when the door code was ready, and promo minutes come off the front: either
  // makes billed time shorter than the session, so show what it was billed from and for.
  const billedFrom = Option.getOrUndefined(m.billedFrom)
  if (billedFrom !== undefined && billedFrom.getTime() !== m.startedAt.getTime()) {
    rows.push(["Door code ready", formatLondon(billedFrom)])
  }
  rows.push(["Billed time", formatDuration(m.billableSeconds)])
  if (Option.isSome(m.rate)) rows.push(["Rate", describeRate(m.rate.value)])
  rows.push(["Amount", amountLine(m)])
  // With a card check hold, part (or all) of the amount was taken from the hold placed at
  // booking: say how it splits, so the two lines on the card statement add up.
  if (m.basis === "charged" && m.capturedPence > 0) {
    rows.push(["From the hold at booking", `£${formatPounds(m.capturedPence)}`])
    const charged = chargedAtEndPence(m)
    if (charged > 0) rows.push(["Charged at the end", `£${formatPounds(charged)}`])
  }
  const subject = subjectLine(`Your qwip receipt: ${m.podName}, ${start}`)
  const body = html`<h1 style="font-size:20px">Thanks for using qwip</h1>
<p>Your session has ended. Here is your receipt.</p>
${table(rows)}
<p>Questions about this receipt? Email <a href="mailto:${SUPPORT_EMAIL}">${SUPPORT_EMAIL}</a> and quote ${m.sessionId}.</p>`
  const text = [
    "Thanks for using qwip",
    "",
    "Your session has ended. Here is your receipt.",
    "",
    textRows(rows),
    "",
    `Questions about this receipt? Email ${SUPPORT_EMAIL} and quote ${m.sessionId}.`
  ].join("\n")
  return { subject, html: page(subject, body), text }
}

const provisioningFailed = (m: ProvisioningFailedNotice): RenderedEmail => {
  const subject = subjectLine(`We couldn't open your qwip session at ${m.podName}`)
  const body = html`<h1 style="font-size:20px">Sorry, we couldn't open your session</h1>
<p>We could not set up a door code for your session at <strong>${m.podName}</strong>. We're sorry.</p>
<p><strong>Nothing has been charged</strong> to your card.</p>
<p>You can try booking again in a few minutes. If it happens again, or you need a hand, email <a href="mailto:${SUPPORT_EMAIL}">${SUPPORT_EMAIL}</a> and quote ${m.sessionId}.</p>`
  const text = [
    "Sorry, we couldn't open your session",
    "",
    `We could not set up a door code for your session at ${m.podName}. We're sorry.`,
    "Nothing has been charged to your card.",
    "",
    `You can try booking again in a few minutes. If it happens again, or you need a hand, email ${SUPPORT_EMAIL} and quote ${m.sessionId}.`
  ].join("\n")
  return { subject, html: page(subject, body), text }
}

const paymentRequest = (m: PaymentRequest): RenderedEmail => {
  const amount = `£${formatPounds(m.amountPence)}`
  const expires = formatLondon(m.linkExpiresAt)
  const why =
    m.reason === "needs_authentication"
      ? "Your bank wants you to approve this payment before it goes through."
      : "Your card was declined when we tried to take this payment."
  const subject = subjectLine(`Please complete your qwip payment of ${amount} for ${m.podName}`)
  const body = html`<h1 style="font-size:20px">Your qwip payment needs you</h1>
<p>We could not take <strong>${amount}</strong> for your session at <strong>${m.podName}</strong>. ${why}</p>
<p><a href="${m.link}" style="display:inline-block;background:#1d1d1b;color:#ffffff;padding:10px 18px;border-radius:6px;text-decoration:none">Pay ${amount}</a></p>
<p>The link works until ${expires}. You can pay with the card you booked with or another card.</p>
<p>Questions? Email <a href="mailto:${SUPPORT_EMAIL}">${SUPPORT_EMAIL}</a> and quote ${m.sessionId}.</p>`
  const text = [
    "Your qwip payment needs you",
    "",
    `We could not take ${amount} for your session at ${m.podName}. ${why}`,
    "",
    `Pay ${amount}: ${m.link}`,
    `The link works until ${expires}. You can pay with the card you booked with or another card.`,
    "",
    `Questions? Email ${SUPPORT_EMAIL} and quote ${m.sessionId}.`
  ].join("\n")
  return { subject, html: page(subject, body), text }
}

const refundNotice = (m: RefundNotice): RenderedEmail => {
  const amount = `£${formatPounds(m.amountPence)}`
  const rows: Array<readonly [string, string]> = [
    ["Pod", m.podName],
    ["Refunded now", amount],
    ["Reason", m.reason]
  ]
  if (m.totalRefundedPence !== m.amountPence) {
    rows.push(["Refunded in total", `£${formatPounds(m.totalRefundedPence)}`])
  }
  const subject = subjectLine(`We've refunded ${amount} for your qwip session at ${m.podName}`)
  const body = html`<h1 style="font-size:20px">Your refund is on its way</h1>
<p>We've refunded <strong>${amount}</strong> to the card you paid with. It usually reaches your account within 5 to 10 working days.</p>
${table(rows)}
<p>Questions? Email <a href="mailto:${SUPPORT_EMAIL}">${SUPPORT_EMAIL}</a> and quote ${m.sessionId}.</p>`
  const text = [
    "Your refund is on its way",
    "",
    `We've refunded ${amount} to the card you paid with. It usually reaches your account within 5 to 10 working days.`,
    "",
    textRows(rows),
    "",
    `Questions? Email ${SUPPORT_EMAIL} and quote ${m.sessionId}.`
  ].join("\n")
  return { subject, html: page(subject, body), text }
}

const PROBLEMS: Record<PaymentProblem["problem"], { label: string; action: string }> = {
  declined: { label: "card declined", action: "The session is closed. Contact the customer to settle the amount." },
  needs_authentication: {
    label: "needs customer authentication",
    action: "The bank wants the customer to approve this payment. Contact the customer."
  },
  unknown: {
    label: "outcome unknown",
    action: "The charge may have gone through. Check Stripe before charging again."
  },
  unexpected_payment: {
    label: "payment the session did not ask for",
    action:
      "The session was not marked paid. Check this PaymentIntent in Stripe: refund it if it is not this session's charge."
  }
}

const paymentProblem = (m: PaymentProblem): RenderedEmail => {
  const problem = PROBLEMS[m.problem]
  const rows: ReadonlyArray<readonly [string, string]> = [
    ["Session id", m.sessionId],
    ["Customer email", m.customerEmail],
    ["Amount", `£${formatPounds(m.amountPence)} (${m.amountPence}p)`],
    ["Problem", problem.label],
    ...(m.paymentIntentId === undefined ? [] : [["PaymentIntent", m.paymentIntentId] as const]),
    ["Detail", m.detail]
  ]
  const subject = subjectLine(`Payment problem (${problem.label}): session ${m.sessionId}`)
  const body = html`<h1 style="font-size:20px">Payment problem: ${problem.label}</h1>
${table(rows)}
<p>${problem.action}</p>`
  const text = [`Payment problem: ${problem.label}`, "", textRows(rows), "", problem.action].join("\n")
  return { subject, html: page(subject, body), text }
}

const TOPICS: Record<StaffAlert["topic"], string> = {
  provisioning_failed: "provisioning failed",
  overdue: "session overdue",
  work_parked: "background work parked",
  code_not_removed: "door code still on the lock",
  unpaid_after_collection: "unpaid after collection",
  reconciliation: "payments disagree with the provider",
  refund_failed: "a refund was refused"
}

const staffAlert = (m: StaffAlert): RenderedEmail => {
  const topic = TOPICS[m.topic]
  const rows: ReadonlyArray<readonly [string, string]> = [
    ["Topic", topic],
    ["Session id", m.sessionId],
    ["Pod id", m.podId],
    ["Detail", m.detail]
  ]
  const subject = subjectLine(`Staff alert (${topic}): session ${m.sessionId}`)
  const body = html`<h1 style="font-size:20px">Staff alert: ${topic}</h1>
${table(rows)}`
  const text = [`Staff alert: ${topic}`, "", textRows(rows)].join("\n")
  return { subject, html: page(subject, body), text }
}

/** Renders any message. Only `AccessReady` needs the manage link (and so a session token). */
export const renderMessage = (message: Message, options: TemplateOptions): Effect.Effect<RenderedEmail> => {
  switch (message._tag) {
    case "AccessReady":
      return Effect.map(options.manageLink(message.sessionId), (link) => accessReady(message, link))
    case "Receipt":
      return Effect.succeed(receipt(message))
    case "ProvisioningFailedNotice":
      return Effect.succeed(provisioningFailed(message))
    case "PaymentProblem":
      return Effect.succeed(paymentProblem(message))
    case "StaffAlert":
      return Effect.succeed(staffAlert(message))
    case "PaymentRequest":
      return Effect.succeed(paymentRequest(message))
    case "RefundNotice":
      return Effect.succeed(refundNotice(message))
  }
}
