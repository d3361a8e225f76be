/**
 * Errors a caller can act on. Each carries what a person needs to do something about it;
 * the HTTP layer attaches status codes, the CLI turns them into one-line messages.
 */
import { Schema } from "effect"

export class PodNotFound extends Schema.TaggedError<PodNotFound>()("PodNotFound", {
  podId: Schema.String
}) {
  override get message() {
    return `pod ${this.podId} does not exist`
  }
}

export class PodInUse extends Schema.TaggedError<PodInUse>()("PodInUse", {
  podId: Schema.String
}) {
  override get message() {
    return `pod ${this.podId} is in use by another session`
  }
}

export class SessionNotFound extends Schema.TaggedError<SessionNotFound>()("SessionNotFound", {
  sessionId: Schema.String
}) {
  override get message() {
    return `session ${this.sessionId} does not exist`
  }
}

/** Finalize came before the card set-up succeeded; the client should retry after confirming. */
export class CardNotSetUp extends Schema.TaggedError<CardNotSetUp>()("CardNotSetUp", {
  setupIntentId: Schema.String,
  status: Schema.String
}) {
  override get message() {
    return `card set-up ${this.setupIntentId} has not succeeded (status ${this.status})`
  }
}

/**
 * The card check hold at booking was declined (or needs authentication the booking cannot
 * ask for): the booking is refused, no door code, nothing charged, the pod stays free.
 */
export class CardDeclined extends Schema.TaggedError<CardDeclined>()("CardDeclined", {
  setupIntentId: Schema.String,
  code: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `the card was declined (${this.code}): ${this.reason}`
  }
}

/** A pay link that is not genuine, has expired, or names a payment of another session. */
export class PayLinkInvalid extends Schema.TaggedError<PayLinkInvalid>()("PayLinkInvalid", {
  reason: Schema.String
}) {
  override get message() {
    return `this pay link cannot be used: ${this.reason}`
  }
}

/** The pay page's session owes nothing (paid already, waived, not billed, or not ended). */
export class NothingToPay extends Schema.TaggedError<NothingToPay>()("NothingToPay", {
  sessionId: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `session ${this.sessionId} has nothing to pay: ${this.reason}`
  }
}

/** The card set-up was made for another pod than the one the booking names. */
export class SetupIntentMismatch extends Schema.TaggedError<SetupIntentMismatch>()("SetupIntentMismatch", {
  setupIntentId: Schema.String,
  expectedPodId: Schema.String,
  actualPodId: Schema.String
}) {
  override get message() {
    return `card set-up ${this.setupIntentId} belongs to pod ${this.actualPodId}, not ${this.expectedPodId}`
  }
}

/** A lifecycle event that does not apply to the session's current state. */
export class IllegalTransition extends Schema.TaggedError<IllegalTransition>()("IllegalTransition", {
  sessionId: Schema.String,
  from: Schema.String,
  event: Schema.String
}) {
  override get message() {
    return `session ${this.sessionId} is ${this.from}: cannot ${this.event}`
  }
}

/** The session has ended; it can be read but causes nothing new. */
export class SessionAlreadyEnded extends Schema.TaggedError<SessionAlreadyEnded>()("SessionAlreadyEnded", {
  sessionId: Schema.String,
  endedAt: Schema.DateFromSelf
}) {
  override get message() {
    return `session ${this.sessionId} already ended at ${this.endedAt.toISOString()}`
  }
}

/** Another writer changed the session first; re-read and decide again. */
export class StaleSession extends Schema.TaggedError<StaleSession>()("StaleSession", {
  sessionId: Schema.String,
  expectedVersion: Schema.Number
}) {
  override get message() {
    return `session ${this.sessionId} changed since version ${this.expectedVersion}`
  }
}

/** A pod's settings are unusable (e.g. lock-provider mode without a device). */
export class PodMisconfigured extends Schema.TaggedError<PodMisconfigured>()("PodMisconfigured", {
  podId: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `pod ${this.podId} is misconfigured: ${this.reason}`
  }
}

/** A requested end time that cannot be used (in the future, or before the session started). */
export class InvalidEndTime extends Schema.TaggedError<InvalidEndTime>()("InvalidEndTime", {
  sessionId: Schema.String,
  endedAt: Schema.DateFromSelf,
  reason: Schema.String
}) {
  override get message() {
    return `cannot end session ${this.sessionId} at ${this.endedAt.toISOString()}: ${this.reason}`
  }
}

/** Background work could not be done now; the worker schedules it again. */
export class WorkNotDone extends Schema.TaggedError<WorkNotDone>()("WorkNotDone", {
  reason: Schema.String
}) {
  override get message() {
    return this.reason
  }
}

/** No pod has this lock device. */
export class DeviceNotFound extends Schema.TaggedError<DeviceNotFound>()("DeviceNotFound", {
  deviceId: Schema.String
}) {
  override get message() {
    return `no pod has the lock device ${this.deviceId}`
  }
}
