/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-window"

#include "config.h"

#include <glib/gi18n.h>
#include <sodium.h>
#include <string.h>

#include "companion-desktop-server.h"
#include "companion-network.h"
#include "companion-pairing-offer.h"
#include "companion-pairing-payload.h"
#include "companion-qr-code.h"
#include "companion-qr-view.h"
#include "companion-window.h"

struct _CompanionWindow
{
  AdwApplicationWindow    parent_instance;

  CompanionDesktopServer *server;
  guint                   countdown_id;
  gint64                  disconnected_at; /* real time, µs; 0 when never */

  /* Template children */
  AdwToastOverlay        *toast_overlay;
  GtkRevealer            *keyring_revealer;
  GtkLabel               *keyring_label;
  GtkStack               *stack;
  AdwStatusPage          *pairing_page;
  CompanionQrView        *qr_view;
  GtkLabel               *countdown_label;
  GtkLabel               *pairing_status_label;
  GtkLabel               *address_label;
  AdwStatusPage          *linked_page;
  GtkLabel               *connection_label;
};

G_DEFINE_FINAL_TYPE (CompanionWindow, companion_window, ADW_TYPE_APPLICATION_WINDOW)

static void update_linked_page (CompanionWindow *self);
static void set_pairing_status (CompanionWindow *self,
                                gboolean         pairing);

static void
update_countdown (CompanionWindow *self)
{
  gint64 expires_at = companion_desktop_server_get_offer_expires_at (self->server);
  gint64 left = MAX (0, (expires_at - g_get_monotonic_time () + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
  g_autofree char *text = NULL;

  /* Translators: %d is a number of seconds */
  text = g_strdup_printf (ngettext ("A new code in %d second", "A new code in %d seconds", (int) left),
                          (int) left);
  gtk_label_set_label (self->countdown_label, text);
}

static gboolean
on_countdown_tick (gpointer user_data)
{
  update_countdown (user_data);
  return G_SOURCE_CONTINUE;
}

static void
show_offer (CompanionWindow       *self,
            CompanionPairingOffer *offer)
{
  g_autoptr(CompanionQrCode) code = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) addresses = NULL;
  g_autofree char *text = NULL;
  g_autofree char *key_fingerprint = NULL;
  CompanionPairingPayload *payload = companion_pairing_offer_get_payload (offer);
  GPtrArray *list;

  text = companion_pairing_payload_to_string (payload);
  code = companion_qr_code_new (text, &error);
  sodium_memzero (text, strlen (text));
  if (code == NULL)
    {
      companion_window_show_error (self, error->message);
      return;
    }
  companion_qr_view_set_code (self->qr_view, code);

  /* The key's fingerprint is public; it lets tests match what was scanned. */
  key_fingerprint = companion_pairing_payload_dup_key_fingerprint (payload);
  g_debug ("Showing the pairing code of desktop key %s", key_fingerprint);

  list = companion_pairing_payload_get_addresses (payload);
  addresses = g_string_new (NULL);
  for (guint i = 0; i < list->len; i++)
    {
      g_autofree char *one = companion_network_address_to_string (g_ptr_array_index (list, i));
      g_string_append_printf (addresses, "%s%s", i > 0 ? ", " : "", one);
    }
  g_free (text);
  /* Translators: %s is one or two network addresses, such as 192.168.1.20:47390 */
  text = g_strdup_printf (_("Listening at %s"), addresses->str);
  gtk_label_set_label (self->address_label, text);

  update_countdown (self);
  /* The countdown ticks only while a code is on screen. */
  if (self->countdown_id == 0)
    self->countdown_id = g_timeout_add_seconds (1, on_countdown_tick, self);
}

static void
show_page (CompanionWindow *self)
{
  CompanionPairingOffer *offer = companion_desktop_server_get_offer (self->server);
  gboolean paired = companion_desktop_server_is_paired (self->server);

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.unlink-phone", paired);
  if (paired)
    {
      g_clear_handle_id (&self->countdown_id, g_source_remove);
      companion_qr_view_set_code (self->qr_view, NULL);
      update_linked_page (self);
      gtk_stack_set_visible_child_name (self->stack, "linked");
    }
  else
    {
      if (offer != NULL)
        show_offer (self, offer);
      set_pairing_status (self, FALSE);
      gtk_stack_set_visible_child_name (self->stack, "pairing");
    }
}

static void
update_linked_page (CompanionWindow *self)
{
  const char *phone = companion_desktop_server_get_phone_name (self->server);
  const char *code = companion_desktop_server_get_safety_code (self->server);
  g_autofree char *title = NULL;
  g_autofree char *description = NULL;
  g_autofree char *connection = NULL;

  if (phone == NULL)
    return;

  /* Translators: %s is the phone's name */
  title = g_strdup_printf (_("Linked to %s"), phone);
  adw_status_page_set_title (self->linked_page, title);

  if (code != NULL)
    /* Translators: the two %s are the two halves of a six-digit safety code */
    description = g_strdup_printf (_("Safety code %.3s %s. Check that your phone shows the same code."),
                                   code, code + 3);
  else
    description = g_strdup (_("Your phone’s chats are mirrored here while it is in reach."));
  adw_status_page_set_description (self->linked_page, description);

  if (companion_desktop_server_is_connected (self->server))
    connection = g_strdup (_("Connected"));
  else if (self->disconnected_at != 0)
    {
      g_autoptr(GDateTime) when = g_date_time_new_from_unix_local (self->disconnected_at / G_USEC_PER_SEC);
      g_autofree char *time = g_date_time_format (when, "%X");
      /* Translators: %s is a time of day */
      connection = g_strdup_printf (_("Phone offline since %s"), time);
    }
  else
    connection = g_strdup (_("Waiting for the phone to connect"));
  gtk_label_set_label (self->connection_label, connection);
}

static void
set_pairing_status (CompanionWindow *self,
                    gboolean         pairing)
{
  gtk_label_set_label (self->pairing_status_label,
                       pairing ? _("Pairing with your phone…") : _("Waiting for your phone"));
}

static void
on_offer_changed (CompanionWindow       *self,
                  CompanionPairingOffer *offer)
{
  if (offer != NULL)
    show_offer (self, offer);
}

static void
on_pairing_started (CompanionWindow *self)
{
  g_debug ("A phone is pairing");
  set_pairing_status (self, TRUE);
}

static void
on_paired (CompanionWindow *self,
           const char      *phone,
           const char      *safety_code)
{
  g_autofree char *text = NULL;

  g_debug ("Paired with %s, safety code %s", phone, safety_code);
  /* Translators: %s is the phone's name */
  text = g_strdup_printf (_("Linked to %s"), phone);
  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (text));
  show_page (self);
}

static void
on_connected (CompanionWindow *self,
              const char      *phone)
{
  g_debug ("Connected to %s", phone);
  update_linked_page (self);
}

static void
on_disconnected (CompanionWindow *self,
                 GError          *error)
{
  self->disconnected_at = g_get_real_time ();
  update_linked_page (self);
}

static void
on_unlinked (CompanionWindow *self,
             gboolean         by_phone)
{
  g_debug ("Unlinked by the %s", by_phone ? "phone" : "desktop");
  self->disconnected_at = 0;
  adw_toast_overlay_add_toast (self->toast_overlay,
                               adw_toast_new (by_phone ? _("The phone unlinked itself")
                                                       : _("The phone was unlinked")));
  show_page (self);
}

static void
on_attempt_failed (CompanionWindow *self,
                   GError          *error)
{
  /* Connections that never authenticated only matter while pairing. */
  if (!companion_desktop_server_is_paired (self->server))
    {
      set_pairing_status (self, FALSE);
      companion_window_show_error (self, error->message);
    }
}

static void
on_unlink_response (AdwMessageDialog *dialog,
                    const char       *response,
                    CompanionWindow  *self)
{
  g_autoptr(GError) error = NULL;

  if (g_strcmp0 (response, "unlink") != 0)
    return;
  if (!companion_desktop_server_unlink (self->server, &error))
    companion_window_show_error (self, error->message);
}

static void
unlink_phone (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  CompanionWindow *self = COMPANION_WINDOW (widget);
  const char *phone = companion_desktop_server_get_phone_name (self->server);
  g_autofree char *body = NULL;
  GtkWidget *dialog;

  if (phone == NULL)
    return;
  /* Translators: %s is the phone's name */
  body = g_strdup_printf (_("%s will no longer mirror its chats here, and can link again only by "
                            "scanning a new code."), phone);
  dialog = adw_message_dialog_new (GTK_WINDOW (self), _("Unlink Phone?"), body);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "unlink", _("_Unlink"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "unlink",
                                              ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_unlink_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
companion_window_dispose (GObject *object)
{
  CompanionWindow *self = COMPANION_WINDOW (object);

  g_clear_handle_id (&self->countdown_id, g_source_remove);
  g_clear_object (&self->server);
  gtk_widget_dispose_template (GTK_WIDGET (self), COMPANION_TYPE_WINDOW);

  G_OBJECT_CLASS (companion_window_parent_class)->dispose (object);
}

static void
companion_window_class_init (CompanionWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = companion_window_dispose;

  g_type_ensure (COMPANION_TYPE_QR_VIEW);
  gtk_widget_class_set_template_from_resource (widget_class, APP_RESOURCE_PATH "/ui/companion-window.ui");
  gtk_widget_class_bind_template_child (widget_class, CompanionWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, CompanionWindow, keyring_revealer);
  gtk_widget_class_bind_template_child (widget_class, CompanionWindow, keyring_label);
  gtk_widget_class_bind_template_child (widget_class, CompanionWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, CompanionWindow, pairing_page);
  gtk_widget_class_bind_template_child (widget_class, CompanionWindow, qr_view);
  gtk_widget_class_bind_template_child (widget_class, CompanionWindow, countdown_label);
  gtk_widget_class_bind_template_child (widget_class, CompanionWindow, pairing_status_label);
  gtk_widget_class_bind_template_child (widget_class, CompanionWindow, address_label);
  gtk_widget_class_bind_template_child (widget_class, CompanionWindow, linked_page);
  gtk_widget_class_bind_template_child (widget_class, CompanionWindow, connection_label);

  gtk_widget_class_install_action (widget_class, "win.unlink-phone", NULL, unlink_phone);
}

static void
companion_window_init (CompanionWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  if (g_str_has_suffix (APP_ID, ".Devel"))
    gtk_widget_add_css_class (GTK_WIDGET (self), "devel");
}

CompanionWindow *
companion_window_new (AdwApplication         *application,
                      CompanionDesktopServer *server,
                      const char             *key_store_warning)
{
  CompanionWindow *self;

  g_return_val_if_fail (COMPANION_IS_DESKTOP_SERVER (server), NULL);

  self = g_object_new (COMPANION_TYPE_WINDOW, "application", application, NULL);
  self->server = g_object_ref (server);
  g_signal_connect_object (server, "offer-changed", G_CALLBACK (on_offer_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (server, "paired", G_CALLBACK (on_paired), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (server, "connected", G_CALLBACK (on_connected), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (server, "disconnected", G_CALLBACK (on_disconnected), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (server, "unlinked", G_CALLBACK (on_unlinked), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (server, "attempt-failed", G_CALLBACK (on_attempt_failed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (server, "pairing-started", G_CALLBACK (on_pairing_started), self, G_CONNECT_SWAPPED);

  if (key_store_warning != NULL)
    {
      gtk_label_set_label (self->keyring_label, key_store_warning);
      gtk_revealer_set_reveal_child (self->keyring_revealer, TRUE);
    }
  show_page (self);
  return self;
}

void
companion_window_show_error (CompanionWindow *self,
                             const char      *message)
{
  g_return_if_fail (COMPANION_IS_WINDOW (self));

  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (message));
}
