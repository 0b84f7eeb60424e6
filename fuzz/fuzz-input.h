/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include <sodium.h>
#include <stdlib.h>

#include "companion-core.h"

/* Reads a fuzzer input front to back: bytes, big-endian integers and
 * length-prefixed pieces; past the end every read gives zeros / empty, so a
 * target never needs to check the length itself. */
typedef struct
{
  const guint8 *data;
  gsize         left;
} FuzzInput;

static inline guint8
fuzz_input_byte (FuzzInput *in)
{
  guint8 b;

  if (in->left == 0)
    return 0;
  b = in->data[0];
  in->data++;
  in->left--;
  return b;
}

static inline guint16
fuzz_input_u16 (FuzzInput *in)
{
  guint16 hi = fuzz_input_byte (in);

  return (guint16) (hi << 8 | fuzz_input_byte (in));
}

static inline guint64
fuzz_input_u64 (FuzzInput *in)
{
  guint64 v = 0;

  for (guint i = 0; i < 8; i++)
    v = v << 8 | fuzz_input_byte (in);
  return v;
}

/* A piece of up to LEN bytes (fewer when the input ends). */
static inline const guint8 *
fuzz_input_take (FuzzInput *in,
                 gsize      len,
                 gsize     *taken)
{
  const guint8 *start = in->data;

  *taken = MIN (len, in->left);
  in->data += *taken;
  in->left -= *taken;
  return start;
}

/* A piece with a 2-byte big-endian length before it. */
static inline const guint8 *
fuzz_input_piece (FuzzInput *in,
                  gsize     *taken)
{
  return fuzz_input_take (in, fuzz_input_u16 (in), taken);
}

/* Decodes a hex string of known keys into OUT (test-vector keys). */
static inline void
fuzz_hex (const char *hex,
          guint8     *out)
{
  for (gsize i = 0; hex[2 * i] != '\0'; i++)
    out[i] = (guint8) (g_ascii_xdigit_value (hex[2 * i]) << 4 | g_ascii_xdigit_value (hex[2 * i + 1]));
}

/* A critical or a warning is a finding: a g_return_if_fail that bad
 * input reached, or a failure the code did not expect. abort() rather than
 * GLib's breakpoint trap, which libFuzzer does not catch, so the input is
 * saved. Debug and info messages are dropped: they cost time. */
static inline GLogWriterOutput
fuzz_log_writer (GLogLevelFlags   level,
                 const GLogField *fields,
                 gsize            n_fields,
                 gpointer         user_data)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    {
      g_log_writer_standard_streams (level, fields, n_fields, user_data);
      abort ();
    }
  return G_LOG_WRITER_HANDLED;
}

/* libsodium and the rest of the core, once per process, as every program
 * of the project starts. */
static inline void
fuzz_init (void)
{
  static gboolean done;

  if (!done)
    {
      g_log_set_writer_func (fuzz_log_writer, NULL, NULL);
      g_assert (companion_core_init (NULL));
      done = TRUE;
    }
}

/* The keys of the cacophony test vectors (tests/data/noise-vectors), for
 * targets whose handshakes must reproduce exactly: statics, ephemerals
 * (private), the statics' public keys, and the PSK. */
typedef struct
{
  guint8 init_static[32], resp_static[32];
  guint8 init_ephemeral[32], resp_ephemeral[32];
  guint8 init_public[32], resp_public[32];
  guint8 psk[32];
} FuzzKeys;

static inline const FuzzKeys *
fuzz_keys (void)
{
  static FuzzKeys keys;
  static gboolean done;

  if (!done)
    {
      fuzz_init ();
      fuzz_hex ("e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1", keys.init_static);
      fuzz_hex ("4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893", keys.resp_static);
      fuzz_hex ("893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a", keys.init_ephemeral);
      fuzz_hex ("bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b", keys.resp_ephemeral);
      fuzz_hex ("54686973206973206d7920417573747269616e20706572737065637469766521", keys.psk);
      g_assert (crypto_scalarmult_base (keys.init_public, keys.init_static) == 0);
      g_assert (crypto_scalarmult_base (keys.resp_public, keys.resp_static) == 0);
      done = TRUE;
    }
  return &keys;
}
