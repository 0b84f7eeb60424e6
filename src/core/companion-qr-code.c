/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-qr-code"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <png.h>
#include <qrencode.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "companion-qr-code.h"

struct _CompanionQrCode
{
  GObject  parent_instance;

  guint    width;
  guint    version;
  guint8  *modules; /* width × width, 1 = dark */
};

G_DEFINE_FINAL_TYPE (CompanionQrCode, companion_qr_code, G_TYPE_OBJECT)
G_DEFINE_QUARK (companion-qr-error-quark, companion_qr_error)

static void
companion_qr_code_finalize (GObject *object)
{
  CompanionQrCode *self = COMPANION_QR_CODE (object);

  /* The modules spell out the pairing secret. */
  if (self->modules != NULL)
    memset (self->modules, 0, (gsize) self->width * self->width);
  g_clear_pointer (&self->modules, g_free);

  G_OBJECT_CLASS (companion_qr_code_parent_class)->finalize (object);
}

static void
companion_qr_code_class_init (CompanionQrCodeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = companion_qr_code_finalize;
}

static void
companion_qr_code_init (CompanionQrCode *self)
{
}

CompanionQrCode *
companion_qr_code_new (const char *text,
                       GError    **error)
{
  CompanionQrCode *self;
  QRcode *code;

  g_return_val_if_fail (text != NULL, NULL);

  /* Case-sensitive, or libqrencode uppercases the text; it still picks
   * alphanumeric mode for runs that allow it. */
  code = QRcode_encodeString (text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  if (code == NULL)
    {
      int saved = errno;
      g_set_error (error, COMPANION_QR_ERROR, COMPANION_QR_ERROR_ENCODE_FAILED,
                   "Cannot make a QR code of %" G_GSIZE_FORMAT " characters: %s",
                   strlen (text), g_strerror (saved));
      return NULL;
    }

  self = g_object_new (COMPANION_TYPE_QR_CODE, NULL);
  self->width = (guint) code->width;
  self->version = (guint) code->version;
  self->modules = g_malloc ((gsize) self->width * self->width);
  for (gsize i = 0; i < (gsize) self->width * self->width; i++)
    self->modules[i] = code->data[i] & 1;

  memset (code->data, 0, (gsize) code->width * code->width);
  QRcode_free (code);
  return self;
}

guint
companion_qr_code_get_width (CompanionQrCode *self)
{
  g_return_val_if_fail (COMPANION_IS_QR_CODE (self), 0);
  return self->width;
}

guint
companion_qr_code_get_version (CompanionQrCode *self)
{
  g_return_val_if_fail (COMPANION_IS_QR_CODE (self), 0);
  return self->version;
}

gboolean
companion_qr_code_is_dark (CompanionQrCode *self,
                           guint            x,
                           guint            y)
{
  g_return_val_if_fail (COMPANION_IS_QR_CODE (self), FALSE);

  if (x >= self->width || y >= self->width)
    return FALSE;
  return self->modules[(gsize) y * self->width + x] != 0;
}

GBytes *
companion_qr_code_render_gray (CompanionQrCode *self,
                               guint            scale,
                               guint           *size_out)
{
  guint modules, size;
  guint8 *pixels;

  g_return_val_if_fail (COMPANION_IS_QR_CODE (self), NULL);
  g_return_val_if_fail (scale >= 1 && scale <= 64, NULL);

  modules = self->width + 2 * COMPANION_QR_QUIET_ZONE;
  size = modules * scale;
  pixels = g_malloc ((gsize) size * size);
  memset (pixels, 0xff, (gsize) size * size);

  for (guint y = 0; y < self->width; y++)
    for (guint x = 0; x < self->width; x++)
      {
        if (!self->modules[(gsize) y * self->width + x])
          continue;
        for (guint dy = 0; dy < scale; dy++)
          {
            gsize row = (gsize) ((y + COMPANION_QR_QUIET_ZONE) * scale + dy) * size;
            memset (pixels + row + (x + COMPANION_QR_QUIET_ZONE) * scale, 0x00, scale);
          }
      }

  if (size_out != NULL)
    *size_out = size;
  return g_bytes_new_take (pixels, (gsize) size * size);
}

gboolean
companion_qr_code_write_png (CompanionQrCode *self,
                             const char      *path,
                             guint            scale,
                             GError         **error)
{
  g_autoptr(GBytes) gray = NULL;
  g_autofree char *tmp_path = NULL;
  png_image image;
  guint size = 0;
  FILE *file;
  int fd;
  int ok;

  g_return_val_if_fail (COMPANION_IS_QR_CODE (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  gray = companion_qr_code_render_gray (self, scale, &size);

  tmp_path = g_strdup_printf ("%s.XXXXXX", path);
  fd = g_mkstemp_full (tmp_path, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, COMPANION_QR_ERROR, COMPANION_QR_ERROR_WRITE_FAILED,
                   "Cannot write the QR image next to “%s”: %s", path, g_strerror (saved));
      return FALSE;
    }
  file = fdopen (fd, "wb");
  g_assert (file != NULL);

  memset (&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = size;
  image.height = size;
  image.format = PNG_FORMAT_GRAY;
  ok = png_image_write_to_stdio (&image, file, 0, g_bytes_get_data (gray, NULL), (png_int_32) size, NULL);
  ok = ok && fflush (file) == 0 && fsync (fileno (file)) == 0;
  if (fclose (file) != 0)
    ok = FALSE;

  if (!ok || g_rename (tmp_path, path) != 0)
    {
      int saved = errno;
      g_set_error (error, COMPANION_QR_ERROR, COMPANION_QR_ERROR_WRITE_FAILED,
                   "Cannot write the QR image “%s”: %s", path,
                   image.warning_or_error & PNG_IMAGE_ERROR ? image.message : g_strerror (saved));
      g_unlink (tmp_path);
      png_image_free (&image);
      return FALSE;
    }

  png_image_free (&image);
  return TRUE;
}

char *
companion_qr_code_to_terminal_text (CompanionQrCode *self,
                                    gboolean         ansi_colors)
{
  GString *out;
  int quiet = COMPANION_QR_QUIET_ZONE;
  int last = (int) self->width + quiet;

  g_return_val_if_fail (COMPANION_IS_QR_CODE (self), NULL);

  out = g_string_new (NULL);
  for (int y = -quiet; y < last; y += 2)
    {
      if (ansi_colors)
        g_string_append (out, "\033[30;107m");
      for (int x = -quiet; x < last; x++)
        {
          gboolean top = x >= 0 && y >= 0 && companion_qr_code_is_dark (self, x, y);
          gboolean bottom = x >= 0 && y + 1 >= 0 && y + 1 < (int) self->width &&
                            companion_qr_code_is_dark (self, x, y + 1);

          /* Without colours, draw the light modules (for dark terminals). */
          if (!ansi_colors)
            {
              top = !top;
              bottom = !bottom;
            }
          if (top && bottom)
            g_string_append (out, "█");
          else if (top)
            g_string_append (out, "▀");
          else if (bottom)
            g_string_append (out, "▄");
          else
            g_string_append_c (out, ' ');
        }
      if (ansi_colors)
        g_string_append (out, "\033[0m");
      g_string_append_c (out, '\n');
    }

  return g_string_free (out, FALSE);
}
