/** Checkout photos: Supabase Storage (the local-directory store lives in `@qwip/http`, which serves its links). */
export * from "./SupabaseCheckoutPhotos.js"
