/**
 * How long the events tables keep their rows (issue 23: nothing grows without bound).
 * Migration events/0005_retention states each rule on its table.
 */

/**
 * Ordinary redeliveries come within minutes of the first delivery: the relay resending
 * after a crash between send and mark, a rebalance or a crash before the offset commit.
 * Older messages come back only when a group has been away longer than Kafka keeps its
 * committed offsets (offsets.retention.minutes, 7 days by default) and re-reads its
 * topics from the beginning, as far back as their retention (log.retention.hours, also
 * 7 days by default, a little more as whole segments are deleted). 7 days covers the
 * first by far and the second as far as Kafka's defaults go; a deployment whose topics
 * keep events longer should keep the ids as long. Event ids are UUIDv7 (time first), so
 * the key's index grows at its right-hand end and the oldest ids go from its left.
 */
export const PROCESSED_EVENTS_RETENTION_MS = 7 * 24 * 3_600_000;
/** Pause between two prunes of a consumer's expired event ids. */
export const PROCESSED_EVENTS_PRUNE_INTERVAL_MS = 10 * 60_000;
/** Expired event ids deleted per statement. */
export const PROCESSED_EVENTS_PRUNE_BATCH_SIZE = 1_000;

/**
 * A sent outbox row is read by nothing (the relay reads unsent rows only): it is kept an
 * hour for an operator looking into a recent delivery. At the national rates (up
 * to a few thousand events a second in the busiest service) a day of sent rows was
 * hundreds of millions of rows; an hour is a few million at the peak.
 */
export const OUTBOX_SENT_RETENTION_MS = 3_600_000;
/** Sent rows deleted per statement. */
export const OUTBOX_CLEANUP_BATCH_SIZE = 1_000;
