/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-core"

#include "config.h"

#include <gio/gio.h>
#include <sodium.h>

#include "companion-core.h"

/* Every program and test calls this once before any crypto. */
gboolean
companion_core_init (GError **error)
{
  if (sodium_init () < 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           "libsodium could not be initialised");
      return FALSE;
    }
  return TRUE;
}
