/**
 * The booking page at `/`, driven in a real browser (Debian's Chromium through playwright-core)
 * as a customer at a pod's door would: a paid session from pod choice to receipt, a reload in
 * the middle, a declined card, a busy pod. Screenshots (phone and desktop) go to
 * `tests/artifacts/` for people to look at.
 */
import { mkdirSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { boot } from "@qwip/test-support/Service"
import { Option } from "effect"
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
const DESKTOP = { width: 1280, height: 800 }

let browser: Browser
beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true })
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true })
})
afterAll(async () => {
  await browser?.close()
})

const openPage = async (url: string, viewport = PHONE) => {
  const context = await browser.newContext({ viewport, locale: "en-GB", timezoneId: "Europe/London" })
  const page = await context.newPage()
  const problems: Array<string> = []
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`))
  page.on("console", (m) => {
    // The browser logs each 4xx answer; the page shows those to the person, which is checked.
    if (m.type() === "error" && !/status of 4\d\d/.test(m.text())) problems.push(`console: ${m.text()}`)
  })
  // Anything the page asks for from anywhere but the service is a failure: sandbox mode loads nothing else.
  const origin = new URL(url).origin
  page.on("request", (r) => {
    if (!r.url().startsWith(origin) && !r.url().startsWith("data:")) problems.push(`external request: ${r.url()}`)
  })
  page.on("dialog", (d) => void d.accept())
  await page.clock.install()
  await page.goto(url)
  return { page, problems }
}

const testId = (page: Page, id: string) => page.getByTestId(id)

const fillBooking = async (page: Page, card: string) => {
  await testId(page, "email").fill("ada@example.com")
  await testId(page, "card-number").fill(card)
  await testId(page, "book").click()
}

describe("the booking page", () => {
  it("books from a pod's QR link, shows the code, grows the cost, survives a reload, ends with a receipt", async () => {
    const { api, platform, running } = await boot()
    const { page, problems } = await openPage(`${running.url}/?pod=pod-1`)

    await expect.poll(() => testId(page, "pod-select").inputValue()).toBe("pod-1")
    await page.screenshot({ path: `${artifacts}booking-phone.png`, fullPage: true })
    await fillBooking(page, "4242 4242 4242 4242")

    await expect.poll(() => testId(page, "door-code").textContent(), { timeout: 15_000 }).toBe("04726")
    expect(await testId(page, "door-code").isVisible()).toBe(true)
    expect(await testId(page, "cost").textContent()).toMatch(/^£\d+\.\d\d$/)

    // Two minutes pass on the service's clock; the page asks again after a minute of its own.
    platform.clock.advance("2 minutes")
    await page.clock.fastForward("01:01")
    await expect
      .poll(async () => Number((await testId(page, "cost").textContent())?.slice(1)), { timeout: 10_000 })
      .toBeGreaterThan(100)
    await page.screenshot({ path: `${artifacts}session-phone.png`, fullPage: true })

    // A reload comes back to the same session: the token is kept in the browser.
    await page.reload()
    await expect.poll(() => testId(page, "door-code").textContent(), { timeout: 15_000 }).toBe("04726")

    await testId(page, "end-session").click()
    const receipt = testId(page, "receipt")
    await expect.poll(() => receipt.textContent(), { timeout: 15_000 }).toMatch(/Total£\d+\.\d\d/)
    await page.screenshot({ path: `${artifacts}receipt-phone.png`, fullPage: true })

    // The receipt's total is what the card was charged.
    const total = Number(/Total£(\d+\.\d\d)/.exec((await receipt.textContent()) ?? "")?.[1])
    const charges = await api.get("/sandbox/payments")
    const paid = charges.body.payments.filter(
      (p: { object: string; status: string }) => p.object === "payment_intent" && p.status === "succeeded"
    )
    expect(paid).toHaveLength(1)
    expect(paid[0].amount_pence).toBe(Math.round(total * 100))
    expect(problems).toEqual([])
  }, 90_000)

  it("shows a declined card plainly, and a busy pod with what to do", async () => {
    const { api, running } = await boot()
    const { page, problems } = await openPage(`${running.url}/`, DESKTOP)
    await expect.poll(() => testId(page, "pod-select").locator("option").count()).toBeGreaterThan(1)
    await testId(page, "pod-select").selectOption("pod-2")

    await fillBooking(page, "4000000000000002")
    await expect.poll(() => testId(page, "error").textContent(), { timeout: 15_000 }).toContain("declined")
    expect(await testId(page, "error").isVisible()).toBe(true)
    expect(await testId(page, "door-code").isVisible()).toBe(false)
    await page.screenshot({ path: `${artifacts}declined-desktop.png`, fullPage: true })
    // Nothing was booked: the pod is still free.
    expect((await api.get("/api/pod?pod_id=pod-2")).body.in_use).toBe(false)

    // Someone else takes pod-2 first.
    const other = await api.post("/api/setup-intent", { body: { pod_id: "pod-2" } })
    const id = String(other.body.client_secret).split("_secret_")[0]
    await api.post(`/sandbox/setup-intents/${id}/confirm`, {
      body: { card_number: "4242424242424242", email: "b@example.com" }
    })
    expect((await api.post("/api/booking/finalize", { token: other.body.provisioning_jwt_token })).status).toBe(200)

    await testId(page, "card-number").fill("4242424242424242")
    await testId(page, "book").click()
    await expect.poll(() => testId(page, "error").textContent(), { timeout: 15_000 }).toContain("in use")
    await page.screenshot({ path: `${artifacts}busy-desktop.png`, fullPage: true })
    expect(problems).toEqual([])
  }, 90_000)

  it("with real Stripe and a publishable key, the page is set up for Stripe.js and allows only Stripe's origins", async () => {
    const { running } = await boot({
      platformOptions: { sandbox: false },
      config: { stripePublishableKey: Option.some("pk_test_qwip") }
    })
    const page = await fetch(`${running.url}/`)
    const html = await page.text()
    expect(html).toContain('{"sandbox":false,"stripePublishableKey":"pk_test_qwip"}')
    const csp = page.headers.get("content-security-policy") ?? ""
    expect(csp).toContain("script-src 'self' https://js.stripe.com")
    expect(csp).toContain("frame-src https://js.stripe.com https://hooks.stripe.com")
    expect(csp).toContain("connect-src 'self' https://api.stripe.com")

    // On the sandbox, nothing but the service itself.
    const sandbox = await boot()
    const sandboxPage = await fetch(`${sandbox.running.url}/`)
    expect(sandboxPage.headers.get("content-security-policy")).toContain("script-src 'self';")
    expect(await sandboxPage.text()).toContain('{"sandbox":true,"stripePublishableKey":null}')
  })
})
