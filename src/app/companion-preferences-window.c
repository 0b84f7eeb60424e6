/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-preferences-window"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "companion-pairing-record.h"
#include "companion-preferences-window.h"
#include "companion-unlink-dialog.h"

/* The download limit is edited in MiB and kept in bytes. */
#define BYTES_PER_MIB (1024.0 * 1024.0)

struct _CompanionPreferencesWindow
{
  AdwPreferencesWindow    parent_instance;

  GSettings              *settings;
  CompanionDesktopServer *server;
  char                   *state_dir;

  /* Template children */
  AdwActionRow           *phone_row;
  AdwActionRow           *paired_since_row;
  AdwActionRow           *safety_code_row;
  AdwActionRow           *unlink_row;
  GtkButton              *unlink_button;
  GtkSwitch              *notifications_switch;
  GtkAdjustment          *download_adjustment;
  GtkAdjustment          *port_adjustment;
};

G_DEFINE_FINAL_TYPE (CompanionPreferencesWindow, companion_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

static gboolean
bytes_to_mib (GValue   *value,
              GVariant *variant,
              gpointer  user_data)
{
  g_value_set_double (value, (double) g_variant_get_int64 (variant) / BYTES_PER_MIB);
  return TRUE;
}

static GVariant *
mib_to_bytes (const GValue       *value,
              const GVariantType *expected_type,
              gpointer            user_data)
{
  return g_variant_new_int64 ((gint64) (g_value_get_double (value) * BYTES_PER_MIB));
}

static gboolean
port_to_double (GValue   *value,
                GVariant *variant,
                gpointer  user_data)
{
  g_value_set_double (value, g_variant_get_uint16 (variant));
  return TRUE;
}

static GVariant *
double_to_port (const GValue       *value,
                const GVariantType *expected_type,
                gpointer            user_data)
{
  return g_variant_new_uint16 ((guint16) CLAMP (g_value_get_double (value), 0, G_MAXUINT16));
}

/* The linked phone's date comes from its pairing record: a small file, so
 * reading it here does not hold the main loop up. */
static char *
describe_paired_since (CompanionPreferencesWindow *self)
{
  g_autoptr(CompanionPairingRecord) record = NULL;
  g_autoptr(GDateTime) when = NULL;
  g_autoptr(GError) error = NULL;
  gint64 since;

  record = companion_pairing_record_load (self->state_dir, &error);
  if (record == NULL)
    {
      if (error != NULL)
        g_debug ("Cannot read the pairing record: %s", error->message);
      return g_strdup (_("Unknown"));
    }
  since = companion_pairing_record_get_paired_since (record);
  when = since > 0 ? g_date_time_new_from_unix_local (since) : NULL;
  if (when == NULL)
    return g_strdup (_("Unknown"));
  /* Translators: when the phone was linked, see strftime(3); e.g. "3 March 2025, 14:05" */
  return g_date_time_format (when, _("%-d %B %Y, %H:%M"));
}

static void
update_phone (CompanionPreferencesWindow *self)
{
  const char *phone = companion_desktop_server_get_phone_name (self->server);
  const char *code = companion_desktop_server_get_safety_code (self->server);
  gboolean paired = companion_desktop_server_is_paired (self->server) && phone != NULL;
  g_autofree char *since = NULL;
  g_autofree char *spaced_code = NULL;

  gtk_widget_set_visible (GTK_WIDGET (self->paired_since_row), paired);
  gtk_widget_set_visible (GTK_WIDGET (self->safety_code_row), paired && code != NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->unlink_row), paired);
  if (!paired)
    {
      adw_action_row_set_subtitle (self->phone_row, _("No phone is linked"));
      return;
    }

  adw_action_row_set_subtitle (self->phone_row, phone);
  since = describe_paired_since (self);
  adw_action_row_set_subtitle (self->paired_since_row, since);
  if (code != NULL)
    {
      /* Split as the main window shows it, so the two are easy to compare. */
      spaced_code = g_strdup_printf ("%.3s %s", code, code + MIN (3, strlen (code)));
      adw_action_row_set_subtitle (self->safety_code_row, spaced_code);
    }
}

static void
on_unlink_clicked (CompanionPreferencesWindow *self)
{
  CompanionUnlinkDialog *dialog = companion_unlink_dialog_new (GTK_WINDOW (self), self->server);

  if (dialog != NULL)
    gtk_window_present (GTK_WINDOW (dialog));
}

static void
close_window (gpointer user_data)
{
  gtk_window_close (user_data);
  g_object_unref (user_data);
}

static void
on_unlinked (CompanionPreferencesWindow *self,
             gboolean                    by_phone)
{
  /* Nothing is left to show: the main window goes back to pairing. Closed
   * once the unlink dialog, transient for this window, is gone. */
  g_idle_add_once (close_window, g_object_ref (self));
}

static void
companion_preferences_window_dispose (GObject *object)
{
  CompanionPreferencesWindow *self = COMPANION_PREFERENCES_WINDOW (object);

  g_clear_object (&self->settings);
  g_clear_object (&self->server);
  gtk_widget_dispose_template (GTK_WIDGET (self), COMPANION_TYPE_PREFERENCES_WINDOW);

  G_OBJECT_CLASS (companion_preferences_window_parent_class)->dispose (object);
}

static void
companion_preferences_window_finalize (GObject *object)
{
  CompanionPreferencesWindow *self = COMPANION_PREFERENCES_WINDOW (object);

  g_clear_pointer (&self->state_dir, g_free);

  G_OBJECT_CLASS (companion_preferences_window_parent_class)->finalize (object);
}

static void
companion_preferences_window_class_init (CompanionPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = companion_preferences_window_dispose;
  object_class->finalize = companion_preferences_window_finalize;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               APP_RESOURCE_PATH "/ui/companion-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, CompanionPreferencesWindow, phone_row);
  gtk_widget_class_bind_template_child (widget_class, CompanionPreferencesWindow, paired_since_row);
  gtk_widget_class_bind_template_child (widget_class, CompanionPreferencesWindow, safety_code_row);
  gtk_widget_class_bind_template_child (widget_class, CompanionPreferencesWindow, unlink_row);
  gtk_widget_class_bind_template_child (widget_class, CompanionPreferencesWindow, unlink_button);
  gtk_widget_class_bind_template_child (widget_class, CompanionPreferencesWindow, notifications_switch);
  gtk_widget_class_bind_template_child (widget_class, CompanionPreferencesWindow, download_adjustment);
  gtk_widget_class_bind_template_child (widget_class, CompanionPreferencesWindow, port_adjustment);
  gtk_widget_class_bind_template_callback (widget_class, on_unlink_clicked);
}

static void
companion_preferences_window_init (CompanionPreferencesWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

CompanionPreferencesWindow *
companion_preferences_window_new (GtkWindow              *parent,
                                  GSettings              *settings,
                                  CompanionDesktopServer *server,
                                  const char             *state_dir)
{
  CompanionPreferencesWindow *self;

  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);
  g_return_val_if_fail (COMPANION_IS_DESKTOP_SERVER (server), NULL);
  g_return_val_if_fail (state_dir != NULL, NULL);

  self = g_object_new (COMPANION_TYPE_PREFERENCES_WINDOW,
                       "transient-for", parent,
                       "modal", parent != NULL,
                       NULL);
  self->settings = g_object_ref (settings);
  self->server = g_object_ref (server);
  self->state_dir = g_strdup (state_dir);

  g_settings_bind (settings, "notifications-enabled", self->notifications_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind_with_mapping (settings, "auto-download-limit", self->download_adjustment, "value",
                                G_SETTINGS_BIND_DEFAULT, bytes_to_mib, mib_to_bytes, NULL, NULL);
  g_settings_bind_with_mapping (settings, "listen-port", self->port_adjustment, "value",
                                G_SETTINGS_BIND_DEFAULT, port_to_double, double_to_port, NULL, NULL);

  g_signal_connect_object (server, "paired", G_CALLBACK (update_phone), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (server, "unlinked", G_CALLBACK (on_unlinked), self, G_CONNECT_SWAPPED);
  update_phone (self);
  return self;
}
