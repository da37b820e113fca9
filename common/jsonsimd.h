/*
 * jsonsimd.h - the record scanner's vector path: json_scan() on x86-64 CPUs
 * with AVX2, PCLMULQDQ and BMI2, chosen at run time.
 *
 * simdjson's algorithm, in C, for one record at a time. Stage 1 classifies
 * 64-byte blocks with AVX2: backslashes and quotes give the escaped
 * characters and, by a carry-less multiply, the bytes inside strings; the
 * structural characters outside strings, every unescaped quote and the
 * first byte of each number or literal go to an index of positions, and
 * control characters, bad escapes and invalid UTF-8 are found on the way.
 * Stage 2 walks the index with the grammar of json.c (numbers and literals
 * are checked there) and extracts the fields the same way.
 *
 * Why not Debian's libsimdjson (C++, 3.0.1) behind a C shim: a C++ runtime
 * in every program for one function; its error positions are not ours (the
 * messages give byte offsets: "invalid JSON: bad escape in string at byte
 * 12"); its On-Demand API extracts fields by walking the document again per
 * field; and the per-record work is small (a record is ~200 bytes), where
 * its per-document setup weighs. Here the vector path only says "valid,
 * and here are the fields" or "not sure": every invalid or unusual record
 * (and every record on a CPU without AVX2) goes to the portable scanner in
 * json.c, which says what is wrong and where. So messages, offsets and
 * results are those of json.c by construction, and the unit tests and the
 * fuzzer compare the two paths.
 */
#ifndef FX_JSONSIMD_H
#define FX_JSONSIMD_H

#include "json.h"

/* json_simd_scan()'s answer when the portable scanner must decide */
#define JSON_SIMD_UNSURE (-100)

/* 1 if the CPU has AVX2, PCLMULQDQ and BMI2, else 0. */
int json_simd_cpu(void);

/*
 * json_simd_cpu(), unless the environment says FX_SIMD=off (the switch for
 * tests, and for a suspected bug in this path).
 */
int json_simd_usable(void);

/*
 * json_scan() on the vector path (json_simd_usable() must be true): the
 * same result and vals for a valid text, JSON_SIMD_UNSURE otherwise (vals
 * then undefined). Reads only the n bytes at p.
 */
int json_simd_scan(struct json_scanner *sc, const struct json_paths *ps,
                   const char *p, size_t n, struct json_value *vals, int flags);

#endif
