/*
 * lineage_kafka.h - the kafka:TOPIC lineage store: run events produced to
 * a topic on FX_BROKERS, best effort.
 *
 * The store is kafka.h's best-effort producer of lines (kafka_lines_open)
 * with fixed settings, no fx options. A producer is created at the first
 * event and flushed at the end for at most LINEAGE_KAFKA_WAIT_MS (or
 * FX_LINEAGE_WAIT_MS), or not
 * at all once every broker is known to be down (a refused connection): lineage
 * must not slow a run down. Undelivered events are reported, never fatal.
 */
#ifndef FX_LINEAGE_KAFKA_H
#define FX_LINEAGE_KAFKA_H

#include <stddef.h>

struct lineage_kafka;

/*
 * The longest a run's end waits for its events to reach the brokers, unless
 * FX_LINEAGE_WAIT_MS says otherwise (lineage_store_open()).
 */
#define LINEAGE_KAFKA_WAIT_MS 500

/* NULL with the reason in err. */
struct lineage_kafka *lineage_kafka_open(const char *brokers, const char *topic,
                                         char *err, size_t errlen);

/* Queues one event (copied). Returns 0, or -1 with the reason in err. */
int lineage_kafka_send(struct lineage_kafka *k, const char *line, size_t len,
                       char *err, size_t errlen);

/*
 * Waits up to timeout_ms for delivery (less if every broker is down),
 * frees k. Returns 0 if every event
 * was delivered, else -1 with the reason in err.
 */
int lineage_kafka_close(struct lineage_kafka *k, int timeout_ms, char *err,
                        size_t errlen);

#endif
