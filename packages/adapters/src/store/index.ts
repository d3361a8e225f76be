/**
 * Persistence: one SQL schema (packages/adapters/migrations), three stores over it
 * (embedded PGlite, Postgres, Supabase), one implementation of the session store.
 */
export {
  callStatement,
  type SqlArgs,
  type SqlFunctionName,
  type SqlType,
  StoreBackend,
  type StoreBackendShape,
  StoreFault,
  type StoreKind,
  StoreStartupError,
  sqlFunctions
} from "./Backend.js"
export * as Migrator from "./Migrator.js"
export { layerPglite, openPglite, type PgliteOptions, pgliteOptions } from "./Pglite.js"
export { layerPostgres, type PostgresOptions, redactUrl } from "./Postgres.js"
export {
  AuditEntry,
  ChargeRecord,
  OutboxEntry,
  PaymentAttempt,
  SandboxObject,
  SandboxObjectKind,
  StoreRecords,
  type StoreRecordsShape,
  WebhookDelivery,
  WorkRecord
} from "./Records.js"
export * as SqlStore from "./SqlStore.js"
export {
  DEFAULT_DATA_DIR,
  describeChoice,
  layerFor,
  layerFromConfig,
  type StoreChoice,
  storeChoice
} from "./StoreConfig.js"
export { layerSupabase, type SupabaseOptions } from "./Supabase.js"
