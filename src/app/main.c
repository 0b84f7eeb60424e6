/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion"

#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>

#include "companion-application.h"
#include "companion-core.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(CompanionApplication) application = NULL;
  g_autoptr(GError) error = NULL;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  if (!companion_core_init (&error))
    {
      g_printerr ("companion: %s\n", error->message);
      return 1;
    }

  application = companion_application_new ();
  return g_application_run (G_APPLICATION (application), argc, argv);
}
