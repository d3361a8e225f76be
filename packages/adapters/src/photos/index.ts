/** Checkout photos: Supabase Storage, or a local directory whose signed links the HTTP service serves. */
export * from "./LocalCheckoutPhotos.js"
export * from "./SupabaseCheckoutPhotos.js"
