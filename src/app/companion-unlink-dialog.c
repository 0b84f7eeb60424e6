/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-unlink-dialog"

#include "config.h"

#include <glib/gi18n.h>

#include "companion-unlink-dialog.h"

struct _CompanionUnlinkDialog
{
  AdwMessageDialog        parent_instance;

  CompanionDesktopServer *server;
};

G_DEFINE_FINAL_TYPE (CompanionUnlinkDialog, companion_unlink_dialog, ADW_TYPE_MESSAGE_DIALOG)

static void
companion_unlink_dialog_response (AdwMessageDialog *dialog,
                                  const char       *response)
{
  CompanionUnlinkDialog *self = COMPANION_UNLINK_DIALOG (dialog);
  g_autoptr(GError) error = NULL;
  GtkWindow *parent;

  if (g_strcmp0 (response, "unlink") != 0)
    return;
  if (companion_desktop_server_unlink (self->server, &error))
    return;

  /* The dialog closes after this: the error stays on the window behind it. */
  g_debug ("Unlinking failed: %s", error->message);
  parent = gtk_window_get_transient_for (GTK_WINDOW (self));
  if (parent != NULL)
    {
      GtkWidget *failed = adw_message_dialog_new (parent, _("Unlinking Failed"), error->message);

      adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (failed), "close", _("_Close"));
      gtk_window_present (GTK_WINDOW (failed));
    }
}

static void
companion_unlink_dialog_dispose (GObject *object)
{
  CompanionUnlinkDialog *self = COMPANION_UNLINK_DIALOG (object);

  g_clear_object (&self->server);

  G_OBJECT_CLASS (companion_unlink_dialog_parent_class)->dispose (object);
}

static void
companion_unlink_dialog_class_init (CompanionUnlinkDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  AdwMessageDialogClass *dialog_class = ADW_MESSAGE_DIALOG_CLASS (klass);

  object_class->dispose = companion_unlink_dialog_dispose;
  dialog_class->response = companion_unlink_dialog_response;
}

static void
companion_unlink_dialog_init (CompanionUnlinkDialog *self)
{
  AdwMessageDialog *dialog = ADW_MESSAGE_DIALOG (self);

  adw_message_dialog_set_heading (dialog, _("Unlink Phone?"));
  adw_message_dialog_add_responses (dialog,
                                    "cancel", _("_Cancel"),
                                    "unlink", _("_Unlink"),
                                    NULL);
  adw_message_dialog_set_response_appearance (dialog, "unlink", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, "cancel");
  adw_message_dialog_set_close_response (dialog, "cancel");
}

CompanionUnlinkDialog *
companion_unlink_dialog_new (GtkWindow              *parent,
                             CompanionDesktopServer *server)
{
  CompanionUnlinkDialog *self;
  const char *phone;
  g_autofree char *body = NULL;

  g_return_val_if_fail (GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (COMPANION_IS_DESKTOP_SERVER (server), NULL);

  phone = companion_desktop_server_get_phone_name (server);
  if (phone == NULL)
    return NULL;

  self = g_object_new (COMPANION_TYPE_UNLINK_DIALOG,
                       "transient-for", parent,
                       "modal", TRUE,
                       NULL);
  self->server = g_object_ref (server);
  /* Translators: %s is the phone's name */
  body = g_strdup_printf (_("%s will no longer mirror its chats here, and can link again only by "
                            "scanning a new code."), phone);
  adw_message_dialog_set_body (ADW_MESSAGE_DIALOG (self), body);
  return self;
}
