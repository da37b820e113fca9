/*
 * fxtime.h - event time and durations.
 *
 * Times are int64 milliseconds since the Unix epoch, UTC. Parsing accepts
 * ISO-8601 / RFC 3339 date-times ("2026-11-23T10:00:00.123Z", "...+02:00",
 * "2026-11-23 10:00:00", fraction of any length truncated toward negative
 * infinity to milliseconds, a missing offset means UTC) and epoch seconds or
 * milliseconds (JSON numbers, or digit strings, per --time-unit). fx writes
 * times as ISO-8601 UTC with milliseconds: "2026-11-23T10:00:00.123Z".
 * Nothing here allocates.
 */
#ifndef FX_TIME_H
#define FX_TIME_H

#include <stddef.h>
#include <stdint.h>

enum fx_time_unit {
	FX_TIME_AUTO = 0, /* strings: ISO-8601; numbers: epoch seconds */
	FX_TIME_S,
	FX_TIME_MS,
};

/*
 * Parses an ISO-8601 date-time of n bytes. Returns 0, or -1 if it is not one.
 * Accepted: YYYY-MM-DD (midnight UTC), then optionally 'T', 't' or ' ' and
 * HH:MM, HH:MM:SS, HH:MM:SS.f... ('.' or ','), then optionally 'Z', 'z',
 * +hh:mm, -hh:mm, +hhmm or +hh. Years 0000-9999, and past them the ISO 8601
 * expanded years fx_time_format_iso writes: a sign and at least four digits,
 * zero padded to four only ("+10000-01-01", "-0001-12-31"; not "+2026",
 * "-0000" or "+010000"), within the int64 range of milliseconds. Days are
 * checked against the month (leap years), second 60 (a leap second) is the
 * first second of the next minute. Nothing else, not even surrounding spaces.
 */
int fx_time_parse_iso(const char *s, size_t n, int64_t *ms);

/*
 * Parses an epoch number (integer or fraction, as JSON writes it) of n bytes
 * in unit (FX_TIME_AUTO means seconds). Returns 0 or -1. The arithmetic is
 * decimal and exact ("1795428000.123" s is ...123 ms, not ...122), rounding
 * toward negative infinity; -1 on JSON syntax errors or int64 overflow.
 */
int fx_time_parse_epoch(const char *s, size_t n, enum fx_time_unit unit,
                        int64_t *ms);

/*
 * Parses a --time-unit value (or a table's "time_unit"): NULL is
 * FX_TIME_AUTO, "s" FX_TIME_S, "ms" FX_TIME_MS. Returns 0, or -1 on
 * anything else (the caller reports "expected s or ms").
 */
int fx_time_unit_parse(const char *s, enum fx_time_unit *unit);

/*
 * The event time of a JSON value: a string is an ISO-8601 date-time (its
 * bytes between the quotes; an escaped string is not one), a number an
 * epoch in unit. Returns 0, or -1 for anything else (null, missing, ...).
 */
struct json_value;
int fx_time_of_value(const struct json_value *v, enum fx_time_unit unit,
                     int64_t *ms);

/*
 * Formats ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (at least
 * FX_TIME_ISO_LEN + 1 bytes, NUL-terminated). Returns the length (24 for
 * years 0000-9999; other years are written ISO 8601 expanded, with a sign
 * and at least four digits: "+10000-01-01T00:00:00.000Z", which
 * fx_time_parse_iso reads back). Times before 1970 are floored, so -1 is
 * "1969-12-31T23:59:59.999Z".
 */
#define FX_TIME_ISO_LEN 32
size_t fx_time_format_iso(int64_t ms, char *buf);

/*
 * Parses a duration: a non-negative integer followed by a unit: ms, s, m,
 * h, d ("250ms", "5s", "1m", "2h", "1d"); "0" alone is zero. Returns 0, or
 * -1 on anything else (no unit, unknown unit, overflow, negative).
 */
int fx_duration_parse(const char *s, int64_t *ms);

/*
 * Formats a duration as its shortest exact form ("90s" -> "90s", 60000 ->
 * "1m", 0 -> "0") into buf of n bytes. Returns the length it needs, as
 * snprintf does (it is truncated if that is n or more).
 */
size_t fx_duration_format(int64_t ms, char *buf, size_t n);

#endif
