/* opt.c - the option table, getopt_long behind it, and --help */
#include "opt.h"
#include "err.h"
#include "fxtime.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int on_error_cb(struct fx_ctx *ctx, const struct fx_option *opt,
                       const char *arg)
{
	(void)opt;
	if (strcmp(arg, "fail") == 0) {
		ctx->on_error = FX_ON_ERROR_FAIL;
	} else if (strcmp(arg, "skip") == 0) {
		ctx->on_error = FX_ON_ERROR_SKIP;
	} else if (strncmp(arg, "dlq=", 4) == 0 && arg[4]) {
		ctx->on_error = FX_ON_ERROR_DLQ;
		ctx->dlq_path = arg + 4;
	} else {
		fx_usage_error(
		    ctx,
		    "--on-error: expected fail, skip or dlq=FILE, got '%s'",
		    arg);
	}
	return 0;
}

static int max_record_cb(struct fx_ctx *ctx, const struct fx_option *opt,
                         const char *arg)
{
	size_t n;

	(void)opt;
	if (fx_parse_size(arg, &n) || n == 0)
		fx_usage_error(ctx, "--max-record: not a size: '%s'", arg);
	ctx->max_record = n;
	return 0;
}

static int flag_cb(struct fx_ctx *ctx, const struct fx_option *opt,
                   const char *arg)
{
	(void)arg;
	if (strcmp(opt->longopt, "stats") == 0)
		ctx->stats = 1;
	else
		ctx->progress = ctx->stats = 1;
	return 0;
}

const struct fx_option fx_common_options[] = {
    FX_OPT_GROUP("Common options:"),
    FX_OPT_CALLBACK(0, "on-error", NULL, "fail|skip|dlq=FILE",
                    "what to do with a bad record (default fail)", on_error_cb),
    FX_OPT_CALLBACK(0, "max-record", NULL, "SIZE",
                    "longest record accepted (default 16M)", max_record_cb),
    FX_OPT_CALLBACK(0, "stats", NULL, NULL,
                    "print counts and rates to stderr at the end", flag_cb),
    FX_OPT_CALLBACK(0, "progress", NULL, NULL,
                    "also print them every few seconds", flag_cb),
    FX_OPT_END(),
};

void fx_usage_error(const struct fx_ctx *ctx, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fx_warn(ctx, "%s (see '%s --help')", msg, ctx->prog);
	exit(FX_EXIT_USAGE);
}

int fx_parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 0:
		break;
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	default:
		return -1;
	}
	if (*end == 'i' && shift)
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || v > (SIZE_MAX >> shift))
		return -1;
	*out = (size_t)(v << shift);
	return 0;
}

static void print_option(FILE *f, const struct fx_option *o)
{
	char left[128];
	int n;

	if (o->shortopt && o->longopt)
		n = snprintf(left, sizeof(left), "  -%c, --%s", o->shortopt,
		             o->longopt);
	else if (o->shortopt)
		n = snprintf(left, sizeof(left), "  -%c", o->shortopt);
	else
		n = snprintf(left, sizeof(left), "      --%s", o->longopt);
	if (o->argname && n > 0 && (size_t)n < sizeof(left))
		snprintf(left + n, sizeof(left) - (size_t)n,
		         o->longopt ? "=%s" : " %s", o->argname);
	if (strlen(left) > 28)
		fprintf(f, "%s\n%30s%s\n", left, "", o->help);
	else
		fprintf(f, "%-30s%s\n", left, o->help);
}

static void print_table(FILE *f, const struct fx_option *opts)
{
	for (; opts->type != FX_OPT_T_END; opts++) {
		if (opts->type == FX_OPT_T_GROUP)
			fprintf(f, "\n%s\n", opts->help);
		else
			print_option(f, opts);
	}
}

static void print_help(const struct fx_ctx *ctx, const struct fx_option *opts,
                       const struct fx_usage *u)
{
	printf("Usage: %s\n\n%s\n", u->synopsis, u->description);
	print_table(stdout, opts);
	print_table(stdout, fx_common_options);
	printf("  -h, --help                  print this help and exit\n"
	       "  -V, --version               print the version and exit\n"
	       "\nExit status: 0 ok, 1 bad data (--on-error fail), 2 usage,"
	       " 3 I/O or broker error.\nSee %s(1).\n",
	       ctx->prog);
}

static size_t count_options(const struct fx_option *o)
{
	size_t n = 0;

	for (; o->type != FX_OPT_T_END; o++)
		n++;
	return n;
}

/* The option of table entry i, across opts then fx_common_options. */
static const struct fx_option *entry(const struct fx_option *opts, size_t nopts,
                                     size_t i)
{
	return i < nopts ? &opts[i] : &fx_common_options[i - nopts];
}

static void store(struct fx_ctx *ctx, const struct fx_option *o,
                  const char *arg, const char *given)
{
	switch (o->type) {
	case FX_OPT_T_FLAG:
		*(int *)o->value = 1;
		break;
	case FX_OPT_T_STRING:
		*(const char **)o->value = arg;
		break;
	case FX_OPT_T_MULTI:
		fx_strlist_push(o->value, arg);
		break;
	case FX_OPT_T_LIST: {
		const char *p = arg, *c;

		do {
			c = strchr(p, ',');
			char *item =
			    fx_strndup(p, c ? (size_t)(c - p) : strlen(p));
			if (!*item)
				fx_usage_error(ctx,
				               "%s: empty item in list '%s'",
				               given, arg);
			fx_strlist_push(o->value, item);
			free(item);
			p = c + 1;
		} while (c);
		break;
	}
	case FX_OPT_T_INT: {
		char *end;
		long long v;

		errno = 0;
		v = strtoll(arg, &end, 10);
		if (errno || end == arg || *end)
			fx_usage_error(ctx, "%s: not an integer: '%s'", given,
			               arg);
		*(int64_t *)o->value = v;
		break;
	}
	case FX_OPT_T_SIZE:
		if (fx_parse_size(arg, o->value))
			fx_usage_error(ctx, "%s: not a size: '%s'", given, arg);
		break;
	case FX_OPT_T_DURATION:
		if (fx_duration_parse(arg, o->value))
			fx_usage_error(
			    ctx,
			    "%s: not a duration: '%s' (examples: 250ms, 5s, 1m, 2h, 1d)",
			    given, arg);
		break;
	case FX_OPT_T_CALLBACK: {
		int rc = o->cb(ctx, o, arg);
		if (rc)
			exit(rc);
		break;
	}
	case FX_OPT_T_GROUP:
	case FX_OPT_T_END:
		break;
	}
}

int fx_parse_options(struct fx_ctx *ctx, int argc, char **argv,
                     const struct fx_option *opts, const struct fx_usage *u)
{
	size_t nopts = count_options(opts);
	size_t ncommon = count_options(fx_common_options);
	size_t total = nopts + ncommon, i, nl = 0;
	struct option *lo = fx_malloc((total + 3) * sizeof(*lo));
	char *so = fx_malloc(3 * total + 4), *sp = so;
	int c, idx;

	/* lineage: a usage error is a failed run */
	if (ctx->hooks && ctx->hooks->on_parse)
		ctx->hooks->on_parse(ctx, argc, argv);
	*sp++ = ':'; /* report a missing argument as ':' */
	for (i = 0; i < total; i++) {
		const struct fx_option *o = entry(opts, nopts, i);

		if (o->type == FX_OPT_T_GROUP)
			continue;
		if (o->longopt) {
			lo[nl].name = o->longopt;
			lo[nl].has_arg =
			    o->argname ? required_argument : no_argument;
			lo[nl].flag = NULL;
			lo[nl].val = 256 + (int)i;
			nl++;
		}
		if (o->shortopt) {
			*sp++ = (char)o->shortopt;
			if (o->argname)
				*sp++ = ':';
		}
	}
	*sp++ = 'h';
	*sp++ = 'V'; /* kcat's habit */
	*sp = 0;
	lo[nl++] = (struct option){"help", no_argument, NULL, 'h'};
	lo[nl++] = (struct option){"version", no_argument, NULL, 1};
	lo[nl] = (struct option){NULL, 0, NULL, 0};

	opterr = 0;
	while ((c = getopt_long(argc, argv, so, lo, &idx)) != -1) {
		const struct fx_option *o = NULL;
		char given[128];

		if (c == 'h') {
			print_help(ctx, opts, u);
			exit(fflush(stdout) ? FX_EXIT_IO : 0);
		}
		if (c == 1 || c == 'V') {
			printf("%s %s\n", ctx->prog, FX_VERSION);
			exit(fflush(stdout) ? FX_EXIT_IO : 0);
		}
		if (c == '?') {
			if (optopt)
				fx_usage_error(ctx, "unknown option '-%c'",
				               optopt);
			fx_usage_error(ctx, "unknown option '%s'",
			               argv[optind - 1]);
		}
		if (c == ':')
			fx_usage_error(ctx, "option '%s' needs an argument",
			               argv[optind - 1]);
		if (c >= 256) {
			o = entry(opts, nopts, (size_t)(c - 256));
			snprintf(given, sizeof(given), "--%s", o->longopt);
		} else {
			for (i = 0; i < total; i++) {
				o = entry(opts, nopts, i);
				if (o->shortopt == c)
					break;
			}
			snprintf(given, sizeof(given), "-%c", c);
		}
		store(ctx, o, optarg, given);
	}
	free(lo);
	free(so);
	/*
	 * An unwritable dead-letter file is an I/O error now, before any
	 * record is read, not at the first bad record hours later.
	 */
	if (fx_dlq_open(ctx))
		exit(FX_EXIT_IO);
	/* --stats on a terminal: someone is watching, show progress too */
	if (ctx->stats && isatty(STDERR_FILENO))
		ctx->progress = 1;
	/* lineage: the run starts once its options do */
	if (ctx->hooks && ctx->hooks->on_start)
		ctx->hooks->on_start(ctx, argc, argv);
	return optind;
}
