/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define COMPANION_SETTINGS_SCHEMA "io.github.companiondesk.Companion"

/* The app's GSettings, or NULL when the schema is not installed (an
 * uninstalled build run without GSETTINGS_SCHEMA_DIR): callers then use
 * the schema's defaults, which the constants beside them repeat. */
GSettings *companion_settings_new_if_installed (void);

G_END_DECLS
