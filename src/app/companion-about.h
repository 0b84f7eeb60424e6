/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

/* The About window, filled from the AppStream metainfo bundled as a
 * resource (name, summary, developer, links, the newest release's notes),
 * its texts translated through the catalogue they are extracted to, so the
 * store page and this window never disagree. */
GtkWindow *companion_about_window_new (GtkWindow *parent);

G_END_DECLS
