/*
 * base64.h - base64 with the standard alphabet and padding (RFC 4648), for
 * bytes that must travel inside JSON strings: dead-letter raw bytes, Kafka
 * keys that are not text, sketch states.
 */
#ifndef FX_BASE64_H
#define FX_BASE64_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>

/* Appends the encoding of n bytes at data to out. */
void base64_encode(struct fx_buf *out, const void *data, size_t n);

/*
 * Decodes n base64 characters into out (room for n / 4 * 3 bytes). Only
 * the canonical form is accepted (padded, unused bits zero), so that one
 * value has one encoding. Returns the byte count, or -1.
 */
long base64_decode(const char *s, size_t n, uint8_t *out);

#endif
