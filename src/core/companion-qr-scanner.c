/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-qr-scanner"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <png.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zbar.h>

#include "companion-qr-code.h"
#include "companion-qr-scanner.h"

/* Files larger than this cannot be a reasonable screenshot or photo. */
#define MAX_FILE_SIZE (64 * 1024 * 1024)

/* A scanned code's text: a pairing payload holds a secret, so it is wiped
 * when the last reference goes. */
typedef struct
{
  gsize  len;
  guint8 data[];
} ScannedText;

static void
scanned_text_free (gpointer user_data)
{
  ScannedText *text = user_data;

  sodium_memzero (text->data, text->len);
  g_free (text);
}

GPtrArray *
companion_qr_scanner_scan_gray (const guint8 *pixels,
                                guint         width,
                                guint         height,
                                GError      **error)
{
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  zbar_image_scanner_t *scanner;
  zbar_image_t *image;
  int n;

  g_return_val_if_fail (pixels != NULL, NULL);

  if (width == 0 || height == 0 || width > COMPANION_QR_SCANNER_MAX_SIDE ||
      height > COMPANION_QR_SCANNER_MAX_SIDE ||
      (guint64) width * height > COMPANION_QR_SCANNER_MAX_PIXELS)
    {
      g_set_error (error, COMPANION_QR_ERROR, COMPANION_QR_ERROR_IMAGE_TOO_LARGE,
                   "An image of %u×%u pixels is empty or too large to scan (at most %u×%u)",
                   width, height, COMPANION_QR_SCANNER_MAX_SIDE, COMPANION_QR_SCANNER_MAX_SIDE);
      return NULL;
    }

  scanner = zbar_image_scanner_create ();
  /* QR only; binary so zbar hands back the bytes without re-encoding them;
   * inverted so light-on-dark codes are found too. */
  zbar_image_scanner_set_config (scanner, ZBAR_NONE, ZBAR_CFG_ENABLE, 0);
  zbar_image_scanner_set_config (scanner, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1);
  zbar_image_scanner_set_config (scanner, ZBAR_QRCODE, ZBAR_CFG_BINARY, 1);
  zbar_image_scanner_set_config (scanner, ZBAR_NONE, ZBAR_CFG_TEST_INVERTED, 1);

  image = zbar_image_create ();
  zbar_image_set_format (image, zbar_fourcc ('Y', '8', '0', '0'));
  zbar_image_set_size (image, width, height);
  zbar_image_set_data (image, pixels, (unsigned long) width * height, NULL);

  n = zbar_scan_image (scanner, image);
  if (n > 0)
    {
      for (const zbar_symbol_t *symbol = zbar_image_first_symbol (image);
           symbol != NULL;
           symbol = zbar_symbol_next (symbol))
        {
          if (zbar_symbol_get_type (symbol) != ZBAR_QRCODE)
            continue;
          gsize len = zbar_symbol_get_data_length (symbol);
          ScannedText *copy = g_malloc (sizeof (ScannedText) + len);

          copy->len = len;
          memcpy (copy->data, zbar_symbol_get_data (symbol), len);
          g_ptr_array_add (found, g_bytes_new_with_free_func (copy->data, len, scanned_text_free, copy));
        }
    }

  zbar_image_destroy (image);
  zbar_image_scanner_destroy (scanner);

  if (found->len == 0)
    {
      g_set_error_literal (error, COMPANION_QR_ERROR, COMPANION_QR_ERROR_NO_CODE,
                           "No QR code was found");
      return NULL;
    }
  return g_steal_pointer (&found);
}

GPtrArray *
companion_qr_scanner_scan_file (const char *path,
                                GError    **error)
{
  g_autoptr(GMappedFile) mapped = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree guint8 *pixels = NULL;
  g_autofree char *display = NULL;
  png_color background = { 255, 255, 255 };
  png_image image;
  GPtrArray *found;
  GStatBuf st;
  gsize length;
  int fd;

  g_return_val_if_fail (path != NULL, NULL);

  display = g_filename_display_name (path);
  fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0 || fstat (fd, &st) != 0)
    {
      int saved = errno;
      g_set_error (error, COMPANION_QR_ERROR, COMPANION_QR_ERROR_UNREADABLE_IMAGE,
                   "Cannot read the image “%s”: %s", display, g_strerror (saved));
      if (fd >= 0)
        close (fd);
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, COMPANION_QR_ERROR, COMPANION_QR_ERROR_UNREADABLE_IMAGE,
                   "Cannot read the image “%s”: it is not a regular file", display);
      return NULL;
    }
  if (st.st_size > MAX_FILE_SIZE)
    {
      close (fd);
      g_set_error (error, COMPANION_QR_ERROR, COMPANION_QR_ERROR_IMAGE_TOO_LARGE,
                   "The image “%s” is larger than %u MiB", display, MAX_FILE_SIZE / (1024 * 1024));
      return NULL;
    }
  mapped = st.st_size > 0 ? g_mapped_file_new_from_fd (fd, FALSE, &local_error) : NULL;
  close (fd);
  if (st.st_size > 0 && mapped == NULL)
    {
      g_set_error (error, COMPANION_QR_ERROR, COMPANION_QR_ERROR_UNREADABLE_IMAGE,
                   "Cannot read the image “%s”: %s", display, local_error->message);
      return NULL;
    }
  length = mapped != NULL ? g_mapped_file_get_length (mapped) : 0;

  memset (&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (length == 0 ||
      !png_image_begin_read_from_memory (&image, g_mapped_file_get_contents (mapped), length))
    {
      g_set_error (error, COMPANION_QR_ERROR, COMPANION_QR_ERROR_UNREADABLE_IMAGE,
                   "“%s” is not a PNG image%s%s", display,
                   length == 0 ? " (the file is empty)" : ": ",
                   length == 0 ? "" : image.message);
      png_image_free (&image);
      return NULL;
    }

  if (image.width == 0 || image.height == 0 ||
      image.width > COMPANION_QR_SCANNER_MAX_SIDE || image.height > COMPANION_QR_SCANNER_MAX_SIDE ||
      (guint64) image.width * image.height > COMPANION_QR_SCANNER_MAX_PIXELS)
    {
      g_set_error (error, COMPANION_QR_ERROR, COMPANION_QR_ERROR_IMAGE_TOO_LARGE,
                   "The image “%s” is %u×%u pixels; at most %u×%u can be scanned",
                   display, image.width, image.height,
                   COMPANION_QR_SCANNER_MAX_SIDE, COMPANION_QR_SCANNER_MAX_SIDE);
      png_image_free (&image);
      return NULL;
    }

  image.format = PNG_FORMAT_GRAY;
  pixels = g_malloc ((gsize) image.width * image.height);
  if (!png_image_finish_read (&image, &background, pixels, (png_int_32) image.width, NULL))
    {
      g_set_error (error, COMPANION_QR_ERROR, COMPANION_QR_ERROR_UNREADABLE_IMAGE,
                   "The PNG image “%s” is damaged: %s", display, image.message);
      png_image_free (&image);
      return NULL;
    }

  found = companion_qr_scanner_scan_gray (pixels, image.width, image.height, &local_error);
  png_image_free (&image);
  if (found == NULL)
    {
      g_set_error (error, local_error->domain, local_error->code, "%s in “%s”",
                   local_error->message, display);
      return NULL;
    }
  return found;
}
