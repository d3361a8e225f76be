/**
 * The booking page at `/`, and the pay page at `/pay/<token>` (the link in a payment email): plain HTML, CSS and a module script (`packages/http/public/`) that
 * do the customer's flow through the public API only, as Qwip's frontend does. The files are
 * read once at start; the page gets its settings (sandbox or Stripe's publishable key) in a
 * JSON block, and its assets a content hash so a deploy is never served stale from a cache.
 *
 * Nothing is loaded from elsewhere on sandbox payments; with `STRIPE_PUBLISHABLE_KEY` the page
 * loads Stripe.js for the Payment Element, which its Content-Security-Policy allows, and
 * nothing else.
 */
import { createHash } from "node:crypto"
import { readFile } from "node:fs/promises"
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Effect, Option } from "effect"
import { Sandbox } from "./Adapters.js"
import { HttpConfig } from "./Config.js"

/** Where the page's files live: `packages/http/public`, beside both `src/` and `dist/`. */
const publicDirectory = new URL("../public/", import.meta.url)

const STRIPE_JS = "https://js.stripe.com"
const contentSecurityPolicy = (stripe: boolean) =>
  [
    "default-src 'self'",
    `script-src 'self'${stripe ? ` ${STRIPE_JS}` : ""}`,
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self'${stripe ? " https://api.stripe.com" : ""}`,
    `frame-src ${stripe ? `${STRIPE_JS} https://hooks.stripe.com` : "'none'"}`,
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'"
  ].join("; ")

/** A JSON value safe inside a `<script type="application/json">` block. */
const scriptJson = (value: unknown) => JSON.stringify(value).replaceAll("<", "\\u003c")

export const BookingPageLive = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function* () {
    const config = yield* HttpConfig
    const sandbox = yield* Sandbox
    const read = (name: string) => Effect.promise(() => readFile(new URL(name, publicDirectory), "utf8"))
    const [template, script, styles, payTemplate, payScript] = yield* Effect.all([
      read("index.html"),
      read("booking.js"),
      read("booking.css"),
      read("pay.html"),
      read("pay.js")
    ])
    const version = createHash("sha256")
      .update(script)
      .update(styles)
      .update(payScript)
      .digest("base64url")
      .slice(0, 12)
    const usesStripe = Option.isNone(sandbox) && Option.isSome(config.stripePublishableKey)
    const settings = scriptJson({
      sandbox: Option.isSome(sandbox),
      stripePublishableKey: Option.getOrNull(config.stripePublishableKey)
    })
    const page = template.replaceAll("{{ASSET_VERSION}}", version).replace('"__QWIP_CONFIG__"', settings)
    const payPage = payTemplate.replaceAll("{{ASSET_VERSION}}", version).replace('"__QWIP_CONFIG__"', settings)
    const headers = {
      "content-security-policy": contentSecurityPolicy(usesStripe),
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer"
    }
    // The page is small and changes with each deploy; its assets are named by content.
    const html = HttpServerResponse.text(page, {
      contentType: "text/html; charset=utf-8",
      headers: { ...headers, "cache-control": "no-cache" }
    })
    const asset = (body: string, contentType: string) =>
      HttpServerResponse.text(body, {
        contentType,
        headers: { ...headers, "cache-control": "public, max-age=31536000, immutable" }
      })
    yield* router.get("/", Effect.succeed(html))
    // One page for every token: the script reads the token from the path and asks the API, which
    // checks it. Never cached or indexed: the URL is the customer's credential.
    yield* router.get(
      "/pay/:token",
      Effect.succeed(
        HttpServerResponse.text(payPage, {
          contentType: "text/html; charset=utf-8",
          headers: { ...headers, "cache-control": "no-store", "x-robots-tag": "noindex" }
        })
      )
    )
    yield* router.get("/booking/pay.js", Effect.succeed(asset(payScript, "text/javascript; charset=utf-8")))
    yield* router.get("/booking/booking.js", Effect.succeed(asset(script, "text/javascript; charset=utf-8")))
    yield* router.get("/booking/booking.css", Effect.succeed(asset(styles, "text/css; charset=utf-8")))
  })
)
