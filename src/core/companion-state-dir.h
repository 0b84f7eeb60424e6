/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Resolves the state folder (DIR, or $XDG_DATA_HOME/SUBDIR) and makes sure it
 * exists with mode 0700, tightening a looser existing one. */
char *companion_state_dir_ensure (const char *override_dir,
                                  const char *default_subdir,
                                  GError    **error);

/* Makes a rename in DIR durable; a failure costs only durability. */
void  companion_state_dir_sync   (const char *dir);

G_END_DECLS
