/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "companion-desktop-server.h"

G_BEGIN_DECLS

#define COMPANION_TYPE_UNLINK_DIALOG (companion_unlink_dialog_get_type ())

G_DECLARE_FINAL_TYPE (CompanionUnlinkDialog, companion_unlink_dialog,
                      COMPANION, UNLINK_DIALOG, AdwMessageDialog)

/* Asks before unlinking SERVER's phone, and unlinks it on "unlink". The
 * main window and the preferences share it, so both ask the same way.
 * NULL when no phone is linked. */
CompanionUnlinkDialog *companion_unlink_dialog_new (GtkWindow              *parent,
                                                    CompanionDesktopServer *server);

G_END_DECLS
