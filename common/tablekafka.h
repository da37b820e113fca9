/*
 * tablekafka.h - the broker's topic names, for partition flow tables:
 * fx-partition --list and fx-consume --table find the dynamic partitions
 * that exist by listing the topics that match a table's template.
 *
 * (The one librdkafka user outside kafka.c; it belongs in kafka.c, next to
 * the configuration it repeats, once that module is free to change.)
 */
#ifndef FX_TABLEKAFKA_H
#define FX_TABLEKAFKA_H

#include "kafka.h"

/*
 * Appends the broker's topic names (internal topics, starting with "__",
 * left out) to out, sorted. Returns 0, FX_EXIT_USAGE (bad configuration)
 * or FX_EXIT_IO (no broker answered within --timeout), reported.
 */
int kafka_topic_names(struct fx_ctx *ctx, const struct kafka_conf *kc,
                      struct fx_strlist *out);

#endif
