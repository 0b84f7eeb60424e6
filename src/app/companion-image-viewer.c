/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-image-viewer"

#include "config.h"

#include <glib/gi18n.h>

#include "companion-image-viewer.h"

struct _CompanionImageViewer
{
  AdwWindow   parent_instance;

  GtkPicture *picture;
  AdwWindowTitle *title;
};

G_DEFINE_FINAL_TYPE (CompanionImageViewer, companion_image_viewer, ADW_TYPE_WINDOW)

static void
companion_image_viewer_class_init (CompanionImageViewerClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
companion_image_viewer_init (CompanionImageViewer *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *header = adw_header_bar_new ();

  self->title = ADW_WINDOW_TITLE (adw_window_title_new ("", NULL));
  adw_header_bar_set_title_widget (ADW_HEADER_BAR (header), GTK_WIDGET (self->title));
  gtk_box_append (GTK_BOX (box), header);

  self->picture = GTK_PICTURE (gtk_picture_new ());
  gtk_picture_set_can_shrink (self->picture, TRUE);
  gtk_picture_set_content_fit (self->picture, GTK_CONTENT_FIT_CONTAIN);
  gtk_widget_set_vexpand (GTK_WIDGET (self->picture), TRUE);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->picture));

  adw_window_set_content (ADW_WINDOW (self), box);
  gtk_window_set_default_size (GTK_WINDOW (self), 800, 600);
}

GtkWidget *
companion_image_viewer_new (GtkWindow  *parent,
                            GFile      *file,
                            const char *title)
{
  CompanionImageViewer *self;

  g_return_val_if_fail (G_IS_FILE (file), NULL);

  self = g_object_new (COMPANION_TYPE_IMAGE_VIEWER,
                       "transient-for", parent,
                       "title", title,
                       NULL);
  adw_window_title_set_title (self->title, title);
  gtk_picture_set_file (self->picture, file);
  gtk_picture_set_alternative_text (self->picture, title);
  return GTK_WIDGET (self);
}
