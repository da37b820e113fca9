/*
 * gen-plays - deterministic generator of music-streaming play events
 *
 *   gen-plays [-n COUNT] [-s SEED] [--csv] [-o FILE] [--disorder MS]
 *             [--start ISO] [--rate N] [--users N] [--songs N] [--artists N]
 *             [--skew[=S]] [--dim-songs FILE]
 *
 * Writes COUNT play events, one NDJSON object a line (or CSV with a header
 * with --csv), fields in this order:
 *
 *   event_time  ISO-8601 UTC with milliseconds, "2026-11-23T10:00:00.123Z"
 *   user_id     integer, 1..users
 *   song_id     integer, 1..songs
 *   artist_id   integer, 1..artists, a fixed function of song_id
 *   os          ios, android, web, harmonyos, macos, windows (weighted)
 *   province    Chinese province in ASCII pinyin (weighted)
 *   action      play, skip, like, pause, share, download (weighted)
 *   duration_ms integer
 *   dt          the event date, "2026-11-23"
 *
 * Event time: a base time advances steadily at RATE events per second of
 * event time from START; each event's time is base plus a uniform jitter in
 * [0, disorder] ms (so no event is before START). No event is more than
 * DISORDER ms behind the highest event time before it: --lateness DISORDER
 * is enough to lose nothing.
 *
 * The output depends only on the options: the same options give the same
 * bytes on every machine (own PRNG, xoshiro256** seeded by splitmix64; no
 * floating point in the event stream except the --skew table, built from
 * pow(), whose inversion is done in integers).
 *
 * --dim-songs FILE also writes the songs dimension as CSV (RFC 4180, header
 * song_id,title,artist_id,genre) with titles that hold commas, double quotes,
 * non-ASCII letters and emoji. Its artist_id agrees with the events'.
 * With -n 0 only the dimension is written.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include "fxtime.h"

#define OUTBUF (1u << 20)

static const char *prog = "gen-plays";

/* ---- output buffer ---- */

struct out {
	int fd;
	size_t len;
	char *buf;
};

static void die(const char *msg, const char *arg)
{
	if (arg)
		fprintf(stderr, "%s: %s '%s'\n", prog, msg, arg);
	else
		fprintf(stderr, "%s: %s\n", prog, msg);
	exit(2);
}

static void out_flush(struct out *o)
{
	size_t off = 0;

	while (off < o->len) {
		ssize_t n = write(o->fd, o->buf + off, o->len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EPIPE)
				exit(1);
			fprintf(stderr, "%s: write error: %s\n", prog,
			        strerror(errno));
			exit(1);
		}
		off += (size_t)n;
	}
	o->len = 0;
}

/* Room for one record; records are far below 4 KiB. */
static inline char *out_reserve(struct out *o, size_t need)
{
	if (o->len + need > OUTBUF)
		out_flush(o);
	return o->buf + o->len;
}

static inline char *put_str(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

#define PUT_LIT(p, lit) put_str((p), (lit), sizeof(lit) - 1)

static inline char *put_u64(char *p, uint64_t v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static inline char *put_2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
	return p + 2;
}

/* ---- PRNG: xoshiro256**, seeded by splitmix64 ---- */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, n), n > 0 (Lemire's multiply-high; the bias is < n/2^64). */
static inline uint64_t rng_below(struct rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

/* ---- weighted choice: a 1024-slot lookup table ---- */

#define WSLOTS 1024

struct choice {
	const char *name;
	unsigned weight;
};

struct wtable {
	unsigned char slot[WSLOTS];
	const struct choice *c;
	size_t lens[64];
};

static void wtable_init(struct wtable *t, const struct choice *c, size_t n)
{
	unsigned total = 0, acc = 0;
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		total += c[i].weight;
	t->c = c;
	for (size_t i = 0; i < n; i++) {
		unsigned end;

		acc += c[i].weight;
		end = (unsigned)((uint64_t)acc * WSLOTS / total);
		while (k < end)
			t->slot[k++] = (unsigned char)i;
		t->lens[i] = strlen(c[i].name);
	}
	while (k < WSLOTS)
		t->slot[k++] = (unsigned char)(n - 1);
}

static inline unsigned wtable_pick(const struct wtable *t, uint64_t bits)
{
	return t->slot[bits & (WSLOTS - 1)];
}

static const struct choice OSES[] = {
    {"android", 46},  {"ios", 38},  {"web", 9},
    {"harmonyos", 5}, {"macos", 1}, {"windows", 1},
};

static const struct choice PROVINCES[] = {
    {"guangdong", 90}, {"shandong", 72},     {"henan", 70},
    {"jiangsu", 60},   {"sichuan", 59},      {"hebei", 53},
    {"hunan", 47},     {"zhejiang", 47},     {"anhui", 43},
    {"hubei", 41},     {"guangxi", 36},      {"yunnan", 33},
    {"jiangxi", 32},   {"liaoning", 30},     {"fujian", 29},
    {"shaanxi", 28},   {"guizhou", 27},      {"shanxi", 25},
    {"chongqing", 23}, {"heilongjiang", 22}, {"xinjiang", 18},
    {"shanghai", 18},  {"gansu", 17},        {"neimenggu", 17},
    {"jilin", 17},     {"beijing", 16},      {"tianjin", 10},
    {"hainan", 7},     {"ningxia", 5},       {"qinghai", 4},
    {"xizang", 3},     {"hongkong", 5},      {"macau", 1},
    {"taiwan", 5},
};

static const struct choice ACTIONS[] = {
    {"play", 70}, {"skip", 17}, {"like", 5},
    {"pause", 4}, {"share", 2}, {"download", 2},
};

static const char *const GENRES[] = {
    "pop",   "rock",       "hip-hop",    "electronic", "folk",     "classical",
    "jazz",  "r&b",        "c-pop",      "k-pop",      "mandopop", "cantopop",
    "metal", "soundtrack", "children's", "world",
};

/* ---- time ---- */

/* --start, read as fx reads event times. */
static int64_t parse_start(const char *s)
{
	int64_t ms;

	if (fx_time_parse_iso(s, strlen(s), &ms) != 0)
		die("bad --start time (e.g. 2026-11-23T00:00:00.000Z)", s);
	return ms;
}

/*
 * Formats event time and date. The date part is cached by day, so the
 * per-record work is a few divisions.
 */
struct clock {
	int64_t day;
	char date[10]; /* YYYY-MM-DD */
};

static void clock_day(struct clock *c, int64_t day)
{
	char iso[FX_TIME_ISO_LEN + 1];

	c->day = day;
	if (fx_time_format_iso(day * 86400000, iso) != 24)
		die("event time out of range (years 0000-9999)", NULL);
	memcpy(c->date, iso, 10);
}

/* Writes YYYY-MM-DDTHH:MM:SS.mmmZ (24 bytes); c->date is then the day. */
static inline char *put_time(char *p, struct clock *c, int64_t ms)
{
	int64_t day = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
	unsigned in = (unsigned)(ms - day * 86400000);
	unsigned milli = in % 1000, s = in / 1000;

	if (day != c->day)
		clock_day(c, day);
	p = put_str(p, c->date, 10);
	*p++ = 'T';
	p = put_2(p, s / 3600);
	*p++ = ':';
	p = put_2(p, s / 60 % 60);
	*p++ = ':';
	p = put_2(p, s % 60);
	*p++ = '.';
	*p++ = (char)('0' + milli / 100);
	p = put_2(p, milli % 100);
	*p++ = 'Z';
	return p;
}

/* ---- songs ---- */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* A fixed function of the song, the same in events and dimension. */
static inline uint64_t artist_of(uint64_t song, uint64_t artists)
{
	return mix64(song * 0x9e3779b97f4a7c15ULL + 0x5eed) % artists + 1;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/*
 * Zipf popularity: rank r (0-based) has weight 1/(r+1)^s. The cumulative
 * table is scaled to integers so that picking is integer-only; ranks are
 * scattered over song ids by a multiplicative permutation so that the
 * popular songs are not simply the low ids.
 */
struct zipf {
	uint64_t n, mult;
	uint64_t
	    *cdf; /* cdf[r] = scaled weight of ranks 0..r; cdf[n-1] = total */
};

static void zipf_init(struct zipf *z, uint64_t n, double s)
{
	double sum = 0, acc = 0;

	z->n = n;
	z->cdf = malloc(n * sizeof *z->cdf);
	if (!z->cdf)
		die("out of memory", NULL);
	for (uint64_t r = 0; r < n; r++)
		sum += pow((double)(r + 1), -s);
	for (uint64_t r = 0; r < n; r++) {
		acc += pow((double)(r + 1), -s);
		z->cdf[r] =
		    (uint64_t)(acc / sum * 9007199254740992.0); /* 2^53 */
	}
	z->cdf[n - 1] = 9007199254740992ULL;
	z->mult = 2654435761ULL % n;
	if (z->mult == 0)
		z->mult = 1;
	while (gcd(z->mult, n) != 1)
		z->mult++;
}

static inline uint64_t zipf_pick(const struct zipf *z, uint64_t bits)
{
	uint64_t u = bits >> 11; /* [0, 2^53) */
	uint64_t lo = 0, hi = z->n - 1;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (z->cdf[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return (uint64_t)(((unsigned __int128)lo * z->mult) % z->n) + 1;
}

/* Title words: plain, with commas, with double quotes, non-ASCII, emoji. */
static const char *const WORDS_A[] = {
    "Midnight", "Blue",         "Ça va, \"Ñandú\"",
    "Golden",   "Silent",       "夜曲",
    "Electric", "Crème brûlée", "Paper",
    "Neon",     "Rain, Rain",   "Über",
    "\"Lost\"", "稻香",         "Fire 🔥",
    "Wild",     "Señorita",     "Moon",
    "Ghost",    "Ocean 🌊",
};

static const char *const WORDS_B[] = {
    "Heart",  "Road",          "Dreams",
    "Lights", "Summer, Again", "Café",
    "River",  "Song",          "\"Hello\", World",
    "晴天",   "Love 💖",        "Stars",
    "Fjörd",  "Smile",         "Waves",
    "Kiss",   "Zürich",        "Echo",
    "Days",   "Город",
};

static char *put_csv_field(char *p, const char *s)
{
	if (!strpbrk(s, ",\"\r\n"))
		return put_str(p, s, strlen(s));
	*p++ = '"';
	for (; *s; s++) {
		if (*s == '"')
			*p++ = '"';
		*p++ = *s;
	}
	*p++ = '"';
	return p;
}

static void write_dim_songs(const char *path, uint64_t songs, uint64_t artists,
                            uint64_t seed)
{
	struct out o;
	struct rng r;
	char title[512];

	o.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	if (o.fd < 0) {
		fprintf(stderr, "%s: cannot open '%s': %s\n", prog, path,
		        strerror(errno));
		exit(1);
	}
	o.len = 0;
	o.buf = malloc(OUTBUF);
	if (!o.buf)
		die("out of memory", NULL);
	rng_seed(&r, seed ^ 0xd1b54a32d192ed03ULL);
	{
		char *p = out_reserve(&o, 64);
		p = PUT_LIT(p, "song_id,title,artist_id,genre\n");
		o.len = (size_t)(p - o.buf);
	}
	for (uint64_t id = 1; id <= songs; id++) {
		uint64_t b = rng_next(&r);
		const char *a = WORDS_A[b % (sizeof WORDS_A / sizeof *WORDS_A)];
		const char *w =
		    WORDS_B[(b >> 8) % (sizeof WORDS_B / sizeof *WORDS_B)];
		const char *g =
		    GENRES[(b >> 16) % (sizeof GENRES / sizeof *GENRES)];
		char *p;

		snprintf(title, sizeof title, "%s %s %" PRIu64 "", a, w,
		         (uint64_t)(b >> 40) % 1000);
		p = out_reserve(&o, 2 * sizeof title + 64);
		p = put_u64(p, id);
		*p++ = ',';
		p = put_csv_field(p, title);
		*p++ = ',';
		p = put_u64(p, artist_of(id, artists));
		*p++ = ',';
		p = put_csv_field(p, g);
		*p++ = '\n';
		o.len = (size_t)(p - o.buf);
	}
	out_flush(&o);
	if (close(o.fd) != 0) {
		fprintf(stderr, "%s: '%s': %s\n", prog, path, strerror(errno));
		exit(1);
	}
	free(o.buf);
}

/* ---- main ---- */

static uint64_t parse_u64(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (*s == '-')
		die(what, s);
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end)
		die(what, s);
	return (uint64_t)v;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: gen-plays [options]\n"
	    "  -n, --count N        events to write (default 1000)\n"
	    "  -s, --seed N         PRNG seed (default 1)\n"
	    "      --csv            CSV with a header instead of NDJSON\n"
	    "  -o, --output FILE    write to FILE instead of stdout\n"
	    "      --start ISO      first event time (default 2026-11-23T00:00:00.000Z)\n"
	    "      --rate N         events per second of event time (default 2000)\n"
	    "      --disorder MS    bounded disorder: no event more than MS ms behind the\n"
	    "                       latest before it (default 3000)\n"
	    "      --users N        distinct users (default 1000000)\n"
	    "      --songs N        distinct songs (default 200000)\n"
	    "      --artists N      distinct artists (default songs/10)\n"
	    "      --skew[=S]       Zipf song popularity with exponent S (default 1.0)\n"
	    "      --dim-songs FILE also write the songs dimension CSV to FILE\n"
	    "  -h, --help\n");
}

int main(int argc, char **argv)
{
	uint64_t count = 1000, seed = 1, rate = 2000, disorder = 3000;
	uint64_t users = 1000000, songs = 200000, artists = 0;
	int csv = 0, skew = 0;
	double skew_s = 1.0;
	const char *output = NULL, *dim = NULL;
	int64_t start = parse_start("2026-11-23T00:00:00.000Z");
	enum {
		O_CSV = 256,
		O_START,
		O_RATE,
		O_DISORDER,
		O_USERS,
		O_SONGS,
		O_ARTISTS,
		O_SKEW,
		O_DIM
	};
	static const struct option lopts[] = {
	    {"count", required_argument, NULL, 'n'},
	    {"seed", required_argument, NULL, 's'},
	    {"output", required_argument, NULL, 'o'},
	    {"csv", no_argument, NULL, O_CSV},
	    {"start", required_argument, NULL, O_START},
	    {"rate", required_argument, NULL, O_RATE},
	    {"disorder", required_argument, NULL, O_DISORDER},
	    {"users", required_argument, NULL, O_USERS},
	    {"songs", required_argument, NULL, O_SONGS},
	    {"artists", required_argument, NULL, O_ARTISTS},
	    {"skew", optional_argument, NULL, O_SKEW},
	    {"dim-songs", required_argument, NULL, O_DIM},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "n:s:o:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			count = parse_u64(optarg, "bad count");
			break;
		case 's':
			seed = parse_u64(optarg, "bad seed");
			break;
		case 'o':
			output = optarg;
			break;
		case O_CSV:
			csv = 1;
			break;
		case O_START:
			start = parse_start(optarg);
			break;
		case O_RATE:
			rate = parse_u64(optarg, "bad --rate");
			break;
		case O_DISORDER:
			disorder = parse_u64(optarg, "bad --disorder");
			break;
		case O_USERS:
			users = parse_u64(optarg, "bad --users");
			break;
		case O_SONGS:
			songs = parse_u64(optarg, "bad --songs");
			break;
		case O_ARTISTS:
			artists = parse_u64(optarg, "bad --artists");
			break;
		case O_SKEW:
			skew = 1;
			if (optarg) {
				char *end;
				skew_s = strtod(optarg, &end);
				if (end == optarg || *end ||
				    !(skew_s > 0 && skew_s < 10))
					die("bad --skew exponent", optarg);
			}
			break;
		case O_DIM:
			dim = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		die("unexpected argument", argv[optind]);
	if (!rate || !users || !songs)
		die("--rate, --users and --songs must be at least 1", NULL);
	if (!artists)
		artists = songs / 10 ? songs / 10 : 1;
	if (disorder > 86400000ULL * 365)
		die("--disorder too large", NULL);

	if (dim)
		write_dim_songs(dim, songs, artists, seed);
	if (!count && dim)
		return 0;

	struct out o = {.fd = 1};
	struct rng r;
	struct wtable t_os, t_prov, t_act;
	struct zipf z = {0};
	struct clock clk = {.day = INT64_MIN};

	if (output) {
		o.fd = open(output, O_WRONLY | O_CREAT | O_TRUNC, 0666);
		if (o.fd < 0) {
			fprintf(stderr, "%s: cannot open '%s': %s\n", prog,
			        output, strerror(errno));
			return 1;
		}
	}
	o.buf = malloc(OUTBUF);
	if (!o.buf)
		die("out of memory", NULL);
	rng_seed(&r, seed);
	wtable_init(&t_os, OSES, sizeof OSES / sizeof *OSES);
	wtable_init(&t_prov, PROVINCES, sizeof PROVINCES / sizeof *PROVINCES);
	wtable_init(&t_act, ACTIONS, sizeof ACTIONS / sizeof *ACTIONS);
	if (skew)
		zipf_init(&z, songs, skew_s);

	if (csv) {
		char *p = out_reserve(&o, 128);
		p = PUT_LIT(
		    p,
		    "event_time,user_id,song_id,artist_id,os,province,action,"
		    "duration_ms,dt\n");
		o.len = (size_t)(p - o.buf);
	}

	for (uint64_t i = 0; i < count; i++) {
		/* steady base clock; i * 1000 / rate without overflow for sane
		 * i */
		int64_t base =
		    start + (int64_t)((unsigned __int128)i * 1000 / rate);
		/* base + uniform [0, disorder]: never more than disorder behind
		 * the max */
		int64_t t = base + (int64_t)rng_below(&r, disorder + 1);
		uint64_t user = rng_below(&r, users) + 1;
		uint64_t song = skew ? zipf_pick(&z, rng_next(&r))
		                     : rng_below(&r, songs) + 1;
		uint64_t b3 = rng_next(&r);
		unsigned os = wtable_pick(&t_os, b3);
		unsigned prov = wtable_pick(&t_prov, b3 >> 10);
		unsigned act = wtable_pick(&t_act, b3 >> 20);
		uint64_t dur;
		char *p = out_reserve(&o, 512);

		switch (act) {
		case 0: /* play: 30 s to 6 min */
			dur = 30000 + ((b3 >> 32) % 330001);
			break;
		case 1: /* skip: under 30 s */
			dur = 500 + ((b3 >> 32) % 29500);
			break;
		default:
			dur = (b3 >> 32) % 240001;
			break;
		}

		if (csv) {
			p = put_time(p, &clk, t);
			*p++ = ',';
			p = put_u64(p, user);
			*p++ = ',';
			p = put_u64(p, song);
			*p++ = ',';
			p = put_u64(p, artist_of(song, artists));
			*p++ = ',';
			p = put_str(p, OSES[os].name, t_os.lens[os]);
			*p++ = ',';
			p = put_str(p, PROVINCES[prov].name, t_prov.lens[prov]);
			*p++ = ',';
			p = put_str(p, ACTIONS[act].name, t_act.lens[act]);
			*p++ = ',';
			p = put_u64(p, dur);
			*p++ = ',';
			p = put_str(p, clk.date, 10);
		} else {
			p = PUT_LIT(p, "{\"event_time\":\"");
			p = put_time(p, &clk, t);
			p = PUT_LIT(p, "\",\"user_id\":");
			p = put_u64(p, user);
			p = PUT_LIT(p, ",\"song_id\":");
			p = put_u64(p, song);
			p = PUT_LIT(p, ",\"artist_id\":");
			p = put_u64(p, artist_of(song, artists));
			p = PUT_LIT(p, ",\"os\":\"");
			p = put_str(p, OSES[os].name, t_os.lens[os]);
			p = PUT_LIT(p, "\",\"province\":\"");
			p = put_str(p, PROVINCES[prov].name, t_prov.lens[prov]);
			p = PUT_LIT(p, "\",\"action\":\"");
			p = put_str(p, ACTIONS[act].name, t_act.lens[act]);
			p = PUT_LIT(p, "\",\"duration_ms\":");
			p = put_u64(p, dur);
			p = PUT_LIT(p, ",\"dt\":\"");
			p = put_str(p, clk.date, 10);
			*p++ = '"';
			*p++ = '}';
		}
		*p++ = '\n';
		o.len = (size_t)(p - o.buf);
	}
	out_flush(&o);
	if (output && close(o.fd) != 0) {
		fprintf(stderr, "%s: '%s': %s\n", prog, output,
		        strerror(errno));
		return 1;
	}
	free(o.buf);
	free(z.cdf);
	return 0;
}
