/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "companion-desktop-server.h"

G_BEGIN_DECLS

#define COMPANION_TYPE_WINDOW (companion_window_get_type ())

G_DECLARE_FINAL_TYPE (CompanionWindow, companion_window, COMPANION, WINDOW, AdwApplicationWindow)

/* SERVER is the desktop engine this window shows; KEY_STORE_WARNING, when
 * not NULL, says where the keys are kept instead of the Secret Service. */
CompanionWindow *companion_window_new         (AdwApplication         *application,
                                               CompanionDesktopServer *server,
                                               const char             *key_store_warning);
void             companion_window_show_error  (CompanionWindow        *self,
                                               const char             *message);

G_END_DECLS
