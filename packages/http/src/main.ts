/**
 * `npm start`: Qwip's HTTP service on the platform the environment describes (with nothing set,
 * the embedded default: PGlite under `QWIP_DATA_DIR`, sandbox payments, static codes, outbox mail,
 * a demo pod on the first run). Layers are built once; SIGTERM/SIGINT shut down gracefully.
 * A setting that stops start-up is reported in one line and the process exits non-zero.
 */
import { NodeRuntime } from "@effect/platform-node"
import { EmbeddedServer, layerFromEnv } from "@qwip/adapters"
import { Layer } from "effect"
import { serve } from "./Server.js"

// The embedded store is also served to the `qwip` CLI while the service holds it.
NodeRuntime.runMain(serve(Layer.provideMerge(EmbeddedServer.layer, layerFromEnv)))
