/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-window"

#include "config.h"

#include <glib/gi18n.h>
#include <sodium.h>
#include <string.h>

#include "companion-calls-view.h"
#include "companion-chat-list.h"
#include "companion-chat-row.h"
#include "companion-conversation-view.h"
#include "companion-desktop-server.h"
#include "companion-network.h"
#include "companion-pairing-offer.h"
#include "companion-pairing-payload.h"
#include "companion-qr-code.h"
#include "companion-qr-view.h"
#include "companion-record.h"
#include "companion-search-view.h"
#include "companion-unlink-dialog.h"
#include "companion-window.h"

struct _CompanionWindow
{
  AdwApplicationWindow    parent_instance;

  CompanionEngine        *engine;
  CompanionDesktopServer *server;
  CompanionChatList      *chats;
  GtkSingleSelection     *chat_selection;
  GtkWidget              *conversation;
  guint                   countdown_id;
  guint                   reload_id;
  gint64                  disconnected_at; /* real time, µs; 0 when never */
  guint64                 synced_records;  /* of the first sync, so far */
  AdwViewStack           *sidebar_stack;   /* chats, calls, search */
  CompanionCallsView     *calls_view;
  CompanionSearchView    *search_view;
  CompanionMessageList   *revealing;       /* where reveal_id is looked for */
  char                   *reveal_id;       /* a message to scroll to */
  char                   *pending_chat_id; /* to open once the chat list has it */
  char                   *pending_message_id;

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
  GtkWidget              *pairing_header;
  AdwLeaflet             *leaflet;
  GtkLabel               *status_label;
  GtkProgressBar         *sync_bar;
  GtkListView            *chat_list_view;
  GtkBox                 *conversation_slot;
};

G_DEFINE_FINAL_TYPE (CompanionWindow, companion_window, ADW_TYPE_APPLICATION_WINDOW)

static void update_status (CompanionWindow *self);
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
  gtk_widget_set_visible (self->pairing_header, !paired);
  if (paired)
    {
      g_clear_handle_id (&self->countdown_id, g_source_remove);
      companion_qr_view_set_code (self->qr_view, NULL);
      update_status (self);
      gtk_stack_set_visible_child_name (self->stack, "main");
      companion_chat_list_reload (self->chats);
    }
  else
    {
      if (offer != NULL)
        show_offer (self, offer);
      set_pairing_status (self, FALSE);
      gtk_stack_set_visible_child_name (self->stack, "pairing");
    }
}

static gboolean
first_sync_running (CompanionWindow *self)
{
  return companion_desktop_server_is_connected (self->server) && !companion_engine_has_synced (self->engine);
}

/* The connection and sync state, always in view above the chat list. */
static void
update_status (CompanionWindow *self)
{
  const char *phone = companion_desktop_server_get_phone_name (self->server);
  g_autofree char *text = NULL;

  if (phone == NULL)
    return;

  if (companion_desktop_server_is_connected (self->server))
    {
      if (first_sync_running (self))
        /* Translators: %s is the phone's name */
        text = g_strdup_printf (_("Syncing with %s…"), phone);
      else
        /* Translators: %s is the phone's name */
        text = g_strdup_printf (_("Connected to %s"), phone);
    }
  else if (self->disconnected_at != 0)
    {
      g_autoptr(GDateTime) when = g_date_time_new_from_unix_local (self->disconnected_at / G_USEC_PER_SEC);
      g_autofree char *time = g_date_time_format (when, "%X");
      /* Translators: %s is a time of day; the phone connects again by itself when in reach */
      text = g_strdup_printf (_("Phone offline since %s. Reconnecting when it is in reach…"), time);
    }
  else
    text = g_strdup (_("Waiting for the phone to connect"));
  gtk_label_set_label (self->status_label, text);
  gtk_widget_set_visible (GTK_WIDGET (self->sync_bar), first_sync_running (self));
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
  /* Translators: the two %s are the two halves of a six-digit safety code */
  text = g_strdup_printf (_("Safety code %.3s %s. Check that your phone shows the same code."),
                          safety_code, safety_code + 3);
  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (text));
  show_page (self);
}

static void
on_connected (CompanionWindow *self,
              const char      *phone)
{
  g_debug ("Connected to %s", phone);
  self->synced_records = 0;
  update_status (self);
}

static void
on_disconnected (CompanionWindow *self,
                 GError          *error)
{
  self->disconnected_at = g_get_real_time ();
  g_debug ("Disconnected: %s", error != NULL ? error->message : "closed");
  update_status (self);
}

static void
on_unlinked (CompanionWindow *self,
             gboolean         by_phone)
{
  g_debug ("Unlinked by the %s", by_phone ? "phone" : "desktop");
  self->disconnected_at = 0;
  companion_conversation_view_set_chat (COMPANION_CONVERSATION_VIEW (self->conversation), NULL);
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
unlink_phone (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  CompanionWindow *self = COMPANION_WINDOW (widget);
  CompanionUnlinkDialog *dialog = companion_unlink_dialog_new (GTK_WINDOW (self), self->server);

  if (dialog != NULL)
    gtk_window_present (GTK_WINDOW (dialog));
}

/* Chat list. */

static void
setup_chat_row (GtkSignalListItemFactory *factory,
                GtkListItem              *list_item)
{
  gtk_list_item_set_child (list_item, companion_chat_row_new ());
}

static void
bind_chat_row (GtkSignalListItemFactory *factory,
               GtkListItem              *list_item)
{
  companion_chat_row_set_item (COMPANION_CHAT_ROW (gtk_list_item_get_child (list_item)),
                               gtk_list_item_get_item (list_item));
}

static void
unbind_chat_row (GtkSignalListItemFactory *factory,
                 GtkListItem              *list_item)
{
  companion_chat_row_set_item (COMPANION_CHAT_ROW (gtk_list_item_get_child (list_item)), NULL);
}

static GtkListItemFactory *
chat_row_factory (void)
{
  GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();

  g_signal_connect (factory, "setup", G_CALLBACK (setup_chat_row), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_chat_row), NULL);
  g_signal_connect (factory, "unbind", G_CALLBACK (unbind_chat_row), NULL);
  return factory;
}

static void
on_chat_activated (CompanionWindow *self,
                   guint            position)
{
  companion_window_open_chat (self, position);
}

static void
on_chats_loaded (CompanionWindow *self)
{
  CompanionConversationView *view = COMPANION_CONVERSATION_VIEW (self->conversation);
  CompanionChatItem *shown;

  if (self->pending_chat_id != NULL && companion_chat_list_find (self->chats, self->pending_chat_id) != NULL)
    {
      g_autofree char *chat_id = g_steal_pointer (&self->pending_chat_id);
      g_autofree char *message_id = g_steal_pointer (&self->pending_message_id);

      companion_window_open_chat_id (self, chat_id, message_id);
    }
  shown = companion_conversation_view_get_chat (view);

  /* The chat shown may have moved, or gone with a delete on the phone. */
  if (shown == NULL)
    return;
  if (companion_chat_list_find (self->chats, companion_chat_item_get_id (shown)) != shown)
    {
      companion_conversation_view_set_chat (view, NULL);
      gtk_single_selection_set_selected (self->chat_selection, GTK_INVALID_LIST_POSITION);
      return;
    }
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->chats)); i++)
    {
      g_autoptr(CompanionChatItem) item = g_list_model_get_item (G_LIST_MODEL (self->chats), i);
      if (item == shown)
        {
          gtk_single_selection_set_selected (self->chat_selection, i);
          break;
        }
    }
}

static gboolean
reload_now (gpointer user_data)
{
  CompanionWindow *self = user_data;

  self->reload_id = 0;
  companion_chat_list_reload (self->chats);
  companion_conversation_view_refresh (COMPANION_CONVERSATION_VIEW (self->conversation));
  return G_SOURCE_REMOVE;
}

/* Reads once for a burst of changes, after DELAY_MS. */
static void
schedule_reload (CompanionWindow *self,
                 guint            delay_ms)
{
  if (self->reload_id == 0)
    self->reload_id = g_timeout_add (delay_ms, reload_now, self);
}

static void
on_sync_progress (CompanionWindow *self,
                  const char      *entity,
                  guint            records)
{
  g_autofree char *text = NULL;
  g_autofree char *count = NULL;

  self->synced_records += records;
  /* The phone does not say how much is coming: count what came. */
  count = g_strdup_printf ("%" G_GUINT64_FORMAT, self->synced_records);
  /* Translators: %s is a number of records (messages, chats, contacts…) received so far */
  text = g_strdup_printf (_("%s records received"), count);
  gtk_progress_bar_set_text (self->sync_bar, text);
  gtk_progress_bar_pulse (self->sync_bar);
  update_status (self);
  /* The chat list comes first in a snapshot: show it as it fills. */
  schedule_reload (self, 500);
}

static void
on_synced (CompanionWindow *self)
{
  update_status (self);
  schedule_reload (self, 50);
}

static void
on_sync_failed (CompanionWindow *self,
                GError          *error)
{
  companion_window_show_error (self, error->message);
}

static void
on_command_done (CompanionWindow *self,
                 const char      *client_id)
{
  /* The outbox changed: pending messages leave it. */
  schedule_reload (self, 50);
}

static void
on_command_failed (CompanionWindow *self,
                   const char      *client_id,
                   GError          *error)
{
  companion_window_show_error (self, error->message);
  schedule_reload (self, 50);
}

static void
on_folded_changed (CompanionWindow *self)
{
  if (self->conversation != NULL)
    companion_conversation_view_set_folded (COMPANION_CONVERSATION_VIEW (self->conversation),
                                            adw_leaflet_get_folded (self->leaflet));
}

static void
show_chats (GtkWidget  *widget,
            const char *action_name,
            GVariant   *parameter)
{
  CompanionWindow *self = COMPANION_WINDOW (widget);

  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_BACK);
}

/* Calls and search: the sidebar's other views. */

static void
stop_revealing (CompanionWindow *self)
{
  if (self->revealing != NULL)
    g_signal_handlers_disconnect_by_data (self->revealing, self);
  g_clear_object (&self->revealing);
  g_clear_pointer (&self->reveal_id, g_free);
}

/* Scrolls to the message searched for once its page is read, reading older
 * pages until it is there or the chat's start is reached. */
static void
on_reveal_loaded (CompanionWindow *self)
{
  CompanionMessageItem *item = companion_message_list_find (self->revealing, self->reveal_id);
  GListModel *model = G_LIST_MODEL (self->revealing);

  if (item == NULL)
    {
      if (companion_message_list_reached_start (self->revealing))
        stop_revealing (self);
      else
        companion_message_list_load_older (self->revealing);
      return;
    }
  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(GObject) at = g_list_model_get_item (model, i);

      if (at == (GObject *) item)
        {
          GtkListView *list = companion_conversation_view_get_list_view (COMPANION_CONVERSATION_VIEW (self->conversation));

          gtk_widget_activate_action (GTK_WIDGET (list), "list.scroll-to-item", "u", i);
          break;
        }
    }
  stop_revealing (self);
}

static void
on_open_message (CompanionWindow *self,
                 const char      *chat_id,
                 const char      *message_id)
{
  companion_window_open_chat_id (self, chat_id, message_id);
}

static void
on_changes_applied (CompanionWindow *self,
                    GPtrArray       *changes)
{
  for (guint i = 0; i < changes->len; i++)
    {
      CompanionChange *change = g_ptr_array_index (changes, i);

      if (change->entity == COMPANION_ENTITY_CALL || change->entity == COMPANION_ENTITY_CONTACT)
        {
          companion_calls_view_reload (self->calls_view);
          return;
        }
    }
}

static void
show_search (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  CompanionWindow *self = COMPANION_WINDOW (widget);

  if (!companion_desktop_server_is_paired (self->server))
    return;
  companion_window_show_sidebar_view (self, "search");
  companion_search_view_focus_entry (self->search_view);
}

/* The sidebar's title names the view it shows. */
static void
on_sidebar_view_changed (CompanionWindow *self)
{
  GtkWidget *header = gtk_widget_get_first_child (gtk_widget_get_parent (GTK_WIDGET (self->sidebar_stack)));
  GtkWidget *title = adw_header_bar_get_title_widget (ADW_HEADER_BAR (header));
  GtkWidget *visible = adw_view_stack_get_visible_child (self->sidebar_stack);

  if (ADW_IS_WINDOW_TITLE (title) && visible != NULL)
    adw_window_title_set_title (ADW_WINDOW_TITLE (title),
                                adw_view_stack_page_get_title (adw_view_stack_get_page (self->sidebar_stack, visible)));
}

/* The chat list's scroller becomes the first page of a view stack, with
 * the call log and search beside it and a switcher below. */
static void
add_sidebar_views (CompanionWindow *self)
{
  GtkWidget *scroller = gtk_widget_get_parent (GTK_WIDGET (self->chat_list_view));
  GtkWidget *sidebar = gtk_widget_get_parent (scroller);
  CompanionMirrorReader *reader = companion_engine_get_reader (self->engine);
  AdwViewStackPage *page;
  GtkWidget *switcher;

  g_assert (GTK_IS_SCROLLED_WINDOW (scroller));
  self->sidebar_stack = ADW_VIEW_STACK (adw_view_stack_new ());
  gtk_widget_set_vexpand (GTK_WIDGET (self->sidebar_stack), TRUE);
  g_object_ref (scroller);
  gtk_box_remove (GTK_BOX (sidebar), scroller);
  page = adw_view_stack_add_titled (self->sidebar_stack, scroller, "chats", _("Chats"));
  adw_view_stack_page_set_icon_name (page, "user-available-symbolic");
  g_object_unref (scroller);

  self->calls_view = companion_calls_view_new (reader);
  page = adw_view_stack_add_titled (self->sidebar_stack, GTK_WIDGET (self->calls_view), "calls", _("Calls"));
  adw_view_stack_page_set_icon_name (page, "call-start-symbolic");

  self->search_view = companion_search_view_new (reader);
  g_signal_connect_object (self->search_view, "open-message", G_CALLBACK (on_open_message), self,
                           G_CONNECT_SWAPPED);
  page = adw_view_stack_add_titled (self->sidebar_stack, GTK_WIDGET (self->search_view), "search", _("Search"));
  adw_view_stack_page_set_icon_name (page, "system-search-symbolic");

  switcher = adw_view_switcher_bar_new ();
  adw_view_switcher_bar_set_stack (ADW_VIEW_SWITCHER_BAR (switcher), self->sidebar_stack);
  adw_view_switcher_bar_set_reveal (ADW_VIEW_SWITCHER_BAR (switcher), TRUE);
  gtk_box_append (GTK_BOX (sidebar), GTK_WIDGET (self->sidebar_stack));
  gtk_box_append (GTK_BOX (sidebar), switcher);

  g_signal_connect_object (companion_engine_get_sync (self->engine), "changes-applied",
                           G_CALLBACK (on_changes_applied), self, G_CONNECT_SWAPPED);
  g_assert (ADW_IS_HEADER_BAR (gtk_widget_get_first_child (sidebar)));
  g_signal_connect_object (self->sidebar_stack, "notify::visible-child", G_CALLBACK (on_sidebar_view_changed),
                           self, G_CONNECT_SWAPPED);
}

static void
companion_window_dispose (GObject *object)
{
  CompanionWindow *self = COMPANION_WINDOW (object);

  g_clear_handle_id (&self->countdown_id, g_source_remove);
  g_clear_handle_id (&self->reload_id, g_source_remove);
  stop_revealing (self);
  g_clear_pointer (&self->pending_chat_id, g_free);
  g_clear_pointer (&self->pending_message_id, g_free);
  gtk_widget_dispose_template (GTK_WIDGET (self), COMPANION_TYPE_WINDOW);

  g_clear_object (&self->chat_selection);
  g_clear_object (&self->chats);
  g_clear_object (&self->server);
  g_clear_object (&self->engine);

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
  gtk_widget_class_bind_template_child (widget_class, CompanionWindow, pairing_header);
  gtk_widget_class_bind_template_child (widget_class, CompanionWindow, leaflet);
  gtk_widget_class_bind_template_child (widget_class, CompanionWindow, status_label);
  gtk_widget_class_bind_template_child (widget_class, CompanionWindow, sync_bar);
  gtk_widget_class_bind_template_child (widget_class, CompanionWindow, chat_list_view);
  gtk_widget_class_bind_template_child (widget_class, CompanionWindow, conversation_slot);
  gtk_widget_class_bind_template_callback (widget_class, on_folded_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_chat_activated);

  gtk_widget_class_install_action (widget_class, "win.unlink-phone", NULL, unlink_phone);
  gtk_widget_class_install_action (widget_class, "win.show-chats", NULL, show_chats);
  gtk_widget_class_install_action (widget_class, "win.search", NULL, show_search);
}

static void
companion_window_init (CompanionWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  if (g_str_has_suffix (APP_ID, ".Devel"))
    gtk_widget_add_css_class (GTK_WIDGET (self), "devel");
}

CompanionWindow *
companion_window_new (AdwApplication  *application,
                      CompanionEngine *engine,
                      const char      *key_store_warning)
{
  CompanionWindow *self;
  CompanionDesktopServer *server;
  CompanionDesktopSync *sync;

  g_return_val_if_fail (COMPANION_IS_ENGINE (engine), NULL);

  self = g_object_new (COMPANION_TYPE_WINDOW, "application", application, NULL);
  self->engine = g_object_ref (engine);
  server = companion_engine_get_server (engine);
  sync = companion_engine_get_sync (engine);
  self->server = g_object_ref (server);
  g_signal_connect_object (server, "offer-changed", G_CALLBACK (on_offer_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (server, "paired", G_CALLBACK (on_paired), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (server, "connected", G_CALLBACK (on_connected), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (server, "disconnected", G_CALLBACK (on_disconnected), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (server, "unlinked", G_CALLBACK (on_unlinked), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (server, "attempt-failed", G_CALLBACK (on_attempt_failed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (server, "pairing-started", G_CALLBACK (on_pairing_started), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (sync, "progress", G_CALLBACK (on_sync_progress), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (sync, "synced", G_CALLBACK (on_synced), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (sync, "failed", G_CALLBACK (on_sync_failed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (sync, "command-done", G_CALLBACK (on_command_done), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (sync, "command-failed", G_CALLBACK (on_command_failed), self, G_CONNECT_SWAPPED);

  self->chats = companion_chat_list_new (companion_engine_get_reader (engine));
  g_signal_connect_object (self->chats, "loaded", G_CALLBACK (on_chats_loaded), self, G_CONNECT_SWAPPED);
  self->chat_selection = gtk_single_selection_new (g_object_ref (G_LIST_MODEL (self->chats)));
  gtk_single_selection_set_autoselect (self->chat_selection, FALSE);
  gtk_single_selection_set_can_unselect (self->chat_selection, TRUE);
  gtk_single_selection_set_selected (self->chat_selection, GTK_INVALID_LIST_POSITION);
  gtk_list_view_set_model (self->chat_list_view, GTK_SELECTION_MODEL (self->chat_selection));
  gtk_list_view_set_factory (self->chat_list_view, chat_row_factory ());

  self->conversation = companion_conversation_view_new (engine);
  gtk_widget_set_hexpand (self->conversation, TRUE);
  gtk_box_append (self->conversation_slot, self->conversation);
  on_folded_changed (self);
  add_sidebar_views (self);

  if (key_store_warning != NULL)
    {
      gtk_label_set_label (self->keyring_label, key_store_warning);
      gtk_revealer_set_reveal_child (self->keyring_revealer, TRUE);
    }
  show_page (self);
  return self;
}

CompanionEngine *
companion_window_get_engine (CompanionWindow *self)
{
  g_return_val_if_fail (COMPANION_IS_WINDOW (self), NULL);
  return self->engine;
}

GtkListView *
companion_window_get_chat_list_view (CompanionWindow *self)
{
  g_return_val_if_fail (COMPANION_IS_WINDOW (self), NULL);
  return self->chat_list_view;
}

CompanionChatList *
companion_window_get_chat_list (CompanionWindow *self)
{
  g_return_val_if_fail (COMPANION_IS_WINDOW (self), NULL);
  return self->chats;
}

CompanionConversationView *
companion_window_get_conversation (CompanionWindow *self)
{
  g_return_val_if_fail (COMPANION_IS_WINDOW (self), NULL);
  return COMPANION_CONVERSATION_VIEW (self->conversation);
}

const char *
companion_window_get_status (CompanionWindow *self)
{
  g_return_val_if_fail (COMPANION_IS_WINDOW (self), NULL);
  return gtk_label_get_label (self->status_label);
}

void
companion_window_open_chat (CompanionWindow *self,
                            guint            position)
{
  g_autoptr(CompanionChatItem) item = NULL;

  g_return_if_fail (COMPANION_IS_WINDOW (self));

  item = g_list_model_get_item (G_LIST_MODEL (self->chats), position);
  if (item == NULL)
    return;
  gtk_single_selection_set_selected (self->chat_selection, position);
  companion_conversation_view_set_chat (COMPANION_CONVERSATION_VIEW (self->conversation), item);
  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_FORWARD);
}

void
companion_window_show_error (CompanionWindow *self,
                             const char      *message)
{
  g_return_if_fail (COMPANION_IS_WINDOW (self));

  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (message));
}

void
companion_window_open_chat_id (CompanionWindow *self,
                               const char      *chat_id,
                               const char      *message_id)
{
  CompanionChatItem *item;
  GListModel *chats;

  g_return_if_fail (COMPANION_IS_WINDOW (self));
  g_return_if_fail (chat_id != NULL);

  /* A chat the list has not read yet (a notification for a new chat)
   * opens when it has. */
  item = companion_chat_list_find (self->chats, chat_id);
  g_clear_pointer (&self->pending_chat_id, g_free);
  g_clear_pointer (&self->pending_message_id, g_free);
  if (item == NULL)
    {
      self->pending_chat_id = g_strdup (chat_id);
      self->pending_message_id = g_strdup (message_id);
      companion_chat_list_reload (self->chats);
      return;
    }
  chats = G_LIST_MODEL (self->chats);
  for (guint i = 0; i < g_list_model_get_n_items (chats); i++)
    {
      g_autoptr(CompanionChatItem) at = g_list_model_get_item (chats, i);

      if (at == item)
        {
          companion_window_open_chat (self, i);
          break;
        }
    }

  stop_revealing (self);
  if (message_id == NULL)
    return;
  self->revealing = g_object_ref (companion_conversation_view_get_messages (COMPANION_CONVERSATION_VIEW (self->conversation)));
  self->reveal_id = g_strdup (message_id);
  g_signal_connect_object (self->revealing, "loaded", G_CALLBACK (on_reveal_loaded), self, G_CONNECT_SWAPPED);
  if (companion_message_list_is_loaded (self->revealing))
    on_reveal_loaded (self);
}

void
companion_window_show_sidebar_view (CompanionWindow *self,
                                    const char      *name)
{
  g_return_if_fail (COMPANION_IS_WINDOW (self));

  adw_view_stack_set_visible_child_name (self->sidebar_stack, name);
  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_BACK);
}

void
companion_window_search (CompanionWindow *self,
                         const char      *text)
{
  g_return_if_fail (COMPANION_IS_WINDOW (self));
  g_return_if_fail (text != NULL);

  companion_window_show_sidebar_view (self, "search");
  companion_search_view_set_text (self->search_view, text);
}
