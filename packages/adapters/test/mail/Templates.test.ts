import { describe, expect, it } from "@effect/vitest"
import {
  AccessReady,
  accessCode,
  type Message,
  PaymentProblem,
  ProvisioningFailedNotice,
  pence,
  Receipt,
  rate,
  type SessionId,
  StaffAlert
} from "@qwip/core"
import { Effect, Option } from "effect"
import {
  escapeHtml,
  formatDuration,
  formatLondon,
  html,
  manageSessionUrl,
  ordinal,
  renderMessage
} from "../../src/mail/Templates.js"

const sessionId = "3f0c6a9e-1b2d-4c5e-8f70-a1b2c3d4e5f6" as SessionId
const hostilePod = `Quiet <script>alert("x")</script> & Co's`
const manageLink = (id: SessionId) => Effect.succeed(manageSessionUrl(`tok.${id}`))
const render = (message: Message) => renderMessage(message, { manageLink })

describe("formatLondon", () => {
  it.each([
    ["2025-01-01T09:05:00Z", "1st January 2025 @ 9:05am"], // GMT
    ["2025-07-02T13:30:00Z", "2nd July 2025 @ 2:30pm"], // BST: 14:30 local
    ["2025-03-03T12:00:00Z", "3rd March 2025 @ 12:00pm"],
    ["2025-11-11T00:00:00Z", "11th November 2025 @ 12:00am"],
    ["2025-12-12T23:59:00Z", "12th December 2025 @ 11:59pm"],
    ["2025-06-12T23:01:00Z", "13th June 2025 @ 12:01am"], // BST moves the date forward
    ["2025-02-21T10:00:00Z", "21st February 2025 @ 10:00am"],
    ["2025-08-22T07:09:00Z", "22nd August 2025 @ 8:09am"],
    ["2025-10-23T16:45:00Z", "23rd October 2025 @ 5:45pm"],
    ["2025-12-31T17:00:00Z", "31st December 2025 @ 5:00pm"],
    ["2025-03-30T00:59:00Z", "30th March 2025 @ 12:59am"], // last GMT minute
    ["2025-03-30T01:00:00Z", "30th March 2025 @ 2:00am"], // clocks go forward
    ["2025-10-26T00:30:00Z", "26th October 2025 @ 1:30am"], // first 1:30, BST
    ["2025-10-26T01:30:00Z", "26th October 2025 @ 1:30am"] // second 1:30, GMT
  ])("%s is %s", (iso, expected) => {
    expect(formatLondon(new Date(iso))).toBe(expected)
  })

  it("ordinals", () => {
    const days = [1, 2, 3, 4, 10, 11, 12, 13, 14, 20, 21, 22, 23, 24, 30, 31, 101, 111, 112, 113]
    expect(days.map(ordinal)).toEqual([
      "1st",
      "2nd",
      "3rd",
      "4th",
      "10th",
      "11th",
      "12th",
      "13th",
      "14th",
      "20th",
      "21st",
      "22nd",
      "23rd",
      "24th",
      "30th",
      "31st",
      "101st",
      "111th",
      "112th",
      "113th"
    ])
  })
})

describe("helpers", () => {
  it("escapes the five HTML-significant characters", () => {
    expect(escapeHtml(`<a href="x">Tom & Jerry's</a>`)).toBe(
      "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;"
    )
  })

  it("the html tag escapes interpolations but not nested html", () => {
    const inner = html`<b>${"<i>"}</b>`
    expect(html`<p>${"&"}${inner}${[inner, inner]}${42}</p>`.value).toBe(
      "<p>&amp;<b>&lt;i&gt;</b><b>&lt;i&gt;</b><b>&lt;i&gt;</b>42</p>"
    )
  })

  it("formats durations", () => {
    expect(formatDuration(0)).toBe("0 seconds")
    expect(formatDuration(1)).toBe("1 second")
    expect(formatDuration(59.9)).toBe("59 seconds")
    expect(formatDuration(60)).toBe("1 minute")
    expect(formatDuration(2530)).toBe("42 minutes 10 seconds")
    expect(formatDuration(3900)).toBe("1 hour 5 minutes")
    expect(formatDuration(7261)).toBe("2 hours 1 minute 1 second")
  })

  it("builds the manage link today's emails carry", () => {
    expect(manageSessionUrl("a.b-c_d")).toBe("https://qwip.co.uk/session?t=a.b-c_d")
  })
})

describe("AccessReady", () => {
  const message = new AccessReady({
    to: "ada@example.com",
    sessionId,
    podName: "Soho 1",
    podAddress: "1 Dean St, London",
    startsAt: new Date("2025-01-01T09:05:00Z"),
    accessUntil: new Date("2025-01-01T12:05:00Z"),
    code: accessCode("04726")
  })

  it.effect("subject, spaced code with its leading zero, and the manage link", () =>
    Effect.gen(function* () {
      const email = yield* render(message)
      expect(email.subject).toBe("Your qwip session at Soho 1 from 1st January 2025 @ 9:05am")
      expect(email.html).toContain("0 4 7 2 6")
      expect(email.text).toContain("Your door code: 0 4 7 2 6")
      const link = `https://qwip.co.uk/session?t=tok.${sessionId}`
      expect(email.html).toContain(`href="${link}"`)
      expect(email.html).toContain(">Manage Session</a>")
      expect(email.text).toContain(`Manage Session: ${link}`)
      expect(email.text).toContain("until 1st January 2025 @ 12:05pm")
    })
  )

  it.effect("escapes every interpolated value in HTML, and leaves text and subject plain", () =>
    Effect.gen(function* () {
      const email = yield* render(
        new AccessReady({ ...message, podName: hostilePod, podAddress: `"Arch" 5 <Mews> & Yard` })
      )
      expect(email.html).not.toContain("<script>")
      expect(email.html).toContain("Quiet &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co&#39;s")
      expect(email.html).toContain("&quot;Arch&quot; 5 &lt;Mews&gt; &amp; Yard")
      // The <title> is escaped too.
      expect(email.html).toContain("<title>Your qwip session at Quiet &lt;script&gt;")
      expect(email.subject).toBe(`Your qwip session at ${hostilePod} from 1st January 2025 @ 9:05am`)
      expect(email.text).toContain(hostilePod)
    })
  )

  it.effect("escapes the manage link inside the href", () =>
    Effect.gen(function* () {
      const email = yield* renderMessage(message, {
        manageLink: () => Effect.succeed(`https://qwip.co.uk/session?t=a&x="><script>`)
      })
      expect(email.html).toContain(`href="https://qwip.co.uk/session?t=a&amp;x=&quot;&gt;&lt;script&gt;"`)
      expect(email.html).not.toContain("<script>")
    })
  )

  it.effect("removes line breaks from the subject", () =>
    Effect.gen(function* () {
      const email = yield* render(new AccessReady({ ...message, podName: "Soho\r\nBcc: x@y.z" }))
      expect(email.subject).toBe("Your qwip session at Soho Bcc: x@y.z from 1st January 2025 @ 9:05am")
    })
  )
})

describe("Receipt", () => {
  const base = {
    to: "ada@example.com",
    sessionId,
    podName: hostilePod,
    startedAt: new Date("2025-07-02T13:30:00Z"),
    endedAt: new Date("2025-07-02T14:35:00Z"),
    billableSeconds: 3900
  }

  it.effect("a charge shows pod, London times, duration, billed time, rate and pounds", () =>
    Effect.gen(function* () {
      const email = yield* render(
        new Receipt({ ...base, rate: Option.some(rate("0.19")), amountPence: pence(1234), basis: "charged" })
      )
      expect(email.subject).toBe(`Your qwip receipt: ${hostilePod}, 2nd July 2025 @ 2:30pm`)
      expect(email.text).toContain("Started: 2nd July 2025 @ 2:30pm")
      expect(email.text).toContain("Ended: 2nd July 2025 @ 3:35pm")
      expect(email.text).toContain("Duration: 1 hour 5 minutes")
      expect(email.text).toContain("Amount: £12.34")
      expect(email.text).toContain("Billed time: 1 hour 5 minutes")
      expect(email.text).toContain("Rate: £0.19 a minute")
      expect(email.html).toContain("£12.34")
      expect(email.html).not.toContain("<script>")
      expect(email.html).toContain("&amp; Co&#39;s")
    })
  )

  it.effect("shows billed time when promo minutes made it shorter", () =>
    Effect.gen(function* () {
      const email = yield* render(
        new Receipt({ ...base, billableSeconds: 3300, amountPence: pence(1000), basis: "charged" })
      )
      expect(email.text).toContain("Billed time: 55 minutes")
    })
  )

  it.effect("a door code ready after the start: shows when, and the shorter billed time", () =>
    Effect.gen(function* () {
      const ready = new Date(base.startedAt.getTime() + 2 * 60_000)
      const email = yield* render(
        new Receipt({
          ...base,
          billedFrom: Option.some(ready),
          billableSeconds: 3780,
          amountPence: pence(1000),
          basis: "charged"
        })
      )
      expect(email.text).toContain("Door code ready: 2nd July 2025 @ 2:32pm")
      expect(email.text).toContain("Billed time: 1 hour 3 minutes")
      const fromStart = yield* render(
        new Receipt({ ...base, billedFrom: Option.some(base.startedAt), amountPence: pence(1000), basis: "charged" })
      )
      expect(fromStart.text).not.toContain("Door code ready")
    })
  )

  it.effect("no door code was ever ready: not charged, and says why", () =>
    Effect.gen(function* () {
      const email = yield* render(
        new Receipt({ ...base, billableSeconds: 0, amountPence: pence(0), basis: "no_door_code" })
      )
      expect(email.text).toContain("Amount: Not charged: your door code was never ready")
      expect(email.text).not.toContain("Door code ready:")
      expect(email.text).not.toContain("£")
    })
  )

  it.effect("below the minimum: not billed; by staff: waived", () =>
    Effect.gen(function* () {
      const notBilled = yield* render(new Receipt({ ...base, amountPence: pence(0), basis: "not_billed" }))
      expect(notBilled.text).toContain("Amount: Not billed")
      expect(notBilled.text).not.toContain("£")
      const waived = yield* render(new Receipt({ ...base, amountPence: pence(0), basis: "waived" }))
      expect(waived.text).toContain("Amount: Waived")
    })
  )
})

describe("ProvisioningFailedNotice", () => {
  it.effect("apologises, says nothing was charged and what to do next", () =>
    Effect.gen(function* () {
      const email = yield* render(
        new ProvisioningFailedNotice({ to: "ada@example.com", sessionId, podName: hostilePod })
      )
      expect(email.subject).toBe(`We couldn't open your qwip session at ${hostilePod}`)
      for (const part of [email.text, email.html]) {
        expect(part).toContain("sorry")
        expect(part).toContain("Nothing has been charged")
        expect(part).toContain("try booking again")
        expect(part).toContain("hello@qwip.co.uk")
        expect(part).toContain(sessionId)
      }
      expect(email.html).not.toContain("<script>")
    })
  )
})

describe("staff messages", () => {
  it.effect("PaymentProblem shows session id, customer email, the amount in pounds and the problem", () =>
    Effect.gen(function* () {
      const email = yield* render(
        new PaymentProblem({
          sessionId,
          customerEmail: "ada+<x>@example.com",
          amountPence: pence(1234),
          problem: "unknown",
          detail: "timeout <after 30s> & no answer"
        })
      )
      expect(email.subject).toBe(`Payment problem (outcome unknown): session ${sessionId}`)
      expect(email.text).toContain(`Session id: ${sessionId}`)
      expect(email.text).toContain("Customer email: ada+<x>@example.com")
      expect(email.text).toContain("Amount: £12.34 (1234p)")
      expect(email.text).toContain("Detail: timeout <after 30s> & no answer")
      expect(email.text).toContain("Check Stripe")
      expect(email.html).toContain("ada+&lt;x&gt;@example.com")
      expect(email.html).toContain("timeout &lt;after 30s&gt; &amp; no answer")
      expect(email.html).toContain("1234")
    })
  )

  it.effect("PaymentProblem names each problem", () =>
    Effect.gen(function* () {
      const subjects = yield* Effect.forEach(["declined", "needs_authentication"] as const, (problem) =>
        render(
          new PaymentProblem({ sessionId, customerEmail: "a@b.c", amountPence: pence(50), problem, detail: "" })
        ).pipe(Effect.map((e) => e.subject))
      )
      expect(subjects).toEqual([
        `Payment problem (card declined): session ${sessionId}`,
        `Payment problem (needs customer authentication): session ${sessionId}`
      ])
    })
  )

  it.effect("PaymentProblem for a payment the session did not ask for names its PaymentIntent and what to do", () =>
    Effect.gen(function* () {
      const email = yield* render(
        new PaymentProblem({
          sessionId,
          customerEmail: "a@b.c",
          amountPence: pence(500),
          problem: "unexpected_payment",
          detail: "PaymentIntent pi_x received 499 pence; the session was charged 500 pence",
          paymentIntentId: "pi_x"
        })
      )
      expect(email.subject).toBe(`Payment problem (payment the session did not ask for): session ${sessionId}`)
      expect(email.text).toContain("PaymentIntent: pi_x")
      expect(email.text).toContain("The session was not marked paid")
    })
  )

  it.effect("StaffAlert shows topic, session, pod and detail", () =>
    Effect.gen(function* () {
      const email = yield* render(
        new StaffAlert({ topic: "overdue", sessionId, podId: "pod<1>", detail: "open for 5 hours & counting" })
      )
      expect(email.subject).toBe(`Staff alert (session overdue): session ${sessionId}`)
      expect(email.text).toContain("Pod id: pod<1>")
      expect(email.html).toContain("pod&lt;1&gt;")
      expect(email.html).toContain("open for 5 hours &amp; counting")
    })
  )
})
