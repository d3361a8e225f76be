/**
 * `qwip keys generate`: new secrets, printed once and kept nowhere.
 */
import { randomBytes } from "node:crypto"
import { Command, Options } from "@effect/cli"
import { Effect } from "effect"
import { adapters } from "../Common.js"
import { note, printJson, say } from "../Output.js"

const generate = Command.make(
  "generate",
  { json: Options.boolean("json").pipe(Options.withDescription("print JSON, for scripts")) },
  (o) =>
    Effect.gen(function* () {
      const jwtSecretKey = randomBytes(48).toString("base64url")
      const staticCodeKey = (yield* adapters).StaticCodeTokens.generateKey()
      if (o.json) return yield* printJson({ jwtSecretKey, staticCodeKey })
      yield* say(`JWT_SECRET_KEY=${jwtSecretKey}`)
      yield* say(`STATIC_CODE_B64_KEY=${staticCodeKey}`)
      yield* note(
        "These are shown once and stored nowhere: put them in the service's secrets now. To rotate the static-code key, move the old one to STATIC_CODE_PREVIOUS_KEYS, then run qwip codes rekey; to rotate the JWT secret, move the old one to JWT_PREVIOUS_SECRET_KEYS."
      )
    })
).pipe(
  Command.withDescription(
    "print a new JWT secret (signs customers' session links) and a new static-code key (seals stored door codes), once"
  )
)

export const keys = Command.make("keys").pipe(
  Command.withDescription(
    "secrets the service signs session links and seals door codes with: generate. Example: qwip keys generate --json"
  ),
  Command.withSubcommands([generate])
)
