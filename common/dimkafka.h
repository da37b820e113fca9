/*
 * dimkafka.h - a dimension kept in a (compacted) Kafka topic.
 *
 * dim_kafka_open() assigns every partition of the topic from the
 * beginning and reads up to the end offsets it saw when it started: that
 * is the table at start. dim_kafka_poll() then applies whatever has
 * arrived since, without waiting: the message key is the dimension key
 * (its text, canonicalised as join_key_add does for a string), the value a
 * JSON object of the row's fields, an empty or null value (a tombstone)
 * deletes the key. A message without a key, or whose value is not a JSON
 * object, is reported and ignored. Offsets are never committed: every run
 * reads the whole topic.
 *
 * The struct dim_kafka owns the consumer; the table and spec are the
 * caller's and borrowed for the whole run.
 */
#ifndef FX_DIMKAFKA_H
#define FX_DIMKAFKA_H

#include "dim.h"
#include "kafka.h"

struct dim_kafka;

/*
 * Connects, loads topic into t (empty) to its end, fixes the field list.
 * Returns 0 with *out set, or an exit status after a message:
 * FX_EXIT_USAGE (configuration), FX_EXIT_IO (broker unreachable, no such
 * topic, the end not reached within kc->timeout_ms of silence).
 */
int dim_kafka_open(struct fx_ctx *ctx, const struct kafka_conf *kc,
                   const char *topic, struct dim_spec *s, struct dim_table *t,
                   struct dim_kafka **out);

/* Applies the messages that have arrived. Returns 0 or FX_EXIT_IO. */
int dim_kafka_poll(struct dim_kafka *dk);

void dim_kafka_close(struct dim_kafka *dk);

#endif
