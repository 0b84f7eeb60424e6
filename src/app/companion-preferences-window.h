/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "companion-desktop-server.h"

G_BEGIN_DECLS

#define COMPANION_TYPE_PREFERENCES_WINDOW (companion_preferences_window_get_type ())

G_DECLARE_FINAL_TYPE (CompanionPreferencesWindow, companion_preferences_window,
                      COMPANION, PREFERENCES_WINDOW, AdwPreferencesWindow)

/* Edits SETTINGS (the app's schema) and shows SERVER's linked phone, with
 * its pairing record read from STATE_DIR for the date it was linked. It
 * closes itself when the phone is unlinked, from here or elsewhere. */
CompanionPreferencesWindow *companion_preferences_window_new (GtkWindow              *parent,
                                                              GSettings              *settings,
                                                              CompanionDesktopServer *server,
                                                              const char             *state_dir);

G_END_DECLS
