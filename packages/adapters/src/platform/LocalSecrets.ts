/**
 * Secrets the embedded default generates on its first run, kept beside the embedded store
 * (`<QWIP_DATA_DIR>/secrets.json`, readable by the owner only), so tokens and sealed codes
 * survive restarts with nothing configured. A shared database never uses these: every
 * instance must be given the same keys (the sandbox's webhook secret, when not given, is
 * derived from the JWT secret they share).
 */
import { hkdfSync, randomBytes } from "node:crypto"
import { readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { Effect, Redacted, Schema } from "effect"
import { encodeBase64UrlPadded, KEY_BYTES } from "../static-codes/StaticCodeCipher.js"
import { makePrivateDirectory } from "./PrivateDirectory.js"

const LocalSecretsFile = Schema.Struct({
  jwtSecret: Schema.String,
  staticCodeKey: Schema.String,
  sandboxWebhookSecret: Schema.String
})

export interface LocalSecrets {
  readonly jwtSecret: Redacted.Redacted<string>
  readonly staticCodeKey: Redacted.Redacted<string>
  readonly sandboxWebhookSecret: Redacted.Redacted<string>
}

export class LocalSecretsUnreadable extends Schema.TaggedError<LocalSecretsUnreadable>()("LocalSecretsUnreadable", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `QWIP_DATA_DIR: cannot read or create ${this.path}: ${this.reason}`
  }
}

const generate = () => ({
  jwtSecret: randomBytes(48).toString("base64url"),
  staticCodeKey: encodeBase64UrlPadded(randomBytes(KEY_BYTES)),
  sandboxWebhookSecret: `whsec_${randomBytes(24).toString("base64url")}`
})

/** Reads `<dataDir>/secrets.json`, creating it (mode 0600) on first run. */
export const loadLocalSecrets = (dataDir: string): Effect.Effect<LocalSecrets, LocalSecretsUnreadable> => {
  const path = join(dataDir, "secrets.json")
  return Effect.tryPromise({
    try: async () => {
      await makePrivateDirectory(dataDir)
      try {
        return JSON.parse(await readFile(path, "utf8")) as unknown
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e
        const fresh = generate()
        // "wx": never overwrite secrets another process wrote first.
        await writeFile(path, `${JSON.stringify(fresh, null, 2)}\n`, { mode: 0o600, flag: "wx" }).catch(async (w) => {
          if ((w as NodeJS.ErrnoException).code !== "EEXIST") throw w
        })
        return JSON.parse(await readFile(path, "utf8")) as unknown
      }
    },
    catch: (e) => new LocalSecretsUnreadable({ path, reason: e instanceof Error ? e.message : String(e) })
  }).pipe(
    Effect.flatMap((raw) =>
      Schema.decodeUnknown(LocalSecretsFile)(raw).pipe(
        Effect.mapError(() => new LocalSecretsUnreadable({ path, reason: "not the expected JSON" }))
      )
    ),
    Effect.map((s) => ({
      jwtSecret: Redacted.make(s.jwtSecret),
      staticCodeKey: Redacted.make(s.staticCodeKey),
      sandboxWebhookSecret: Redacted.make(s.sandboxWebhookSecret)
    }))
  )
}

/**
 * The sandbox's webhook signing secret on a shared database when `QWIP_SANDBOX_WEBHOOK_SECRET`
 * is unset: derived (HKDF-SHA256) from `JWT_SECRET_KEY`, which every instance on a shared
 * database must already share, so they all verify the same signatures with nothing stored and
 * nothing more to configure. One-way: knowing it reveals nothing of the JWT secret.
 */
export const deriveSandboxWebhookSecret = (jwtSecret: Redacted.Redacted<string>): Redacted.Redacted<string> =>
  Redacted.make(
    `whsec_${Buffer.from(hkdfSync("sha256", Redacted.value(jwtSecret), "", "qwip sandbox webhook secret v1", 32)).toString("base64url")}`
  )
