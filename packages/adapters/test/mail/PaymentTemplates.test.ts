/**
 * The payment emails: a payment request with its pay link and expiry, a refund notice with
 * this refund and the total, and a receipt that splits what the hold at booking captured
 * from what the end charged. Values are escaped like every other email.
 */
import { describe, expect, it } from "@effect/vitest"
import { type Message, PaymentRequest, pence, Receipt, RefundNotice, type SessionId } from "@qwip/core"
import { Effect } from "effect"
import { manageSessionUrl, renderMessage } from "../../src/mail/Templates.js"

const sessionId = "3f0c6a9e-1b2d-4c5e-8f70-a1b2c3d4e5f6" as SessionId
const hostilePod = `Quiet <script>alert("x")</script> & Co's`
const render = (message: Message) =>
  renderMessage(message, { manageLink: (id) => Effect.succeed(manageSessionUrl(`tok.${id}`)) })

describe("payment emails", () => {
  it.effect("a payment request links to the pay page, says why and until when", () =>
    Effect.gen(function* () {
      const link = "https://qwip.example/pay/aaa.bbb.ccc"
      const request = (reason: PaymentRequest["reason"]) =>
        new PaymentRequest({
          to: "ada@example.com",
          sessionId,
          podName: hostilePod,
          amountPence: pence(1250),
          reason,
          attempt: 1,
          link,
          linkExpiresAt: new Date("2025-07-16T13:30:00Z")
        })
      const auth = yield* render(request("needs_authentication"))
      expect(auth.subject).toBe(`Please complete your qwip payment of £12.50 for ${hostilePod}`)
      expect(auth.text).toContain(`Pay £12.50: ${link}`)
      expect(auth.text).toContain("approve this payment")
      expect(auth.text).toContain("16th July 2025 @ 2:30pm")
      expect(auth.html).toContain(`href="${link}"`)
      expect(auth.html).not.toContain("<script>")
      const declined = yield* render(request("declined"))
      expect(declined.text).toContain("Your card was declined")
    })
  )

  it.effect("a refund notice says this refund, the reason and, after an earlier one, the total", () =>
    Effect.gen(function* () {
      const notice = (amount: number, total: number) =>
        new RefundNotice({
          to: "ada@example.com",
          sessionId,
          podName: "Pod 1",
          key: "k",
          amountPence: pence(amount),
          totalRefundedPence: pence(total),
          reason: "door <b>code</b> was slow"
        })
      const first = yield* render(notice(250, 250))
      expect(first.subject).toBe("We've refunded £2.50 for your qwip session at Pod 1")
      expect(first.text).toContain("Reason: door <b>code</b> was slow")
      expect(first.text).not.toContain("Refunded in total")
      expect(first.html).toContain("door &lt;b&gt;code&lt;/b&gt; was slow")
      const second = yield* render(notice(100, 350))
      expect(second.text).toContain("Refunded in total: £3.50")
    })
  )

  it.effect("a receipt splits the captured hold from the charged remainder", () =>
    Effect.gen(function* () {
      const base = {
        to: "ada@example.com",
        sessionId,
        podName: "Pod 1",
        startedAt: new Date("2025-07-02T13:30:00Z"),
        endedAt: new Date("2025-07-02T14:35:00Z"),
        billableSeconds: 3900,
        basis: "charged" as const
      }
      const split = yield* render(new Receipt({ ...base, amountPence: pence(2000), capturedPence: pence(1500) }))
      expect(split.text).toContain("Amount: £20.00")
      expect(split.text).toContain("From the hold at booking: £15.00")
      expect(split.text).toContain("Charged at the end: £5.00")
      const withinHold = yield* render(new Receipt({ ...base, amountPence: pence(900), capturedPence: pence(900) }))
      expect(withinHold.text).toContain("From the hold at booking: £9.00")
      expect(withinHold.text).not.toContain("Charged at the end")
      const noHold = yield* render(new Receipt({ ...base, amountPence: pence(900) }))
      expect(noHold.text).not.toContain("hold")
    })
  )
})
