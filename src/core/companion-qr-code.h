/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "companion-types.h"

G_BEGIN_DECLS

#define COMPANION_QR_ERROR (companion_qr_error_quark ())

typedef enum
{
  COMPANION_QR_ERROR_ENCODE_FAILED,
  COMPANION_QR_ERROR_WRITE_FAILED,
  COMPANION_QR_ERROR_UNREADABLE_IMAGE,
  COMPANION_QR_ERROR_IMAGE_TOO_LARGE,
  COMPANION_QR_ERROR_NO_CODE,
} CompanionQrError;

/* The white border around a code, in modules, as the QR standard asks. */
#define COMPANION_QR_QUIET_ZONE 4

#define COMPANION_TYPE_QR_CODE (companion_qr_code_get_type ())

G_DECLARE_FINAL_TYPE (CompanionQrCode, companion_qr_code, COMPANION, QR_CODE, GObject)

GQuark           companion_qr_error_quark           (void);

CompanionQrCode *companion_qr_code_new              (const char      *text,
                                                     GError         **error);
guint            companion_qr_code_get_width        (CompanionQrCode *self);
guint            companion_qr_code_get_version      (CompanionQrCode *self);
gboolean         companion_qr_code_is_dark          (CompanionQrCode *self,
                                                     guint            x,
                                                     guint            y);
/* 8-bit gray, black on white, quiet zone included, SCALE pixels a module;
 * width and height are (width + 2 × quiet zone) × scale. */
GBytes          *companion_qr_code_render_gray      (CompanionQrCode *self,
                                                     guint            scale,
                                                     guint           *size_out);
/* Written 0600 to a temporary file and renamed over PATH. */
gboolean         companion_qr_code_write_png        (CompanionQrCode *self,
                                                     const char      *path,
                                                     guint            scale,
                                                     GError         **error);
/* Two modules a character with Unicode half blocks. With ANSI, dark modules
 * are drawn black on a white background whatever the terminal's colours. */
char            *companion_qr_code_to_terminal_text (CompanionQrCode *self,
                                                     gboolean         ansi_colors);

G_END_DECLS
