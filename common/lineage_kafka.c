/* lineage_kafka.c - the kafka:TOPIC lineage store */
#include "lineage_kafka.h"
#include "err.h"
#include "kafka.h"

#include <stdlib.h>

struct lineage_kafka {
	struct kafka_lines *lines;
};

/* a run's events are few and small: each one sent at once */
static const char *const lineage_props[] = {
    "message.timeout.ms", "5000", "linger.ms", "0", NULL,
};

struct lineage_kafka *lineage_kafka_open(const char *brokers, const char *topic,
                                         char *err, size_t errlen)
{
	struct kafka_lines *lines =
	    kafka_lines_open(brokers, topic, lineage_props, err, errlen);
	struct lineage_kafka *k;

	if (!lines)
		return NULL;
	k = fx_malloc(sizeof(*k));
	k->lines = lines;
	return k;
}

int lineage_kafka_send(struct lineage_kafka *k, const char *line, size_t len,
                       char *err, size_t errlen)
{
	/* the store's lines end in '\n'; a message is the JSON alone */
	if (len && line[len - 1] == '\n')
		len--;
	return kafka_lines_send(k->lines, line, len, err, errlen);
}

int lineage_kafka_close(struct lineage_kafka *k, int timeout_ms, char *err,
                        size_t errlen)
{
	int rc = kafka_lines_close(k->lines, timeout_ms, err, errlen);

	free(k);
	return rc;
}
