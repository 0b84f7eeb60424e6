/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-window"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "companion-network.h"
#include "companion-pairing-offer.h"
#include "companion-pairing-payload.h"
#include "companion-qr-code.h"
#include "companion-qr-view.h"
#include "companion-window.h"

struct _CompanionWindow
{
  AdwApplicationWindow   parent_instance;

  CompanionPairingOffer *offer;

  /* Template children */
  AdwToastOverlay       *toast_overlay;
  AdwStatusPage         *pairing_page;
  CompanionQrView       *qr_view;
  GtkLabel              *address_label;
};

G_DEFINE_FINAL_TYPE (CompanionWindow, companion_window, ADW_TYPE_APPLICATION_WINDOW)

static void
companion_window_dispose (GObject *object)
{
  CompanionWindow *self = COMPANION_WINDOW (object);

  g_clear_object (&self->offer);
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
  gtk_widget_class_bind_template_child (widget_class, CompanionWindow, pairing_page);
  gtk_widget_class_bind_template_child (widget_class, CompanionWindow, qr_view);
  gtk_widget_class_bind_template_child (widget_class, CompanionWindow, address_label);
}

static void
companion_window_init (CompanionWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  if (g_str_has_suffix (APP_ID, ".Devel"))
    gtk_widget_add_css_class (GTK_WIDGET (self), "devel");
}

CompanionWindow *
companion_window_new (AdwApplication *application)
{
  return g_object_new (COMPANION_TYPE_WINDOW, "application", application, NULL);
}

void
companion_window_set_offer (CompanionWindow       *self,
                            CompanionPairingOffer *offer)
{
  g_autoptr(CompanionQrCode) code = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) addresses = NULL;
  g_autofree char *text = NULL;
  g_autofree char *key_fingerprint = NULL;
  CompanionPairingPayload *payload;
  GPtrArray *list;

  g_return_if_fail (COMPANION_IS_WINDOW (self));
  g_return_if_fail (COMPANION_IS_PAIRING_OFFER (offer));

  g_set_object (&self->offer, offer);
  payload = companion_pairing_offer_get_payload (offer);

  text = companion_pairing_payload_to_string (payload);
  code = companion_qr_code_new (text, &error);
  memset (text, 0, strlen (text));
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
  /* Translators: %s is one or two network addresses, such as 192.168.1.20:47390 */
  text = g_strdup_printf (_("Listening at %s"), addresses->str);
  gtk_label_set_label (self->address_label, text);
}

void
companion_window_show_error (CompanionWindow *self,
                             const char      *message)
{
  g_return_if_fail (COMPANION_IS_WINDOW (self));

  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (message));
}
