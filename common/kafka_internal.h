/*
 * kafka_internal.h - what the kafka*.c files share: kafka.c (configuration,
 * the error and log callbacks, the broker check, the topic list, the
 * lines), kafkasrc.c (the source, the topic reader), kafkasink.c (the
 * sink), kafkadev.c (fx-devbroker). Only they include it, and with it
 * librdkafka's headers: every other file speaks Kafka through kafka.h.
 */
#ifndef FX_KAFKA_INTERNAL_H
#define FX_KAFKA_INTERNAL_H

#include "kafka.h"

#include <librdkafka/rdkafka.h>
#include <stdint.h>

/*
 * What the error callback learned: the last broker error (for messages
 * that must name the broker) and since when all brokers are down.
 */
struct kafka_health {
	const struct fx_ctx *ctx;
	char last_error[512];
	double down_since; /* 0: not known to be down */
	int fatal;
	int debug;   /* the user set librdkafka's debug: its lines pass */
	void *owner; /* the source or sink, for callbacks */
};

/* Sets one property; a bad one exits 2 naming origin ("-X", "FILE:LINE"). */
void kafka_conf_set(const struct fx_ctx *ctx, rd_kafka_conf_t *c,
                    const char *key, const char *value, const char *origin);

/*
 * Fills a librdkafka configuration the one way every fx client does: the
 * defaults given (key, value pairs ending in NULL), the properties file
 * $FX_KAFKA_CONFIG, the -X and -F properties, then the brokers (-b, else a
 * bootstrap.servers property, else $FX_BROKERS). A bad property, or no
 * brokers at all, is a usage error: it exits 2 naming it.
 */
void kafka_conf_apply(const struct fx_ctx *ctx, rd_kafka_conf_t *c,
                      const struct kafka_conf *kc, const char *const *defaults);

/*
 * For a client built with kafka_conf_apply() (the topic reader):
 * librdkafka's log lines go through fx's message shape, warnings and
 * errors only ("fx-join: librdkafka: FAC: ..."), and connection errors,
 * which it would print raw, are kept for kafka_conf_last_error(). Sets
 * the configuration's opaque. One such client per process.
 */
void kafka_conf_messages(const struct fx_ctx *ctx, rd_kafka_conf_t *c);

/*
 * The last broker error that client saw, as "broker 'HOST:PORT':
 * connection refused", or NULL. Serve its callbacks first (a poll).
 */
const char *kafka_conf_last_error(void);

/*
 * The configuration of a source or sink client: defaults (key, value pairs
 * ending in NULL), --timeout as message.timeout.ms for a producer, then
 * kafka_conf_apply(); the error and log callbacks report into h, which is
 * the opaque. librdkafka's warnings and errors are printed; its debug
 * lines too when the user asked for them (-X debug=...), else nothing
 * below a warning. Exits 2 on a bad property.
 */
rd_kafka_conf_t *kafka_conf_build(const struct fx_ctx *ctx,
                                  rd_kafka_type_t type,
                                  const struct kafka_conf *kc,
                                  const char *const *defaults,
                                  struct kafka_health *h);

/* "broker 'X': connection refused", or fallback when nothing is known. */
const char *kafka_health_reason(const struct kafka_health *h,
                                const char *fallback);

/*
 * Waits up to timeout_ms for any broker to answer (at once if every one
 * is known to be down). Returns 0, or FX_EXIT_IO after a message.
 */
int kafka_check_brokers(const struct fx_ctx *ctx, rd_kafka_t *rk,
                        struct kafka_health *h, int64_t timeout_ms);

/* The bootstrap servers, for lineage's kafka://BOOTSTRAP/TOPIC names. */
const char *kafka_lineage_bootstrap(const struct kafka_conf *kc);

#endif
