// Qwip's pay page, reached from the signed link in a payment email (`/pay/<token>`): shows what
// the session owes and lets the customer finish the payment on-session. With Stripe, the
// PaymentIntent is confirmed with Stripe.js (`confirmCardPayment`), with the card saved at
// booking (the bank's 3-D Secure runs in Stripe's frame) or another card in a card element.
// In the sandbox a test "authenticate" step and a card-number field stand in for them. Either
// way the page then asks the service to read the payment back and record it.

const config = JSON.parse(document.getElementById("qwip-config").textContent)
const token = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() ?? "")

const $ = (id) => document.getElementById(id)
const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`)

class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail ?? `HTTP ${status}`)
    this.status = status
    this.code = body?.error ?? "unknown"
  }
}

const api = async (method, path, body) => {
  const headers = { accept: "application/json" }
  if (body !== undefined) headers["content-type"] = "application/json"
  let response
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  } catch {
    throw new ApiError(0, { error: "offline", detail: "We can't reach Qwip. Check your connection and try again." })
  }
  const json = await response.json().catch(() => ({}))
  if (!response.ok) throw new ApiError(response.status, json)
  return json
}

const explain = (error) => {
  switch (error.code) {
    case "pay_link_expired":
      return "This payment link has expired. Please reply to the email and we'll send a new one."
    case "pay_link_invalid":
      return "This payment link is not valid. Please use the link from your email."
    case "rate_limited":
      return "Too many attempts. Please wait a minute and try again."
    default:
      return error.status >= 500 || error.status === 0
        ? "Something went wrong on our side. Please try again in a moment."
        : error.message
  }
}

const showError = (message) => {
  const box = byTestId("error")
  box.textContent = message
  box.hidden = message === ""
}

const done = (text) => {
  $("pay-view").hidden = true
  $("done-view").hidden = false
  $("done-text").textContent = text
}

const busy = (on) => {
  for (const b of document.querySelectorAll("button")) b.disabled = on
}

let payment

/** Asks the service to read the payment back and record it; says how it went. */
const confirm = async () => {
  const result = await api("POST", `/api/pay/${encodeURIComponent(token)}/confirm`, {
    payment_intent_id: payment.payment_intent_id
  })
  switch (result.status) {
    case "paid":
      return done("Your payment went through. Your receipt is on its way by email.")
    case "processing":
      return done("Your bank is processing the payment. We'll email your receipt once it clears.")
    case "requires_action":
      return showError("Your bank still needs you to approve this payment. Please try again.")
    default:
      return showError("The payment did not go through. Nothing was taken: please try again or use another card.")
  }
}

const attempt = (step) => async () => {
  showError("")
  busy(true)
  try {
    await step()
  } catch (error) {
    showError(error instanceof ApiError ? explain(error) : (error?.message ?? String(error)))
  } finally {
    busy(false)
  }
}

// ---- sandbox ------------------------------------------------------------------------------

const sandboxAuthenticate = (result) =>
  attempt(async () => {
    const status = await api(
      "POST",
      `/sandbox/payments/${encodeURIComponent(payment.payment_intent_id)}/authenticate`,
      {
        result
      }
    )
    $("sandbox-authenticate").hidden = status.status !== "requires_action"
    await confirm()
  })

const sandboxPay = attempt(async () => {
  const card = $("card-number").value.replace(/\s+/g, "")
  const status = await api("POST", `/sandbox/payments/${encodeURIComponent(payment.payment_intent_id)}/pay`, { card })
  if (status.status === "requires_action") {
    // As Stripe's test card 4000 0027 6000 3184: the bank wants approval first.
    $("sandbox-authenticate").hidden = false
    return
  }
  await confirm()
})

// ---- Stripe -------------------------------------------------------------------------------

const loadStripe = () =>
  new Promise((resolve, reject) => {
    const script = document.createElement("script")
    script.src = "https://js.stripe.com/v3/"
    script.onload = () => resolve(window.Stripe(payment.publishable_key))
    script.onerror = () => reject(new Error("Stripe could not be loaded. Please try again."))
    document.head.appendChild(script)
  })

const stripeFlow = async () => {
  const stripe = await loadStripe()
  // The saved card is the PaymentIntent's own payment method; Stripe.js reads it with the secret.
  const { paymentIntent } = await stripe.retrievePaymentIntent(payment.client_secret)
  const savedCard = typeof paymentIntent?.payment_method === "string" ? paymentIntent.payment_method : undefined
  const elements = stripe.elements()
  const cardElement = elements.create("card")
  $("card-element").hidden = false
  cardElement.mount("#card-element")
  const settle = async (result) => {
    if (result.error) throw new Error(result.error.message)
    await confirm()
  }
  if (savedCard !== undefined) {
    $("saved-card").hidden = false
    $("pay-saved").addEventListener(
      "click",
      attempt(async () => settle(await stripe.confirmCardPayment(payment.client_secret, { payment_method: savedCard })))
    )
  }
  $("card-form").addEventListener("submit", (event) => {
    event.preventDefault()
    attempt(async () =>
      settle(await stripe.confirmCardPayment(payment.client_secret, { payment_method: { card: cardElement } }))
    )()
  })
}

// ---- start --------------------------------------------------------------------------------

const start = async () => {
  try {
    payment = await api("GET", `/api/pay/${encodeURIComponent(token)}`)
  } catch (error) {
    $("loading").hidden = true
    if (error.code === "nothing_to_pay") return done("There is nothing to pay for this session. Thank you!")
    return showError(explain(error))
  }
  $("loading").hidden = true
  $("pay-view").hidden = false
  $("pod-name").textContent = payment.pod_name
  // Whole pence to pounds without floating point: 1250 → £12.50.
  const p = payment.amount_pence
  $("amount").textContent = `£${Math.floor(p / 100)}.${String(p % 100).padStart(2, "0")}`
  $("session-id").textContent = payment.session_id
  if (payment.status === "succeeded") return attempt(confirm)()
  if (payment.provider === "sandbox" || config.sandbox) {
    $("sandbox-card").hidden = false
    $("sandbox-authenticate").hidden = payment.status !== "requires_action"
    $("authenticate-complete").addEventListener("click", sandboxAuthenticate("succeeded"))
    $("authenticate-fail").addEventListener("click", sandboxAuthenticate("failed"))
    $("card-form").addEventListener("submit", (event) => {
      event.preventDefault()
      sandboxPay()
    })
    return
  }
  if (!payment.publishable_key) {
    // Stripe is the provider but the page has no key for Stripe.js (STRIPE_PUBLISHABLE_KEY).
    $("card-form").hidden = true
    return showError("Card payments are not set up on this page yet. Please contact Qwip to pay.")
  }
  try {
    await stripeFlow()
  } catch (error) {
    showError(error?.message ?? String(error))
  }
}

start()
