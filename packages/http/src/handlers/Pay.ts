/**
 * The pay page's API: what a signed pay link asks for (`GET /api/pay/:token`) and the page's
 * read-back after Stripe.js (or the sandbox) confirmed the payment (`POST .../confirm`). The
 * rules (what is owed, which PaymentIntent, what a read-back records) are the core's
 * `PayPage`; here a bad link becomes 404 and an expired one 410, never a 5xx.
 */
import { HttpApiBuilder } from "@effect/platform"
import { type PayLinkInvalid, PayLinks, PayPage, pence, toPoundsNumber } from "@qwip/core"
import { Clock, Effect, Option } from "effect"
import { PAY_AUDIENCE, Sandbox } from "../Adapters.js"
import { QwipApi } from "../Api.js"
import { HttpConfig } from "../Config.js"
import { type ApiProblem, orProblem, problem } from "../Problem.js"

/**
 * Whether a token the core refused looks like one of our pay links past its `exp`. Read without
 * checking the signature, only to choose between "expired" (410) and "invalid" (404): the core
 * has already refused it either way, so a forged claim gains nothing but another message.
 */
export const looksExpired = (token: string, nowMs: number): boolean => {
  try {
    const payload = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as {
      readonly aud?: unknown
      readonly exp?: unknown
    }
    const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud]
    return audiences.includes(PAY_AUDIENCE) && typeof payload.exp === "number" && payload.exp * 1000 <= nowMs
  } catch {
    return false
  }
}

const invalidLink = (token: string, e: PayLinkInvalid): Effect.Effect<never, ApiProblem> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.fail(
      looksExpired(token, now)
        ? problem(
            410,
            "pay_link_expired",
            "This pay link has expired; reply to the payment email or contact Qwip for a new one"
          )
        : e.reason.startsWith("payment ")
          ? problem(404, "pay_link_invalid", `This pay link cannot confirm that: ${e.reason}`)
          : problem(404, "pay_link_invalid", "This pay link is not valid; use the link from your payment email")
    )
  )

/** What the page does next after a read-back that did not pay. */
const notPaidStatus = (status: string): "processing" | "requires_action" | "failed" =>
  status === "processing" ? "processing" : status === "requires_action" ? "requires_action" : "failed"

const nothingToPay = (detail: string) => problem(409, "nothing_to_pay", detail)

export const PayLive = HttpApiBuilder.group(QwipApi, "pay", (handlers) =>
  Effect.gen(function* () {
    const config = yield* HttpConfig
    const links = yield* PayLinks
    const sandbox = yield* Sandbox
    const provider = Option.isSome(sandbox) ? ("sandbox" as const) : ("stripe" as const)
    const publishableKey = Option.isSome(sandbox) ? null : Option.getOrNull(config.stripePublishableKey)
    return handlers
      .handle("payPage", ({ path }) =>
        PayPage.openPayPage(path.token).pipe(
          Effect.map((page) => ({
            session_id: page.sessionId,
            pod_name: page.podName,
            amount_pence: page.amountPence,
            amount: toPoundsNumber(pence(page.amountPence)),
            status: page.payment.status,
            payment_intent_id: page.payment.paymentIntentId,
            client_secret: page.payment.clientSecret,
            provider,
            publishable_key: publishableKey
          })),
          Effect.catchTags({
            PayLinkInvalid: (e) => invalidLink(path.token, e),
            NothingToPay: (e) => Effect.fail(nothingToPay(e.message))
          }),
          orProblem
        )
      )
      .handle("confirmPayment", ({ path, payload }) =>
        PayPage.confirmPayPage(path.token, payload.payment_intent_id).pipe(
          Effect.flatMap((r) =>
            // The core has checked the link; its session is what the page confirmed for.
            Effect.map(links.sessionOf(path.token), (sessionId) => ({
              status: r._tag === "Paid" ? ("paid" as const) : notPaidStatus(r.status),
              session_id: r._tag === "Paid" ? r.session.id : Option.getOrElse(sessionId, () => "")
            }))
          ),
          Effect.catchTag("PayLinkInvalid", (e) => invalidLink(path.token, e)),
          orProblem
        )
      )
  })
)
