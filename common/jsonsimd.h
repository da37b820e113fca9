/*
 * jsonsimd.h - the record scanner's vector path: validation of a record on
 * x86-64 CPUs with AVX2, PCLMULQDQ and BMI2, chosen at run time.
 *
 * simdjson's stage 1, in C, over 64-byte blocks: backslashes and quotes give
 * the escaped bytes and, by a carry-less multiply, the bytes inside strings;
 * control characters, bad escapes and (for blocks with bytes >= 0x80) UTF-8
 * are checked on the way. In place of simdjson's stage 2 (an index of
 * structural positions walked by a state machine), the grammar is checked
 * on the bits too: for each kind of token, the next byte that is not
 * whitespace outside a string must be one of a few kinds (an add carries
 * each token's bit along the whitespace after it); the braces' depth is
 * counted and numbers and literals are read one by one, and digit-only
 * numbers need no reading.
 *
 * Why this and not the other options, measured on the benchmark's records
 * (~180 bytes, ~45 tokens each, one core):
 *   - simdjson's two stages in C (written first): building the index costs
 *     about as much as the portable scanner's whole pass, and walking it
 *     as much again: slower than json.c on records this small and dense.
 *   - Debian's libsimdjson (C++, 3.0.1) behind a C shim: a C++ runtime in
 *     every program for one function, a per-document setup that weighs on
 *     200-byte records, its own error positions (ours give byte offsets:
 *     "invalid JSON: bad escape in string at byte 12"), and field
 *     extraction by walking the document again per field.
 * Measured (Zen 3, 2.45 GHz, one core, CPU time, best of 15, the 1,000,000
 * plays of build/gen-plays -s 1): this path validates 1.44 GB/s, json.c
 * 1.15 GB/s; about 1,300 instructions a 180-byte record at 4 a cycle, so
 * more speed needs fewer instructions a block, not better scheduling.
 * Whole buffers (json_simd_lines, the second round): a program that
 * passes records through (fx-consume's NDJSON copy, fx-sink to stdout or
 * --file) validates a read buffer's lines as one text: a '\n' outside a
 * string ends a record (the depth is 0 there, the next line starts with
 * '{'), the '\n' bits count the lines, and the good lines go out in one
 * write, with no per-record call, line search or copy. With no whitespace
 * between a block's tokens (machine-made NDJSON) the rules' adds are
 * shifts. Measured on the same records (one core, CPU time, best of 7,
 * 1 MB buffers of the 2,000,000 plays of build/gen-plays -s 1): 1.9 GB/s,
 * about 410 instructions a 64-byte block (callgrind), against 1.4 GB/s a
 * record at a time. Third round (callgrind, 20 MB of the same plays):
 * gcc 12 rebuilt every _mm256_set1_epi8() constant in registers in every
 * block and computed the spaced grammar's values before the branch that
 * machine-made NDJSON never takes, spilling both: constants from memory
 * and that grammar out of line took 410 instructions a block to 342
 * (clang 14 makes 346 of the same source), 2.0-2.2 GB/s a core under
 * load. What is left is the 11 byte classes (two compares and two
 * movemasks each) and the grammar's carries; merging the rare classes
 * (backslash, control, space, >= 0x80) into one test saved under 1%.
 * Fourth round: the classes are computed where the grammar uses them,
 * not all thirteen first (they outnumbered the registers: 99 of the 342
 * instructions a block were spills and reloads, 84 now), and the spaced
 * grammar gets a copy of the block, so that the block's own stays in
 * registers; the same number of instructions, best time on 20 MB of
 * plays 10.0 -> 8.3 ms (alternating runs of both builds, best of 120).
 * With whole lines, what follows a record's last '}' is read at that
 * brace and what begins a line at its '\n' (once a record each) instead
 * of carried through every block: 107.2M -> 100.6M instructions on those
 * 20 MB.
 * One field of records validated a buffer at a time (fx-sink --key to
 * Kafka, json_object_get): in a record with no backslash, '[' or second
 * '{', every quote opens or closes a string, so "NAME" then ':' is the
 * key wherever it is: a 32-byte compare for the quote, the name's first
 * byte and the closing quote (json_simd_flat_key), ~400 instructions a
 * 180-byte record against ~1,500 for json_scan() with the path (which
 * also validates) and ~640 for the same search 16 bytes at a time with
 * SSE2 (written first, dropped: without AVX2, json.c walks the members).
 * The vector path only says "valid" or "not sure". Every record it is not
 * sure of (invalid ones, arrays, keys starting with "_" for the _fx flags,
 * records whose fields are to be extracted) and every record on a CPU
 * without AVX2 goes to the portable scanner in json.c, which alone says
 * what is wrong and where: messages, offsets and results are json.c's by
 * construction, and tests/unit/test_jsonsimd.c and the fuzzer compare the
 * two.
 */
#ifndef FX_JSONSIMD_H
#define FX_JSONSIMD_H

#include <stddef.h>
#include <stdint.h>

/* json_simd_validate()'s answer when the portable scanner must decide */
#define JSON_SIMD_UNSURE (-100)

/* 1 if the CPU has AVX2, PCLMULQDQ, BMI1, BMI2 and POPCNT, else 0. */
int json_simd_cpu(void);

/*
 * json_simd_cpu(), unless the environment says FX_SIMD=off (the switch for
 * tests, and for a suspected bug in this path).
 */
int json_simd_usable(void);

/*
 * 0 if the n bytes at p are one JSON object (whitespace around it allowed)
 * in which no key starts with "_" and no array occurs, so that json_scan()
 * would return 0; JSON_SIMD_UNSURE otherwise. Reads only the n bytes at p.
 * json_simd_cpu() must be true.
 */
int json_simd_validate(const char *p, size_t n);

/*
 * Whole NDJSON lines at once: the n bytes at p are lines, each ending
 * with '\n'. Returns the length of the longest prefix of them (0 to n,
 * a line end) made only of lines that are each, without their '\n', one
 * JSON object json_simd_validate() takes (so json_scan() returns 0),
 * at most max_len bytes long and not ending in '\r'; *lines is their
 * count. Blank lines and every line it is not sure of end the prefix.
 * Reads only the n bytes at p. json_simd_cpu() must be true.
 */
size_t json_simd_lines(const char *p, size_t n, size_t max_len,
                       uint64_t *lines);

/*
 * json_object_get()'s search in a flat record (json.c): the n bytes at p,
 * a record's after its '{', hold no backslash, '[' or '{'? Then 0, with
 * *colon at the ':' after the last "NAME" (name, len bytes, 1 to 62,
 * its first byte not one that may follow a closing quote) followed by
 * blanks and ':', or NULL; else -1. 32 bytes at a time. Reads only the n
 * bytes at p. json_simd_cpu() must be true.
 */
int json_simd_flat_key(const char *p, size_t n, const char *name, size_t len,
                       const char **colon);

#endif
