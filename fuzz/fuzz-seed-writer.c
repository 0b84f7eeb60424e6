/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Writes the seeds only the project's own code can make: pairing payload
 * texts (companion_pairing_payload_to_string) and a QR code PNG of one
 * (companion_qr_code_write_png). Fixed keys, so the seeds do not change
 * when written again. Used by fuzz/make-seeds.py: fuzz-seed-writer DIR. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "companion-pairing-payload.h"
#include "companion-qr-code.h"
#include "fuzz-input.h"

static CompanionPairingPayload *
payload_with (const char *const *addresses)
{
  guint8 key[COMPANION_PAIRING_KEY_SIZE], psk[COMPANION_PAIRING_PSK_SIZE];
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) error = NULL;
  CompanionPairingPayload *payload;

  for (guint i = 0; i < sizeof key; i++)
    {
      key[i] = (guint8) (0x11 * (i % 15) + 1);
      psk[i] = (guint8) (0xa5 ^ i);
    }
  for (guint i = 0; addresses[i] != NULL; i += 2)
    g_ptr_array_add (list, g_inet_socket_address_new_from_string (addresses[i],
                                                                  (guint) atoi (addresses[i + 1])));
  payload = companion_pairing_payload_new (key, psk, list, &error);
  g_assert_no_error (error);
  return payload;
}

static void
write_text (const char *dir,
            const char *name,
            const char *text)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  g_assert (g_file_set_contents (path, text, (gssize) strlen (text), NULL));
}

int
main (int   argc,
      char *argv[])
{
  static const char *const one[] = { "192.168.1.20", "45123", NULL };
  static const char *const two[] = { "10.0.0.7", "8443", "fd12:3456:789a::5", "45123", NULL };
  g_autoptr(CompanionPairingPayload) b = NULL, c = NULL;
  g_autofree char *tb = NULL, *tc = NULL;
  g_autofree char *payload_dir = NULL, *qr_dir = NULL, *png = NULL;
  g_autoptr(CompanionQrCode) code = NULL;
  g_autoptr(GError) error = NULL;

  fuzz_init ();
  if (argc != 2)
    {
      fprintf (stderr, "usage: %s CORPUS_DIR\n", argv[0]);
      return 2;
    }
  payload_dir = g_build_filename (argv[1], "pairing-payload", NULL);
  qr_dir = g_build_filename (argv[1], "qr-image", NULL);
  g_assert (g_mkdir_with_parents (payload_dir, 0755) == 0 && g_mkdir_with_parents (qr_dir, 0755) == 0);

  b = payload_with (one);
  c = payload_with (two);
  tb = companion_pairing_payload_to_string (b);
  tc = companion_pairing_payload_to_string (c);
  write_text (payload_dir, "one-address", tb);
  write_text (payload_dir, "two-addresses", tc);

  /* Two pixels a module keeps the seed small; zbar still reads it. */
  code = companion_qr_code_new (tb, &error);
  g_assert_no_error (error);
  png = g_build_filename (qr_dir, "one-address.png", NULL);
  g_assert (companion_qr_code_write_png (code, png, 2, &error));
  g_assert_no_error (error);
  return 0;
}
