import { type Routes } from "@seamapi/fake-seam-connect";
import { Context, Effect, Layer, Redacted } from "effect";
/** A lock as Seam reports it; the fields Qwip reads. */
export interface LockSeed {
    readonly online?: boolean;
    readonly locked?: boolean;
    readonly canProgramOnlineCodes?: boolean;
    readonly canProgramOfflineCodes?: boolean;
    readonly supportedCodeLengths?: ReadonlyArray<number>;
    readonly codeConstraints?: ReadonlyArray<{
        readonly constraint_type: string;
        readonly min_length?: number;
        readonly max_length?: number;
    }>;
}
/** A code as the fake holds it. */
export interface CodeOnLock {
    readonly ref: string;
    readonly name: string;
    readonly code: string;
    readonly status: string;
    readonly startsAt: string | undefined;
    readonly endsAt: string | undefined;
}
export interface SeamFakeShape {
    /** Where the SDK should send requests (the relay). */
    readonly endpoint: string;
    /** An API key of Qwip's workspace on the fake. */
    readonly apiKey: Redacted.Redacted<string>;
    /** Adds a lock to Qwip's workspace: online, locked, online codes, unless told otherwise. */
    readonly addLock: (seed?: LockSeed) => Effect.Effect<string>;
    readonly updateLock: (deviceId: string, change: {
        readonly online?: boolean;
        readonly locked?: boolean;
    }) => Effect.Effect<void>;
    /** Puts a code on the lock as if someone else (another session, the owner) had set it. */
    readonly addCodeOnLock: (deviceId: string, code: string, name: string) => Effect.Effect<string>;
    /** What Seam reports for a code: the lock confirming it (`set`), or an error on it. */
    readonly setCodeState: (ref: string, state: {
        readonly status?: "setting" | "set" | "unset" | "removing" | "unknown";
        readonly errors?: ReadonlyArray<{
            readonly error_code: string;
            readonly message: string;
        }>;
    }) => Effect.Effect<void>;
    readonly codesOn: (deviceId: string) => Effect.Effect<ReadonlyArray<CodeOnLock>>;
    /** Seam answers 503 on these routes (e.g. `/access_codes/delete`) until `recover`. */
    readonly outage: (routes: ReadonlyArray<keyof Routes>) => Effect.Effect<void>;
    readonly recover: Effect.Effect<void>;
}
declare const SeamFake_base: Context.TagClass<SeamFake, "test/SeamFake", SeamFakeShape>;
export declare class SeamFake extends SeamFake_base {
    static readonly layer: Layer.Layer<SeamFake, never, never>;
}
export {};
//# sourceMappingURL=SeamFake.d.ts.map