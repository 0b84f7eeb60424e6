/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Larger images are refused before any pixel is decoded. */
#define COMPANION_QR_SCANNER_MAX_SIDE   8192
#define COMPANION_QR_SCANNER_MAX_PIXELS (40u * 1000u * 1000u)

/* Every QR code found in an 8-bit gray image, as GBytes (raw, binary mode),
 * in the order zbar reports them. Fails with COMPANION_QR_ERROR_NO_CODE when
 * there is none. */
GPtrArray *companion_qr_scanner_scan_gray (const guint8 *pixels,
                                           guint         width,
                                           guint         height,
                                           GError      **error);
/* The same for a PNG file (any PNG colour type; alpha is put on white). */
GPtrArray *companion_qr_scanner_scan_file (const char   *path,
                                           GError      **error);

G_END_DECLS
