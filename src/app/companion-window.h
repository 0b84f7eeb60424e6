/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "companion-types.h"

G_BEGIN_DECLS

#define COMPANION_TYPE_WINDOW (companion_window_get_type ())

G_DECLARE_FINAL_TYPE (CompanionWindow, companion_window, COMPANION, WINDOW, AdwApplicationWindow)

CompanionWindow *companion_window_new       (AdwApplication        *application);
void             companion_window_set_offer (CompanionWindow       *self,
                                             CompanionPairingOffer *offer);
void             companion_window_show_error (CompanionWindow      *self,
                                              const char           *message);

G_END_DECLS
