/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* RFC 4648 base32, uppercase alphabet, no padding: every character is in the
 * QR alphanumeric set, which keeps the pairing QR code small. */
gsize   companion_base32_encoded_length (gsize n_bytes);
char   *companion_base32_encode         (const guint8 *data,
                                         gsize         len);
/* Returns FALSE on a character outside the alphabet or a non-canonical tail. */
gboolean companion_base32_decode        (const char   *text,
                                         gsize         text_len,
                                         GByteArray   *out);

G_END_DECLS
