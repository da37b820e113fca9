/*
 * opt.h - the option table every program declares instead of a parsing loop.
 *
 * A program lists its options in a const array ended by FX_OPT_END();
 * fx_parse_options() builds the getopt_long table from it, stores values
 * through the pointers, prints --help (generated from the same table, so
 * that help, man page and completions can be compared by a test) and
 * --version, and reports usage errors in one shape:
 *
 *   fx-agg: unknown option '--windw' (see 'fx-agg --help')
 *
 * Values stored are borrowed from argv (strings) or owned by the list
 * (struct fx_strlist, freed by fx_strlist_free()).
 */
#ifndef FX_OPT_H
#define FX_OPT_H

#include "err.h"
#include "fx.h"
#include "strlist.h" /* the LIST and MULTI options' values */

#include <stdint.h>

enum fx_opt_type {
	FX_OPT_T_END = 0,
	FX_OPT_T_FLAG,     /* int *: set to 1 */
	FX_OPT_T_STRING,   /* const char **: last one wins */
	FX_OPT_T_LIST,     /* struct fx_strlist *: repeatable, comma-split */
	FX_OPT_T_MULTI,    /* struct fx_strlist *: repeatable, not split */
	FX_OPT_T_INT,      /* int64_t * */
	FX_OPT_T_SIZE,     /* size_t *: 16M, 64k, 1G accepted */
	FX_OPT_T_DURATION, /* int64_t * milliseconds: 250ms 5s 1m 2h 1d */
	FX_OPT_T_CALLBACK, /* cb(ctx, opt, arg); arg NULL if no argument */
	FX_OPT_T_GROUP,    /* a heading in --help; not an option */
};

struct fx_option;
/* Returns 0, or an exit status (the callback has printed the message). */
typedef int (*fx_opt_cb)(struct fx_ctx *ctx, const struct fx_option *opt,
                         const char *arg);

struct fx_option {
	int shortopt;        /* 0 if none */
	const char *longopt; /* without "--" */
	enum fx_opt_type type;
	void *value;
	const char *argname; /* NULL: takes no argument */
	const char *help;
	fx_opt_cb cb;
};

#define FX_OPT_FLAG(s, l, v, h)                                                \
	{                                                                      \
		(s), (l), FX_OPT_T_FLAG, (v), NULL, (h), NULL                  \
	}
#define FX_OPT_STRING(s, l, v, a, h)                                           \
	{                                                                      \
		(s), (l), FX_OPT_T_STRING, (v), (a), (h), NULL                 \
	}
#define FX_OPT_LIST(s, l, v, a, h)                                             \
	{                                                                      \
		(s), (l), FX_OPT_T_LIST, (v), (a), (h), NULL                   \
	}
#define FX_OPT_MULTI(s, l, v, a, h)                                            \
	{                                                                      \
		(s), (l), FX_OPT_T_MULTI, (v), (a), (h), NULL                  \
	}
#define FX_OPT_INT(s, l, v, a, h)                                              \
	{                                                                      \
		(s), (l), FX_OPT_T_INT, (v), (a), (h), NULL                    \
	}
#define FX_OPT_SIZE(s, l, v, a, h)                                             \
	{                                                                      \
		(s), (l), FX_OPT_T_SIZE, (v), (a), (h), NULL                   \
	}
#define FX_OPT_DURATION(s, l, v, h)                                            \
	{                                                                      \
		(s), (l), FX_OPT_T_DURATION, (v), "DURATION", (h), NULL        \
	}
#define FX_OPT_CALLBACK(s, l, v, a, h, cb)                                     \
	{                                                                      \
		(s), (l), FX_OPT_T_CALLBACK, (v), (a), (h), (cb)               \
	}
#define FX_OPT_GROUP(h)                                                        \
	{                                                                      \
		0, NULL, FX_OPT_T_GROUP, NULL, NULL, (h), NULL                 \
	}
#define FX_OPT_END()                                                           \
	{                                                                      \
		0, NULL, FX_OPT_T_END, NULL, NULL, NULL, NULL                  \
	}

/*
 * The options every program has: --on-error, --stats, --progress,
 * --max-record. -h/--help and -V/--version are added by fx_parse_options().
 */
extern const struct fx_option fx_common_options[];

/* The usage text: synopsis lines and a one-paragraph description. */
struct fx_usage {
	const char *synopsis;    /* "fx-consume [OPTION]... [FILE|DIR]..." */
	const char *description; /* what the program does */
};

/*
 * Parses argv against opts and fx_common_options, between the ctx's
 * on_parse and on_start hooks (fx.h). Returns the index in argv of the
 * first operand (argv is permuted so that operands come last).
 * Exits 0 after --help or --version, exits FX_EXIT_USAGE after a usage
 * error. Opens the --on-error dlq= file (fx_dlq_open), and exits
 * FX_EXIT_IO if it cannot be opened.
 */
int fx_parse_options(struct fx_ctx *ctx, int argc, char **argv,
                     const struct fx_option *opts, const struct fx_usage *u);

/* Prints the usage error "prog: msg (see 'prog --help')", exits 2. */
FX_NORETURN void fx_usage_error(const struct fx_ctx *ctx, const char *fmt, ...)
    FX_PRINTF(2, 3);

/* Parses "16M", "64k", "1G", "100". Returns 0 or -1. */
int fx_parse_size(const char *s, size_t *out);

#endif
