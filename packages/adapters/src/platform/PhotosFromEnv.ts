/**
 * Checkout photos from the environment: in Supabase Storage's private bucket `checkout-photos`
 * whenever `SUPABASE_URL` and `SUPABASE_KEY` are set, whatever the store (every instance must see
 * every photo, and a host's disk may not last); else under `<QWIP_DATA_DIR>/checkout-photos`,
 * their signed links starting with `PUBLIC_URL` (default `http://localhost:<PORT>`), where the
 * HTTP service serves them.
 */
import * as path from "node:path"
import type { CheckoutPhotos } from "@qwip/core"
import { Effect, Layer, Option } from "effect"
import { LocalPhotoFiles, layerLocalCheckoutPhotos } from "../photos/LocalCheckoutPhotos.js"
import {
  layerFromConfig as layerSupabasePhotos,
  type PhotoStorageStartupError
} from "../photos/SupabaseCheckoutPhotos.js"
import { supabaseStorageConfigured } from "../store/StoreConfig.js"
import { publicUrlFromEnv } from "./PublicUrlFromEnv.js"
import { PlatformStartError } from "./StartError.js"

export type PhotoStoreKind = "supabase-storage" | "local"

export interface PlatformPhotos {
  readonly kind: PhotoStoreKind
  readonly layer: Layer.Layer<CheckoutPhotos | LocalPhotoFiles, PlatformStartError>
}

/**
 * The photo store `kind` names. Supabase Storage reads its URL and key from the environment;
 * its links are Storage's own, so there are no local files to serve.
 */
export const layerCheckoutPhotos = (
  kind: PhotoStoreKind,
  local: { readonly dataDir: string; readonly publicUrl: string }
): Layer.Layer<CheckoutPhotos | LocalPhotoFiles, PhotoStorageStartupError> =>
  kind === "supabase-storage"
    ? Layer.merge(layerSupabasePhotos, Layer.succeed(LocalPhotoFiles, Option.none()))
    : layerLocalCheckoutPhotos({ directory: path.join(local.dataDir, "checkout-photos"), publicUrl: local.publicUrl })

/** Photo storage's one-line reasons already start with the setting to fix. */
const toStartError = (e: PhotoStorageStartupError) => {
  const at = e.reason.indexOf(": ")
  return at < 0
    ? new PlatformStartError({ setting: "checkout photos", reason: e.reason })
    : new PlatformStartError({ setting: e.reason.slice(0, at), reason: e.reason.slice(at + 2) })
}

export const photosFromEnv = (dataDir: string): Effect.Effect<PlatformPhotos, PlatformStartError> =>
  Effect.gen(function* () {
    const kind: PhotoStoreKind = (yield* supabaseStorageConfigured) ? "supabase-storage" : "local"
    const publicUrl = yield* publicUrlFromEnv
    return { kind, layer: layerCheckoutPhotos(kind, { dataDir, publicUrl }).pipe(Layer.mapError(toStartError)) }
  })
