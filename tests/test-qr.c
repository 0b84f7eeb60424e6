/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gstdio.h>
#include <png.h>
#include <string.h>
#include <sys/stat.h>

#include "companion-core.h"
#include "companion-network.h"
#include "companion-pairing-offer.h"
#include "companion-pairing-payload.h"
#include "companion-qr-code.h"
#include "companion-qr-scanner.h"

/* The longest payload we can make: an IPv4 and an IPv6 address. */
static char *
longest_payload_text (void)
{
  g_autoptr(GPtrArray) addresses = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(CompanionPairingOffer) offer = NULL;
  g_autoptr(GError) error = NULL;

  g_ptr_array_add (addresses, companion_network_parse_listen_address ("255.255.255.254:65535", NULL));
  g_ptr_array_add (addresses, companion_network_parse_listen_address ("[2001:db8:ffff::fffe]:65535", NULL));
  offer = companion_pairing_offer_new (addresses, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (companion_pairing_payload_get_addresses (companion_pairing_offer_get_payload (offer))->len, ==, 2);
  return companion_pairing_payload_to_string (companion_pairing_offer_get_payload (offer));
}

static char *
tmp_path (const char *name)
{
  return g_build_filename (g_get_tmp_dir (), name, NULL);
}

static void
test_version_limit (void)
{
  g_autofree char *text = longest_payload_text ();
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionQrCode) code = companion_qr_code_new (text, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (strlen (text), <=, COMPANION_PAIRING_PAYLOAD_MAX_LENGTH);
  /* Design limit: version 8 at ECC level M. */
  g_assert_cmpuint (companion_qr_code_get_version (code), <=, 8);
  g_assert_cmpuint (companion_qr_code_get_width (code), ==, 17 + 4 * companion_qr_code_get_version (code));
}

static void
test_png_round_trip (void)
{
  g_autofree char *text = longest_payload_text ();
  g_autofree char *path = tmp_path ("round-trip.png");
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionQrCode) code = companion_qr_code_new (text, &error);
  /* zbar needs about 1.6 pixels a module (NOTES.md), so 2 is the floor. */
  const guint scales[] = { 2, 3, 4, 8, 16 };

  g_assert_no_error (error);
  for (gsize i = 0; i < G_N_ELEMENTS (scales); i++)
    {
      g_autoptr(GPtrArray) found = NULL;
      g_autoptr(CompanionPairingPayload) payload = NULL;
      g_autofree char *back = NULL;
      GStatBuf st;

      g_test_message ("scale %u", scales[i]);
      g_assert_true (companion_qr_code_write_png (code, path, scales[i], &error));
      g_assert_no_error (error);
      g_assert_cmpint (g_stat (path, &st), ==, 0);
      g_assert_cmpint (st.st_mode & 0777, ==, 0600);

      found = companion_qr_scanner_scan_file (path, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (found->len, ==, 1);
      g_assert_cmpmem (g_bytes_get_data (g_ptr_array_index (found, 0), NULL),
                       g_bytes_get_size (g_ptr_array_index (found, 0)), text, strlen (text));
      payload = companion_pairing_payload_parse_scanned (found, &error);
      g_assert_no_error (error);
      back = companion_pairing_payload_to_string (payload);
      g_assert_cmpstr (back, ==, text);
    }

  /* Replaced atomically: no temporary file is left beside it. */
  {
    g_autofree char *dir = g_path_get_dirname (path);
    g_autoptr(GDir) listing = g_dir_open (dir, 0, NULL);
    const char *name;
    guint n = 0;

    while ((name = g_dir_read_name (listing)) != NULL)
      if (g_str_has_prefix (name, "round-trip.png"))
        n++;
    g_assert_cmpuint (n, ==, 1);
  }
  g_unlink (path);
}

static void
test_render_gray (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionQrCode) code = companion_qr_code_new ("CPN1/TEST", &error);
  g_autoptr(GBytes) gray = NULL;
  const guint8 *pixels;
  guint size = 0, width;

  g_assert_no_error (error);
  width = companion_qr_code_get_width (code);
  gray = companion_qr_code_render_gray (code, 3, &size);
  pixels = g_bytes_get_data (gray, NULL);
  g_assert_cmpuint (size, ==, (width + 2 * COMPANION_QR_QUIET_ZONE) * 3);
  g_assert_cmpuint (g_bytes_get_size (gray), ==, (gsize) size * size);
  /* Quiet zone is white; the top-left finder's corner module is black. */
  for (guint i = 0; i < COMPANION_QR_QUIET_ZONE * 3; i++)
    g_assert_cmpuint (pixels[(gsize) i * size + i], ==, 0xff);
  g_assert_cmpuint (pixels[(gsize) (COMPANION_QR_QUIET_ZONE * 3) * size + COMPANION_QR_QUIET_ZONE * 3], ==, 0x00);
  g_assert_true (companion_qr_code_is_dark (code, 0, 0));
  g_assert_false (companion_qr_code_is_dark (code, width, 0));
}

static void
test_terminal_text (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionQrCode) code = companion_qr_code_new ("CPN1/TEST", &error);
  g_autofree char *plain = companion_qr_code_to_terminal_text (code, FALSE);
  g_autofree char *ansi = companion_qr_code_to_terminal_text (code, TRUE);
  g_auto(GStrv) lines = g_strsplit (plain, "\n", -1);
  guint across = companion_qr_code_get_width (code) + 2 * COMPANION_QR_QUIET_ZONE;

  g_assert_true (g_utf8_validate (plain, -1, NULL));
  /* Two module rows a line, one module a character. */
  g_assert_cmpuint (g_strv_length (lines) - 1, ==, (across + 1) / 2);
  for (guint i = 0; lines[i + 1] != NULL; i++)
    g_assert_cmpuint (g_utf8_strlen (lines[i], -1), ==, across);
  /* The first line is quiet zone: all light, drawn as full blocks. */
  g_assert_true (g_str_has_prefix (lines[0], "████"));
  g_assert_true (g_str_has_prefix (ansi, "\033[30;107m"));
  g_assert_nonnull (strstr (ansi, "\033[0m\n"));
}

static void
write_gray_png (const char   *path,
                const guint8 *pixels,
                guint         width,
                guint         height)
{
  png_image image = { 0 };

  image.version = PNG_IMAGE_VERSION;
  image.width = width;
  image.height = height;
  image.format = PNG_FORMAT_GRAY;
  g_assert_true (png_image_write_to_file (&image, path, 0, pixels, (png_int_32) width, NULL));
}

static void
test_scan_errors (void)
{
  g_autofree char *blank_path = tmp_path ("blank.png");
  g_autofree char *wide_path = tmp_path ("wide.png");
  g_autofree char *text_path = tmp_path ("not-a-png.png");
  g_autofree char *empty_path = tmp_path ("empty.png");
  g_autofree char *cut_path = tmp_path ("cut.png");
  g_autofree char *good_path = tmp_path ("good.png");
  g_autofree guint8 *blank = g_malloc (200 * 200);
  g_autofree guint8 *wide = g_malloc0 (9000);
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionQrCode) code = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;

  memset (blank, 0xff, 200 * 200);
  write_gray_png (blank_path, blank, 200, 200);
  g_assert_null (companion_qr_scanner_scan_file (blank_path, &error));
  g_assert_error (error, COMPANION_QR_ERROR, COMPANION_QR_ERROR_NO_CODE);
  g_assert_nonnull (strstr (error->message, "blank.png"));
  g_clear_error (&error);

  write_gray_png (wide_path, wide, 9000, 1);
  g_assert_null (companion_qr_scanner_scan_file (wide_path, &error));
  g_assert_error (error, COMPANION_QR_ERROR, COMPANION_QR_ERROR_IMAGE_TOO_LARGE);
  g_clear_error (&error);

  g_assert_true (g_file_set_contents (text_path, "hello, not an image", -1, NULL));
  g_assert_null (companion_qr_scanner_scan_file (text_path, &error));
  g_assert_error (error, COMPANION_QR_ERROR, COMPANION_QR_ERROR_UNREADABLE_IMAGE);
  g_clear_error (&error);

  g_assert_true (g_file_set_contents (empty_path, "", 0, NULL));
  g_assert_null (companion_qr_scanner_scan_file (empty_path, &error));
  g_assert_error (error, COMPANION_QR_ERROR, COMPANION_QR_ERROR_UNREADABLE_IMAGE);
  g_clear_error (&error);

  g_assert_null (companion_qr_scanner_scan_file ("/nonexistent/companion.png", &error));
  g_assert_error (error, COMPANION_QR_ERROR, COMPANION_QR_ERROR_UNREADABLE_IMAGE);
  g_clear_error (&error);

  g_assert_null (companion_qr_scanner_scan_file (g_get_tmp_dir (), &error));
  g_assert_error (error, COMPANION_QR_ERROR, COMPANION_QR_ERROR_UNREADABLE_IMAGE);
  g_clear_error (&error);

  /* A real PNG cut in half. */
  code = companion_qr_code_new ("CPN1/TEST", &error);
  g_assert_true (companion_qr_code_write_png (code, good_path, 4, &error));
  g_assert_true (g_file_get_contents (good_path, &contents, &length, NULL));
  g_assert_true (g_file_set_contents (cut_path, contents, length / 2, NULL));
  g_assert_null (companion_qr_scanner_scan_file (cut_path, &error));
  g_assert_error (error, COMPANION_QR_ERROR, COMPANION_QR_ERROR_UNREADABLE_IMAGE);
  g_clear_error (&error);

  g_assert_false (companion_qr_code_write_png (code, "/nonexistent/dir/qr.png", 4, &error));
  g_assert_error (error, COMPANION_QR_ERROR, COMPANION_QR_ERROR_WRITE_FAILED);
  g_clear_error (&error);

  g_unlink (blank_path);
  g_unlink (wide_path);
  g_unlink (text_path);
  g_unlink (empty_path);
  g_unlink (cut_path);
  g_unlink (good_path);
}

/* A screenshot-like image: the code small in a large gray frame, and light
 * on dark, as a dark-theme photo would give. */
static void
test_scan_in_context (void)
{
  g_autofree char *text = longest_payload_text ();
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionQrCode) code = companion_qr_code_new (text, &error);
  g_autoptr(GBytes) gray = NULL;
  g_autoptr(GPtrArray) found = NULL;
  g_autofree guint8 *canvas = NULL;
  const guint8 *pixels;
  guint size = 0, cw = 1280, ch = 800;

  g_assert_no_error (error);
  gray = companion_qr_code_render_gray (code, 2, &size);
  pixels = g_bytes_get_data (gray, NULL);
  canvas = g_malloc (cw * ch);
  memset (canvas, 0x30, cw * ch);
  for (guint y = 0; y < size; y++)
    for (guint x = 0; x < size; x++)
      canvas[(gsize) (y + 300) * cw + x + 700] = 255 - pixels[(gsize) y * size + x];

  found = companion_qr_scanner_scan_gray (canvas, cw, ch, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (g_ptr_array_index (found, 0), NULL),
                   g_bytes_get_size (g_ptr_array_index (found, 0)), text, strlen (text));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_assert_true (companion_core_init (NULL));

  g_test_add_func ("/qr/version-limit", test_version_limit);
  g_test_add_func ("/qr/png-round-trip", test_png_round_trip);
  g_test_add_func ("/qr/render-gray", test_render_gray);
  g_test_add_func ("/qr/terminal-text", test_terminal_text);
  g_test_add_func ("/qr/scan-errors", test_scan_errors);
  g_test_add_func ("/qr/scan-in-context", test_scan_in_context);

  return g_test_run ();
}
