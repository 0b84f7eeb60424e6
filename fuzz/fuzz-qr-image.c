/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The phone's scan (companion-phone scan --image): PNG bytes through libpng,
 * zbar and the payload parser, as companion_qr_scanner_scan_file and
 * companion_pairing_payload_parse_scanned do it for a photo of the screen.
 * The bytes are written to a file under TMPDIR because the scanner reads a
 * path (it maps the file, refusing oversized images before decoding). */
#include "config.h"

#include <glib/gstdio.h>
#include <unistd.h>

#include "companion-pairing-payload.h"
#include "companion-qr-code.h"
#include "companion-qr-scanner.h"
#include "fuzz-input.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  static char *path;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) symbols = NULL;
  g_autoptr(CompanionPairingPayload) payload = NULL;

  fuzz_init ();
  if (path == NULL)
    path = g_build_filename (g_get_tmp_dir (), "fuzz-qr-image.png", NULL);
  g_assert (g_file_set_contents (path, (const char *) data, (gssize) size, NULL));

  symbols = companion_qr_scanner_scan_file (path, &error);
  if (symbols == NULL)
    {
      g_assert (error != NULL && error->message != NULL);
      g_assert (error->domain == COMPANION_QR_ERROR || error->domain == G_FILE_ERROR ||
                error->domain == G_IO_ERROR);
      return 0;
    }
  g_assert (symbols->len > 0);
  payload = companion_pairing_payload_parse_scanned (symbols, &error);
  g_assert ((payload == NULL) == (error != NULL));
  return 0;
}
