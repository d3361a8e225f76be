/**
 * The pay page at `/pay/<token>`, driven in a real browser (Debian's Chromium through
 * playwright-core, as `BookingPage.test.ts`) on sandbox payments with no card check hold
 * (`BOOKING_HOLD_PENCE` unset): a session whose end charge needs authentication, or is declined,
 * is paid from the link in the email the service actually queued; a failed authentication stays
 * unpaid and says so; an expired or forged link says so. Every page runs under the page's own
 * Content-Security-Policy with no violation logged. Screenshots go to `tests/artifacts/`.
 *
 * Runs on the in-memory platform, PGlite, and Postgres when `QWIP_TEST_DATABASE_URL` is set.
 */
import { mkdirSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import type { Message } from "@qwip/core"
import { book, type Client, eventually, sessionIdOf } from "@qwip/test-support/Client"
import {
  boot,
  dataDir,
  makeOffsetClock,
  postgresEnv,
  quickWorker,
  serve,
  testDatabaseUrl
} from "@qwip/test-support/Service"
import type { Duration } from "effect"
import pg from "pg"
import { type Browser, chromium, type Page } from "playwright-core"

const CHROMIUM = "/usr/bin/chromium"
// What this machine's Chromium needs headless as root, with no network beyond loopback.
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]
const artifacts = new URL("../../../tests/artifacts/", import.meta.url).pathname
const PHONE = { width: 390, height: 844 }

const NEEDS_AUTHENTICATION = "4000002760003184"
const SOFT_DECLINE = "4242420000009951"
const GOOD = "4242424242424242"

let browser: Browser
beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true })
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true })
})
afterAll(async () => {
  await browser?.close()
})

// ---- the service, on each store ------------------------------------------------------------

/** An email as the tests need it, from the fake mailer or the store's outbox. */
interface Email {
  readonly kind: string
  readonly sessionId: string | undefined
  readonly link: string | undefined
  readonly reason: string | undefined
  readonly linkExpiresAt: string | undefined
}

interface Service {
  readonly url: string
  readonly api: Client
  readonly pod: string
  readonly advance: (duration: Duration.DurationInput) => void
  readonly emails: () => Promise<ReadonlyArray<Email>>
}

type OutboxRow = {
  kind: string
  message: { sessionId?: string; link?: string; reason?: string; linkExpiresAt?: string }
}
const fromOutbox = (rows: ReadonlyArray<OutboxRow>): ReadonlyArray<Email> =>
  rows.map((r) => ({
    kind: r.kind,
    sessionId: r.message.sessionId,
    link: r.message.link,
    reason: r.message.reason,
    linkExpiresAt: r.message.linkExpiresAt
  }))

const platforms: ReadonlyArray<{ readonly name: string; readonly start: () => Promise<Service> }> = [
  {
    name: "memory",
    start: async () => {
      const { platform, running, api } = await boot({ config: quickWorker() })
      return {
        url: running.url,
        api,
        pod: "pod-1",
        advance: platform.clock.advance,
        emails: async () =>
          platform.mailer.sent().map((m: Message) => ({
            kind: m._tag,
            sessionId: "sessionId" in m ? m.sessionId : undefined,
            link: m._tag === "PaymentRequest" ? m.link : undefined,
            reason: m._tag === "PaymentRequest" ? m.reason : undefined,
            linkExpiresAt: m._tag === "PaymentRequest" ? m.linkExpiresAt.toISOString() : undefined
          }))
      }
    }
  },
  {
    name: "pglite",
    start: async () => {
      const clock = makeOffsetClock()
      const { service, api, query } = await serve({ QWIP_DATA_DIR: dataDir() }, { clock })
      return {
        url: service.url,
        api,
        pod: "demo-pod",
        advance: clock.advance,
        emails: async () => fromOutbox(await query<OutboxRow>("select kind, message from email_outbox"))
      }
    }
  },
  ...(testDatabaseUrl === undefined
    ? []
    : [
        {
          name: "postgres",
          start: async (): Promise<Service> => {
            const env = postgresEnv()
            const clock = makeOffsetClock()
            const { service, api } = await serve(env, { clock })
            const emails = async () => {
              const db = new pg.Client({ connectionString: testDatabaseUrl })
              await db.connect()
              try {
                const rows = await db.query<OutboxRow>(
                  `select kind, message from "${env.DATABASE_SCHEMA}".email_outbox`
                )
                return fromOutbox(rows.rows)
              } finally {
                await db.end()
              }
            }
            return { url: service.url, api, pod: "demo-pod", advance: clock.advance, emails }
          }
        }
      ])
]

/** Books `card`, waits for the door code, lets half an hour pass, ends: the session id. */
const bookAndEnd = async (service: Service, card: string) => {
  const { sessionToken } = await book(service.api, service.pod, card)
  await eventually(
    () => service.api.get("/api/provisioning-status", { token: sessionToken }),
    (a) => a.body.status !== "pending",
    { timeoutMs: 30_000 }
  )
  service.advance("30 minutes")
  const end = await service.api.post("/api/end-session", { token: sessionToken })
  expect(end.status, JSON.stringify(end.body)).toBe(200)
  return sessionIdOf(sessionToken)
}

/** The payment email sent for the session (the end's own charge failed): waits for it. */
const paymentEmail = async (service: Service, sessionId: string, reason: "needs_authentication" | "declined") => {
  const requests = await eventually(
    async () => (await service.emails()).filter((e) => e.kind === "PaymentRequest" && e.sessionId === sessionId),
    (found) => found.length > 0,
    { timeoutMs: 30_000 }
  )
  const email = requests[0] as Email
  expect(email.reason).toBe(reason)
  expect(email.link).toMatch(/\/pay\/[\w-]+\.[\w-]+\.[\w-]+$/)
  return email
}

/** The emailed link's path on this test's server (its host is the deployment's PUBLIC_URL). */
const onService = (service: Service, link: string) => `${service.url}${new URL(link).pathname}`
const tokenOf = (link: string) => link.slice(link.lastIndexOf("/") + 1)

const receiptsFor = async (service: Service, sessionId: string) =>
  (await service.emails()).filter((e) => e.kind === "Receipt" && e.sessionId === sessionId)

/** The session's PaymentIntents that succeeded, as the sandbox reports them. */
const succeededFor = async (service: Service, sessionId: string) =>
  (await service.api.get("/sandbox/payments")).body.payments.filter(
    (p: { object: string; status: string; session_id: string | null }) =>
      p.object === "payment_intent" && p.session_id === sessionId && p.status === "succeeded"
  )

// ---- the browser ---------------------------------------------------------------------------

const openPage = async (url: string) => {
  const context = await browser.newContext({ viewport: PHONE, locale: "en-GB", timezoneId: "Europe/London" })
  const page = await context.newPage()
  const problems: Array<string> = []
  const messages: Array<string> = []
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`))
  page.on("console", (m) => {
    messages.push(`${m.type()}: ${m.text()}`)
    // The browser logs each 4xx answer; the page shows those to the person, which is checked.
    if (m.type() === "error" && !/status of 4\d\d/.test(m.text())) problems.push(`console: ${m.text()}`)
  })
  // Chromium logs CSP refusals to the console; the event is reported too, in case it does not.
  // (A string: these tests compile without the DOM's types.)
  await page.addInitScript(`document.addEventListener("securitypolicyviolation", (e) =>
    console.error("Content Security Policy violation: " + e.violatedDirective + " " + e.blockedURI))`)
  const origin = new URL(url).origin
  page.on("request", (r) => {
    if (!r.url().startsWith(origin) && !r.url().startsWith("data:")) problems.push(`external request: ${r.url()}`)
  })
  const response = await page.goto(url)
  expect(response?.headers()["content-security-policy"]).toContain("default-src 'self'")
  return { page, problems, messages, close: () => context.close() }
}

const testId = (page: Page, id: string) => page.getByTestId(id)

/** Nothing went wrong in the page, and its Content-Security-Policy refused nothing. */
const expectClean = (opened: { problems: Array<string>; messages: Array<string> }) => {
  expect(opened.messages.filter((m) => /Content Security Policy|Content-Security-Policy/i.test(m))).toEqual([])
  expect(opened.problems).toEqual([])
}

const waitForPayView = async (page: Page) => {
  await expect.poll(() => testId(page, "amount").isVisible(), { timeout: 15_000 }).toBe(true)
  expect(await testId(page, "amount").textContent()).toMatch(/^£\d+\.\d\d$/)
  expect(await page.locator("#loading").isVisible()).toBe(false)
  // Fits a phone: nothing (the session id, a long amount) pushes the page sideways.
  expect(await page.evaluate<number>("document.documentElement.scrollWidth")).toBeLessThanOrEqual(PHONE.width)
}

for (const platform of platforms) {
  describe(`the pay page in Chromium (${platform.name})`, { timeout: 120_000 }, () => {
    it("authentication: the emailed link, the test authenticate step, paid, the receipt queued", async () => {
      const service = await platform.start()
      const sessionId = await bookAndEnd(service, NEEDS_AUTHENTICATION)
      const email = await paymentEmail(service, sessionId, "needs_authentication")
      const opened = await openPage(onService(service, email.link ?? ""))
      const { page } = opened

      await waitForPayView(page)
      expect(await testId(page, "authenticate-complete").isVisible()).toBe(true)
      expect(await testId(page, "error").isVisible()).toBe(false)
      await page.screenshot({ path: `${artifacts}pay-authenticate-${platform.name}.png`, fullPage: true })

      await testId(page, "authenticate-complete").click()
      await expect.poll(() => testId(page, "done-text").textContent(), { timeout: 15_000 }).toContain("went through")
      expect(await testId(page, "done-text").isVisible()).toBe(true)
      expect(await testId(page, "error").isVisible()).toBe(false)
      await page.screenshot({ path: `${artifacts}pay-paid-${platform.name}.png`, fullPage: true })

      // Over the API: nothing more to pay, one payment succeeded, the receipt queued.
      const token = tokenOf(email.link ?? "")
      const after = await service.api.get(`/api/pay/${token}`)
      expect(after.status).toBe(409)
      expect(after.body.error).toBe("nothing_to_pay")
      expect(await succeededFor(service, sessionId)).toHaveLength(1)
      await eventually(
        () => receiptsFor(service, sessionId),
        (r) => r.length === 1,
        { timeoutMs: 30_000 }
      )

      // Following the link again says there is nothing to pay, not an error.
      await page.reload()
      await expect.poll(() => testId(page, "done-text").textContent(), { timeout: 15_000 }).toContain("nothing to pay")
      expect(await testId(page, "error").isVisible()).toBe(false)
      await page.screenshot({ path: `${artifacts}pay-nothing-to-pay-${platform.name}.png`, fullPage: true })
      expectClean(opened)
      await opened.close()
    })

    it("a failed authentication shows an error and leaves it unpaid; authenticating again then pays", async () => {
      const service = await platform.start()
      const sessionId = await bookAndEnd(service, NEEDS_AUTHENTICATION)
      const email = await paymentEmail(service, sessionId, "needs_authentication")
      const opened = await openPage(onService(service, email.link ?? ""))
      const { page } = opened
      await waitForPayView(page)

      await testId(page, "authenticate-fail").click()
      await expect.poll(() => testId(page, "error").textContent(), { timeout: 15_000 }).toContain("did not go through")
      expect(await testId(page, "error").isVisible()).toBe(true)
      expect(await testId(page, "done-text").isVisible()).toBe(false)
      await page.screenshot({ path: `${artifacts}pay-authentication-failed-${platform.name}.png`, fullPage: true })

      // Unpaid: the link still asks for the payment, nothing succeeded, no receipt.
      const token = tokenOf(email.link ?? "")
      const still = await service.api.get(`/api/pay/${token}`)
      expect(still.status, JSON.stringify(still.body)).toBe(200)
      expect(await succeededFor(service, sessionId)).toEqual([])
      expect(await receiptsFor(service, sessionId)).toEqual([])

      // The customer tries again on the same page: the card asks for authentication once more,
      // the test step comes back, and this time it passes.
      expect(await testId(page, "authenticate-complete").isVisible()).toBe(false)
      await testId(page, "card-number").fill("4000 0027 6000 3184")
      await testId(page, "pay-card").click()
      await expect.poll(() => testId(page, "authenticate-complete").isVisible(), { timeout: 15_000 }).toBe(true)
      expect(await succeededFor(service, sessionId)).toEqual([])
      await testId(page, "authenticate-complete").click()
      await expect.poll(() => testId(page, "done-text").textContent(), { timeout: 15_000 }).toContain("went through")
      // The earlier error is gone once paid.
      expect(await testId(page, "error").isVisible()).toBe(false)
      await page.screenshot({ path: `${artifacts}pay-authenticated-again-${platform.name}.png`, fullPage: true })
      expect(await succeededFor(service, sessionId)).toHaveLength(1)
      await eventually(
        () => receiptsFor(service, sessionId),
        (r) => r.length === 1,
        { timeoutMs: 30_000 }
      )
      expectClean(opened)
      await opened.close()
    })

    it("a declined charge: the emailed link, another card, paid, the receipt queued", async () => {
      const service = await platform.start()
      const sessionId = await bookAndEnd(service, SOFT_DECLINE)
      const email = await paymentEmail(service, sessionId, "declined")
      const opened = await openPage(onService(service, email.link ?? ""))
      const { page } = opened
      await waitForPayView(page)
      // A declined charge has nothing to authenticate: only the card field.
      expect(await testId(page, "authenticate-complete").isVisible()).toBe(false)
      expect(await testId(page, "card-number").isVisible()).toBe(true)
      await page.screenshot({ path: `${artifacts}pay-declined-${platform.name}.png`, fullPage: true })

      // The same declining card is refused on the page too, plainly, and nothing is taken.
      await testId(page, "card-number").fill(SOFT_DECLINE)
      await testId(page, "pay-card").click()
      await expect.poll(() => testId(page, "error").textContent(), { timeout: 15_000 }).toContain("did not go through")
      expect(await testId(page, "done-text").isVisible()).toBe(false)
      expect(await succeededFor(service, sessionId)).toEqual([])

      await testId(page, "card-number").fill(GOOD)
      await testId(page, "pay-card").click()
      await expect.poll(() => testId(page, "done-text").textContent(), { timeout: 15_000 }).toContain("went through")
      expect(await testId(page, "error").isVisible()).toBe(false)
      await page.screenshot({ path: `${artifacts}pay-declined-paid-${platform.name}.png`, fullPage: true })

      const after = await service.api.get(`/api/pay/${tokenOf(email.link ?? "")}`)
      expect(after.status).toBe(409)
      expect(after.body.error).toBe("nothing_to_pay")
      expect(await succeededFor(service, sessionId)).toHaveLength(1)
      await eventually(
        () => receiptsFor(service, sessionId),
        (r) => r.length === 1,
        { timeoutMs: 30_000 }
      )
      expectClean(opened)
      await opened.close()
    })

    it("a forged or expired link shows a clear message, not a blank page", async () => {
      const service = await platform.start()
      const sessionId = await bookAndEnd(service, NEEDS_AUTHENTICATION)
      const email = await paymentEmail(service, sessionId, "needs_authentication")
      const url = onService(service, email.link ?? "")

      const forged = await openPage(`${url.slice(0, -4)}AAAA`)
      await expect.poll(() => testId(forged.page, "error").textContent(), { timeout: 15_000 }).toContain("not valid")
      expect(await testId(forged.page, "error").isVisible()).toBe(true)
      expect(await forged.page.locator("#loading").isVisible()).toBe(false)
      expect(await forged.page.locator("#pay-view").isVisible()).toBe(false)
      await forged.page.screenshot({ path: `${artifacts}pay-forged-${platform.name}.png`, fullPage: true })
      expectClean(forged)
      await forged.close()

      // The service's clock passes the link's expiry.
      service.advance(Date.parse(email.linkExpiresAt ?? "") - Date.now() + 86_400_000)
      const expired = await openPage(url)
      await expect.poll(() => testId(expired.page, "error").textContent(), { timeout: 15_000 }).toContain("expired")
      expect(await testId(expired.page, "error").isVisible()).toBe(true)
      expect(await expired.page.locator("#loading").isVisible()).toBe(false)
      expect(await expired.page.locator("#pay-view").isVisible()).toBe(false)
      await expired.page.screenshot({ path: `${artifacts}pay-expired-${platform.name}.png`, fullPage: true })
      expectClean(expired)
      await expired.close()
    })
  })
}
