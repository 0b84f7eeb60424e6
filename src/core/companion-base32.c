/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-base32"

#include "config.h"

#include "companion-base32.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

gsize
companion_base32_encoded_length (gsize n_bytes)
{
  return (n_bytes * 8 + 4) / 5;
}

char *
companion_base32_encode (const guint8 *data,
                         gsize         len)
{
  GString *out = g_string_sized_new (companion_base32_encoded_length (len) + 1);
  guint32 buffer = 0;
  guint bits = 0;

  for (gsize i = 0; i < len; i++)
    {
      buffer = (buffer << 8) | data[i];
      bits += 8;
      while (bits >= 5)
        {
          g_string_append_c (out, alphabet[(buffer >> (bits - 5)) & 0x1f]);
          bits -= 5;
        }
    }
  if (bits > 0)
    g_string_append_c (out, alphabet[(buffer << (5 - bits)) & 0x1f]);

  return g_string_free (out, FALSE);
}

static int
decode_char (char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= '2' && c <= '7')
    return c - '2' + 26;
  return -1;
}

gboolean
companion_base32_decode (const char *text,
                         gsize       text_len,
                         GByteArray *out)
{
  guint32 buffer = 0;
  guint bits = 0;

  g_return_val_if_fail (text != NULL || text_len == 0, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  /* A length of 1, 3 or 6 mod 8 can never come from whole bytes. */
  switch (text_len % 8)
    {
    case 1: case 3: case 6:
      return FALSE;
    default:
      break;
    }

  for (gsize i = 0; i < text_len; i++)
    {
      int v = decode_char (text[i]);

      if (v < 0)
        return FALSE;
      buffer = ((buffer << 5) | (guint32) v) & 0xffff;
      bits += 5;
      if (bits >= 8)
        {
          guint8 byte = (buffer >> (bits - 8)) & 0xff;
          g_byte_array_append (out, &byte, 1);
          bits -= 8;
        }
    }

  /* Leftover bits must be zero, so every byte string has one encoding. */
  if (bits > 0 && (buffer & ((1u << bits) - 1)) != 0)
    return FALSE;

  return TRUE;
}
