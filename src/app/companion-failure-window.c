/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-failure-window"

#include "config.h"

#include <glib/gi18n.h>

#include "companion-failure-window.h"

struct _CompanionFailureWindow
{
  AdwApplicationWindow parent_instance;

  AdwStatusPage       *status_page;
};

G_DEFINE_FINAL_TYPE (CompanionFailureWindow, companion_failure_window, ADW_TYPE_APPLICATION_WINDOW)

static void
companion_failure_window_dispose (GObject *object)
{
  gtk_widget_dispose_template (GTK_WIDGET (object), COMPANION_TYPE_FAILURE_WINDOW);

  G_OBJECT_CLASS (companion_failure_window_parent_class)->dispose (object);
}

static void
companion_failure_window_class_init (CompanionFailureWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = companion_failure_window_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               APP_RESOURCE_PATH "/ui/companion-failure-window.ui");
  gtk_widget_class_bind_template_child (widget_class, CompanionFailureWindow, status_page);
}

static void
companion_failure_window_init (CompanionFailureWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

CompanionFailureWindow *
companion_failure_window_new (AdwApplication *application,
                              const char     *message)
{
  CompanionFailureWindow *self = g_object_new (COMPANION_TYPE_FAILURE_WINDOW,
                                               "application", application, NULL);

  g_debug ("Cannot start: %s", message);
  adw_status_page_set_description (self->status_page, message);
  return self;
}
