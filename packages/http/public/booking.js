// Qwip's booking page: the customer flow through the public API only, exactly as Qwip's
// frontend does it. Pick a pod, save a card, get a door code, watch the cost, end, receipt.
// The session token is kept in localStorage, so a reload (or the emailed link, `?t=`) returns
// to the session. No framework; nothing is loaded from elsewhere unless real Stripe is set up.

const config = JSON.parse(document.getElementById("qwip-config").textContent)
const STORAGE_KEY = "qwip.session"
const PENDING_KEY = "qwip.pending-booking"

const $ = (id) => document.getElementById(id)
const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`)
const views = ["booking-view", "session-view", "receipt-view"]

const london = new Intl.DateTimeFormat("en-GB", {
  timeZone: "Europe/London",
  hour: "numeric",
  minute: "2-digit",
  day: "numeric",
  month: "short"
})
const pounds = (value) => `£${Number(value).toFixed(2)}`

// ---- talking to the API -------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail ?? `HTTP ${status}`)
    this.status = status
    this.code = body?.error ?? "unknown"
  }
}

const api = async (method, path, { token, body, form } = {}) => {
  const headers = { accept: "application/json" }
  if (token) headers.authorization = `Bearer ${token}`
  if (body !== undefined) headers["content-type"] = "application/json"
  let response
  try {
    response = await fetch(path, {
      method,
      headers,
      body: form ?? (body === undefined ? undefined : JSON.stringify(body))
    })
  } catch {
    throw new ApiError(0, { error: "offline", detail: "We can't reach Qwip. Check your connection and try again." })
  }
  const json = await response.json().catch(() => ({}))
  if (!response.ok) throw new ApiError(response.status, json)
  return json
}

/** What a person should read for each failure, and what to do about it. */
const explain = (error) => {
  switch (error.code) {
    case "pod_in_use":
      return "This pod is in use right now. Pick another pod, or try again when it is free."
    case "card_declined":
      return "Your card was declined. Nothing was charged: please try another card."
    case "rate_limited":
      return "Too many attempts. Please wait a minute and try again."
    case "offline":
      return error.message
    case "checkout_photo_required":
      return "Please add a photo of the pod as you leave it, then end the session."
    case "token_expired":
    case "token_invalid":
    case "session_not_found":
      return "This session link is no longer valid. You can book a new session below."
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

const show = (view) => {
  for (const id of views) $(id).hidden = id !== view
}

const busy = (button, on, label) => {
  button.disabled = on
  if (label !== undefined) button.textContent = label
}

// ---- booking ------------------------------------------------------------------------------

let pods = []
let stripe
let elements

const podLabel = (pod) => `${pod.name} · ${pounds(pod.price_per_minute)}/min${pod.in_use ? " · in use" : ""}`

const describePod = () => {
  const pod = pods.find((p) => p.id === $("pod").value)
  $("pod-details").textContent =
    pod === undefined
      ? ""
      : `${pod.address}. ${pounds(pod.price_per_minute)} a minute.${pod.in_use ? " In use right now." : ""}`
}

const loadPods = async () => {
  const wanted = new URLSearchParams(location.search).get("pod")
  pods = (await api("GET", "/api/pods")).pods
  const select = $("pod")
  select.replaceChildren(
    ...pods.map((pod) => {
      const option = document.createElement("option")
      option.value = pod.id
      option.textContent = podLabel(pod)
      return option
    })
  )
  const preferred = pods.find((p) => p.id === wanted) ?? pods.find((p) => !p.in_use) ?? pods[0]
  if (preferred !== undefined) select.value = preferred.id
  describePod()
  if (wanted !== null && !pods.some((p) => p.id === wanted)) {
    showError("We couldn't find the pod from that link. Pick a pod from the list.")
  }
}

const loadStripe = () =>
  new Promise((resolve, reject) => {
    const script = document.createElement("script")
    script.src = "https://js.stripe.com/v3/"
    script.onload = () => resolve(window.Stripe(config.stripePublishableKey))
    script.onerror = () => reject(new ApiError(0, { error: "offline", detail: "Card payments could not be loaded." }))
    document.head.append(script)
  })

const setUpPaymentForm = async () => {
  if (config.sandbox) {
    $("sandbox-card").hidden = false
    return
  }
  if (!config.stripePublishableKey) {
    showError("Card payments are not configured on this page yet. Please book through the Qwip app.")
    $("book").disabled = true
    return
  }
  stripe = await loadStripe()
  // Deferred intent: the card form shows at once; the SetupIntent is made only when booking.
  elements = stripe.elements({ mode: "setup", currency: "gbp", setupFutureUsage: "off_session" })
  elements.create("payment").mount("#payment-element")
  $("payment-element").hidden = false
}

/** Confirms the card for a SetupIntent: the sandbox with a test card, or Stripe.js. */
const confirmCard = async (clientSecret, email) => {
  if (config.sandbox) {
    const id = clientSecret.split("_secret_")[0]
    const cardNumber = $("card-number").value.replace(/\s+/g, "")
    await api("POST", `/sandbox/setup-intents/${encodeURIComponent(id)}/confirm`, {
      body: { card_number: cardNumber, email }
    })
    return
  }
  const { error } = await stripe.confirmSetup({
    elements,
    clientSecret,
    confirmParams: { return_url: location.href, payment_method_data: { billing_details: { email } } },
    redirect: "if_required"
  })
  if (error !== undefined) throw new ApiError(402, { error: "card_declined", detail: error.message })
}

/** Finalize waits for the card's set-up to be confirmed; it can lag by a moment. */
const finalize = async (provisioningToken) => {
  for (let attempt = 0; ; attempt++) {
    try {
      return (await api("POST", "/api/booking/finalize", { token: provisioningToken })).session_jwt_token
    } catch (error) {
      if (!(error instanceof ApiError) || error.code !== "card_not_set_up" || attempt >= 10) throw error
      await new Promise((r) => setTimeout(r, 1000))
    }
  }
}

const book = async (event) => {
  event.preventDefault()
  showError("")
  const podId = $("pod").value
  const email = $("email").value.trim()
  if (!podId) return showError("Pick a pod first.")
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) {
    $("email").focus()
    return showError("Enter the email address for your door code and receipt.")
  }
  if (config.sandbox && $("card-number").value.replace(/\s+/g, "").length < 12) {
    $("card-number").focus()
    return showError("Enter your card number.")
  }
  const button = $("book")
  busy(button, true, "Booking…")
  try {
    if (elements !== undefined) {
      const { error } = await elements.submit()
      if (error !== undefined) throw new ApiError(400, { error: "card_incomplete", detail: error.message })
    }
    const setup = await api("POST", "/api/setup-intent", { body: { pod_id: podId } })
    sessionStorage.setItem(PENDING_KEY, JSON.stringify({ podId, token: setup.provisioning_jwt_token }))
    await confirmCard(setup.client_secret, email)
    const sessionToken = await finalize(setup.provisioning_jwt_token)
    sessionStorage.removeItem(PENDING_KEY)
    localStorage.setItem(STORAGE_KEY, JSON.stringify({ token: sessionToken }))
    await openSession(sessionToken)
  } catch (error) {
    showError(explain(error))
    if (error.code === "pod_in_use") await loadPods().catch(() => undefined)
  } finally {
    busy(button, false, "Book and get my door code")
  }
}

// ---- the session ----------------------------------------------------------------------------

let timers = []
const stopTimers = () => {
  for (const t of timers) clearTimeout(t)
  timers = []
}

const storedToken = () => {
  try {
    return JSON.parse(localStorage.getItem(STORAGE_KEY) ?? "null")?.token ?? null
  } catch {
    return null
  }
}

const forgetSession = () => {
  localStorage.removeItem(STORAGE_KEY)
  stopTimers()
}

const refreshCost = async (token) => {
  const preview = await api("GET", "/api/end-session-preview", { token })
  byTestId("cost").textContent = pounds(preview.cost)
  return preview
}

const watchCode = async (token, delay = 1000) => {
  const status = await api("GET", "/api/provisioning-status", { token })
  const code = byTestId("door-code")
  if (status.status === "ready" && status.access_code_text) {
    $("code-status").textContent = "Your door code"
    code.textContent = status.access_code_text
    code.hidden = false
    return
  }
  if (status.status === "failed") {
    $("code-status").textContent = "No door code"
    showError(
      "We couldn't prepare a door code for this pod, so your session was cancelled and nothing was charged. Please try another pod."
    )
    $("end-session").hidden = true
    return
  }
  timers.push(setTimeout(() => watchCode(token, Math.min(delay * 1.5, 5000)).catch(onSessionError), delay))
}

const everyMinute = (token) => {
  timers.push(
    setTimeout(async () => {
      await refreshCost(token).catch(onSessionError)
      everyMinute(token)
    }, 60_000)
  )
}

const onSessionError = (error) => {
  if (error instanceof ApiError && (error.status === 401 || error.status === 403 || error.status === 404)) {
    forgetSession()
    show("booking-view")
  }
  showError(explain(error))
}

const openSession = async (token) => {
  stopTimers()
  const data = await api("GET", "/api/get-session-data", { token })
  if (data.session_data.end_dt !== null) return showReceipt(token)
  $("session-pod").textContent =
    `${data.pod_data.name}, ${data.pod_data.address}. Started ${london.format(new Date(data.session_data.start_dt))}.`
  $("rate").textContent = `${pounds(data.pod_data.price_per_minute)}/min`
  byTestId("door-code").hidden = true
  $("code-status").textContent = "Preparing your door code… it usually takes a few seconds."
  $("end-session").hidden = false
  show("session-view")
  $("main").focus()
  await refreshCost(token)
  everyMinute(token)
  await watchCode(token)
}

const endSession = async () => {
  const token = storedToken()
  if (token === null) return show("booking-view")
  if (!window.confirm("End your session now? You'll be charged for the time used.")) return
  showError("")
  const button = $("end-session")
  busy(button, true, "Ending…")
  try {
    const photo = $("photo").files?.[0]
    if (!$("photo-step").hidden && photo !== undefined) {
      const form = new FormData()
      form.append("photo", photo)
      await api("POST", "/api/session/upload-checkout-photo", { token, form })
    }
    await api("POST", "/api/end-session", { token })
    await showReceipt(token)
  } catch (error) {
    if (error.code === "session_already_ended") return showReceipt(token)
    if (error.code === "checkout_photo_required") $("photo-step").hidden = false
    showError(explain(error))
  } finally {
    busy(button, false, "End session")
  }
}

const showReceipt = async (token) => {
  stopTimers()
  const preview = await api("GET", "/api/end-session-preview", { token })
  const minutes = Math.max(0, Math.round((new Date(preview.end_time) - new Date(preview.start_time)) / 60000))
  const rows = [
    ["Pod", preview.pod_name],
    ["Started", london.format(new Date(preview.start_time))],
    ["Ended", london.format(new Date(preview.end_time))],
    ["Length", `${minutes} min`],
    ["Total", pounds(preview.cost)]
  ]
  const list = document.createElement("dl")
  for (const [term, value] of rows) {
    const dt = document.createElement("dt")
    dt.textContent = term
    const dd = document.createElement("dd")
    dd.textContent = value
    list.append(dt, dd)
  }
  const note = document.createElement("p")
  note.className = "muted small"
  note.textContent =
    Number(preview.cost) === 0
      ? "Nothing to pay for this session."
      : "A receipt is on its way to your email. The charge goes to the card you saved."
  byTestId("receipt").replaceChildren(list, note)
  show("receipt-view")
  $("receipt-title").focus()
}

// ---- start ------------------------------------------------------------------------------------

const start = async () => {
  $("booking-form").addEventListener("submit", book)
  $("pod").addEventListener("change", describePod)
  $("end-session").addEventListener("click", endSession)
  $("book-again").addEventListener("click", async () => {
    forgetSession()
    showError("")
    show("booking-view")
    await loadPods().catch((e) => showError(explain(e)))
  })

  // An emailed "Manage Session" link carries the token: keep it, then take it out of the address.
  const params = new URLSearchParams(location.search)
  const linked = params.get("t")
  if (linked) {
    localStorage.setItem(STORAGE_KEY, JSON.stringify({ token: linked }))
    params.delete("t")
    history.replaceState(null, "", `${location.pathname}${params.size > 0 ? `?${params}` : ""}`)
  }

  const token = storedToken()
  if (token !== null) {
    try {
      return await openSession(token)
    } catch (error) {
      onSessionError(error)
    }
  }

  // Back from a card check that left the page (3-D Secure by redirect): finish the booking.
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) ?? "null")
  if (pending !== null && params.get("redirect_status") === "succeeded") {
    try {
      const sessionToken = await finalize(pending.token)
      sessionStorage.removeItem(PENDING_KEY)
      localStorage.setItem(STORAGE_KEY, JSON.stringify({ token: sessionToken }))
      return await openSession(sessionToken)
    } catch (error) {
      showError(explain(error))
    }
  }

  show("booking-view")
  try {
    await loadPods()
    await setUpPaymentForm()
  } catch (error) {
    showError(explain(error))
  }
}

start()
