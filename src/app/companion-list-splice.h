/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Replaces ITEMS[START…] (the rest of the array) of MODEL by the objects of
 * REPLACEMENT and emits "items-changed" for exactly the run that differs:
 * objects kept at the same place on both ends (compared as pointers) are
 * neither removed nor added, so their rows stay as they are. ITEMS owns
 * its objects (g_object_unref as free function). */
void companion_list_splice (GListModel *model,
                            GPtrArray  *items,
                            guint       start,
                            GPtrArray  *replacement);

G_END_DECLS
