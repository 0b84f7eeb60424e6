/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-settings"

#include "config.h"

#include "companion-settings.h"

GSettings *
companion_settings_new_if_installed (void)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchema) schema = NULL;

  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, COMPANION_SETTINGS_SCHEMA, TRUE);
  if (schema == NULL)
    {
      g_debug ("The settings schema is not installed: using its defaults");
      return NULL;
    }
  return g_settings_new_full (schema, NULL, NULL);
}
