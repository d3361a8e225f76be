/**
 * A small `fetch` client for black-box tests: every answer as status, headers and parsed JSON.
 */
export interface Answer {
  readonly status: number
  readonly headers: Headers
  // biome-ignore lint/suspicious/noExplicitAny: test assertions read arbitrary JSON
  readonly body: any
}

export interface RequestOptions {
  readonly token?: string
  readonly headers?: Record<string, string>
  readonly body?: unknown
  /** Sent as is (no JSON encoding). */
  readonly raw?: RequestInit["body"]
}

export const client = (baseUrl: string) => {
  const send = async (method: string, path: string, options: RequestOptions = {}): Promise<Answer> => {
    const headers: Record<string, string> = { ...options.headers }
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
    let body: RequestInit["body"] | undefined = options.raw
    if (options.body !== undefined) {
      headers["content-type"] ??= "application/json"
      body = JSON.stringify(options.body)
    }
    const response = await fetch(`${baseUrl}${path}`, { method, headers, ...(body === undefined ? {} : { body }) })
    const text = await response.text()
    let parsed: unknown = text
    try {
      parsed = text.length > 0 ? JSON.parse(text) : null
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, headers: response.headers, body: parsed }
  }
  return {
    send,
    get: (path: string, options?: RequestOptions) => send("GET", path, options),
    post: (path: string, options?: RequestOptions) => send("POST", path, options)
  }
}

export type Client = ReturnType<typeof client>

/** Polls until `check` passes or the time is up. */
export const eventually = async <A>(
  attempt: () => Promise<A>,
  check: (a: A) => boolean,
  options: { readonly timeoutMs?: number; readonly intervalMs?: number } = {}
): Promise<A> => {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000)
  let last = await attempt()
  while (!check(last)) {
    if (Date.now() > deadline) throw new Error(`condition not met in time; last: ${JSON.stringify(last)}`)
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 25))
    last = await attempt()
  }
  return last
}

/** Books a pod through the API: setup intent, sandbox confirm with `card`, finalize. */
export const book = async (api: Client, podId: string, card = "4242424242424242") => {
  const setup = await api.post("/api/setup-intent", { body: { pod_id: podId } })
  if (setup.status !== 200) throw new Error(`setup-intent: ${setup.status} ${JSON.stringify(setup.body)}`)
  const setupIntentId = String(setup.body.client_secret).split("_secret_")[0] as string
  const confirm = await api.post(`/sandbox/setup-intents/${setupIntentId}/confirm`, {
    body: { card_number: card, email: "ada@example.com" }
  })
  if (confirm.status !== 200) throw new Error(`confirm: ${confirm.status} ${JSON.stringify(confirm.body)}`)
  const finalize = await api.post("/api/booking/finalize", { token: setup.body.provisioning_jwt_token })
  if (finalize.status !== 200) throw new Error(`finalize: ${finalize.status} ${JSON.stringify(finalize.body)}`)
  return {
    setupIntentId,
    provisioningToken: setup.body.provisioning_jwt_token as string,
    sessionToken: finalize.body.session_jwt_token as string
  }
}

/** The session id inside a session token (tests only: the service never logs it). */
export const sessionIdOf = (token: string): string => {
  const payload = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString())
  return payload.session.session_id
}
