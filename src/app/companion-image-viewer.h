/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define COMPANION_TYPE_IMAGE_VIEWER (companion_image_viewer_get_type ())

G_DECLARE_FINAL_TYPE (CompanionImageViewer, companion_image_viewer, COMPANION, IMAGE_VIEWER, AdwWindow)

/* A window showing one image of the mirror, scaled to fit, titled with
 * its name; Escape closes it. */
GtkWidget *companion_image_viewer_new (GtkWindow  *parent,
                                       GFile      *file,
                                       const char *title);

G_END_DECLS
