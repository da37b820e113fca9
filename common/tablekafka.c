/* tablekafka.c - the broker's topic names; see tablekafka.h */
#include "tablekafka.h"

#include "err.h"
#include "kafka_internal.h"

#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>

/* librdkafka's own log lines would only repeat the error we print */
static const char *const table_defaults[] = {"log_level", "0", NULL};

static rd_kafka_conf_t *conf_build(struct fx_ctx *ctx,
                                   const struct kafka_conf *kc)
{
	rd_kafka_conf_t *c = rd_kafka_conf_new();

	kafka_conf_apply(ctx, c, kc, table_defaults);
	return c;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int kafka_topic_names(struct fx_ctx *ctx, const struct kafka_conf *kc,
                      struct fx_strlist *out)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_conf_t *c = conf_build(ctx, kc);
	rd_kafka_resp_err_t err;
	char errstr[512];
	rd_kafka_t *rk;
	size_t first = out->n;
	int i;

	if (!c)
		return FX_EXIT_USAGE;
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof(errstr));
	if (!rk) {
		rd_kafka_conf_destroy(c);
		fx_warn(ctx, "%s", errstr);
		return FX_EXIT_USAGE;
	}
	err = rd_kafka_metadata(rk, 1, NULL, &md, (int)kc->timeout_ms);
	if (err) {
		fx_warn(ctx, "brokers: no topic list within %lld ms (%s)",
		        (long long)kc->timeout_ms, rd_kafka_err2str(err));
		rd_kafka_destroy(rk);
		return FX_EXIT_IO;
	}
	for (i = 0; i < md->topic_cnt; i++)
		if (strncmp(md->topics[i].topic, "__", 2) != 0)
			fx_strlist_push(out, md->topics[i].topic);
	qsort(out->v + first, out->n - first, sizeof(*out->v), cmp_str);
	rd_kafka_metadata_destroy(md);
	rd_kafka_destroy(rk);
	return 0;
}
