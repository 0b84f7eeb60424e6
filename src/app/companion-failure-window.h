/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define COMPANION_TYPE_FAILURE_WINDOW (companion_failure_window_get_type ())

G_DECLARE_FINAL_TYPE (CompanionFailureWindow, companion_failure_window,
                      COMPANION, FAILURE_WINDOW, AdwApplicationWindow)

/* Says why Companion cannot start (no keys, no port) instead of showing a
 * pairing code that could never work. */
CompanionFailureWindow *companion_failure_window_new (AdwApplication *application,
                                                      const char     *message);

G_END_DECLS
