/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-conversation-view"

#include "config.h"

#include <glib/gi18n.h>

#include "companion-conversation-view.h"
#include "companion-image-viewer.h"
#include "companion-message-row.h"

/* Closer to the top than this many page heights reads an older page. */
#define LOAD_OLDER_MARGIN 1.0
/* Within this many pixels of the end counts as at the bottom. */
#define BOTTOM_SLACK 32.0

struct _CompanionConversationView
{
  GtkWidget             parent_instance;

  CompanionEngine      *engine;
  CompanionChatItem    *chat;
  CompanionMessageList *messages;
  GHashTable           *opening;       /* media hashes to open once downloaded */
  gboolean              stick_to_bottom;
  gboolean              bottom_pending;  /* go to the last row once it is laid out */

  GtkWidget            *box;
  GtkButton            *back_button;
  AdwWindowTitle       *title;
  AdwToastOverlay      *toasts;
  GtkStack             *stack;
  GtkScrolledWindow    *scroller;
  GtkListView          *list_view;
  GtkNoSelection       *selection;
  GtkTextView          *composer;
  GtkWidget            *composer_box;
};

G_DEFINE_FINAL_TYPE (CompanionConversationView, companion_conversation_view, GTK_TYPE_WIDGET)

static void
toast (CompanionConversationView *self,
       const char                *message)
{
  adw_toast_overlay_add_toast (self->toasts, adw_toast_new (message));
}

/* Scrolling. */

/* The list keeps its anchor, here the last row's end, where it is while
 * rows are measured, grow or come before it. GTK 4.8 scrolls only to a row
 * already laid out, and ignores adjustment values set while it lays out:
 * the scroll waits for the list's allocation (see size_allocate below). */
static void
scroll_to_bottom (CompanionConversationView *self)
{
  self->bottom_pending = TRUE;
  gtk_widget_queue_allocate (GTK_WIDGET (self->list_view));
}

static void
on_scrolled (CompanionConversationView *self,
             GtkAdjustment             *adjustment)
{
  double value = gtk_adjustment_get_value (adjustment);
  double page = gtk_adjustment_get_page_size (adjustment);

  self->stick_to_bottom = value + page >= gtk_adjustment_get_upper (adjustment) - BOTTOM_SLACK;
  if (self->messages != NULL && value < page * LOAD_OLDER_MARGIN)
    companion_message_list_load_older (self->messages);
}

static void
on_messages_changed (CompanionConversationView *self,
                     guint                      position,
                     guint                      removed,
                     guint                      added,
                     GListModel                *model)
{
  if (added > 0 && position + added == g_list_model_get_n_items (model) && self->stick_to_bottom)
    scroll_to_bottom (self);
}

static void
on_messages_loaded (CompanionConversationView *self)
{
  gtk_stack_set_visible_child_name (self->stack,
                                    g_list_model_get_n_items (G_LIST_MODEL (self->messages)) > 0 ? "messages" : "empty");
  if (self->stick_to_bottom)
    scroll_to_bottom (self);
}

/* Rows. */

static void
setup_row (GtkSignalListItemFactory *factory,
           GtkListItem              *list_item)
{
  gtk_list_item_set_child (list_item, companion_message_row_new ());
  gtk_list_item_set_activatable (list_item, FALSE);
  gtk_list_item_set_selectable (list_item, FALSE);
}

static void
bind_row (GtkSignalListItemFactory *factory,
          GtkListItem              *list_item)
{
  companion_message_row_set_item (COMPANION_MESSAGE_ROW (gtk_list_item_get_child (list_item)),
                                  gtk_list_item_get_item (list_item));
}

static void
unbind_row (GtkSignalListItemFactory *factory,
            GtkListItem              *list_item)
{
  companion_message_row_set_item (COMPANION_MESSAGE_ROW (gtk_list_item_get_child (list_item)), NULL);
}

/* Sending. */

static void
send_text (CompanionConversationView *self)
{
  g_autoptr(JsonObject) fields = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *client_id = NULL;
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->composer);
  GtkTextIter start, end;

  if (self->chat == NULL)
    return;
  gtk_text_buffer_get_bounds (buffer, &start, &end);
  text = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
  g_strstrip (text);
  if (*text == '\0')
    return;

  fields = json_object_new ();
  json_object_set_string_member (fields, "chat", companion_chat_item_get_id (self->chat));
  json_object_set_string_member (fields, "text", text);
  client_id = companion_desktop_sync_queue_command (companion_engine_get_sync (self->engine),
                                                    "message-out", fields, &error);
  if (client_id == NULL)
    {
      toast (self, error->message);
      return;
    }
  g_debug ("Queued message %s", client_id);
  gtk_text_buffer_set_text (buffer, "", 0);
  /* The new message shows as pending at once, and at the bottom. */
  self->stick_to_bottom = TRUE;
  companion_message_list_refresh (self->messages);
}

static void
send_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  send_text (COMPANION_CONVERSATION_VIEW (widget));
}

static gboolean
on_composer_key (CompanionConversationView *self,
                 guint                      keyval,
                 guint                      keycode,
                 GdkModifierType            state,
                 GtkEventControllerKey     *controller)
{
  if ((keyval == GDK_KEY_Return || keyval == GDK_KEY_KP_Enter) &&
      (state & (GDK_SHIFT_MASK | GDK_CONTROL_MASK | GDK_ALT_MASK)) == 0)
    {
      send_text (self);
      return TRUE;
    }
  return FALSE;
}

static void
on_file_sent (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(CompanionConversationView) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *client_id = NULL;

  client_id = companion_desktop_sync_send_file_finish (COMPANION_DESKTOP_SYNC (source), result, &error);
  if (client_id == NULL)
    {
      if (self->engine != NULL)
        toast (self, error->message);
      return;
    }
  g_debug ("Queued file %s", client_id);
  if (self->messages != NULL)
    {
      self->stick_to_bottom = TRUE;
      companion_message_list_refresh (self->messages);
    }
}

void
companion_conversation_view_send_file (CompanionConversationView *self,
                                       GFile                     *file)
{
  g_return_if_fail (COMPANION_IS_CONVERSATION_VIEW (self));
  g_return_if_fail (G_IS_FILE (file));

  if (self->chat == NULL)
    return;
  companion_desktop_sync_send_file_async (companion_engine_get_sync (self->engine),
                                          companion_chat_item_get_id (self->chat), file, NULL, NULL,
                                          on_file_sent, g_object_ref (self));
}

static void
on_file_chosen (GtkNativeDialog           *dialog,
                int                        response,
                CompanionConversationView *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      if (file != NULL)
        companion_conversation_view_send_file (self, file);
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

static void
attach_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  CompanionConversationView *self = COMPANION_CONVERSATION_VIEW (widget);
  GtkFileChooserNative *chooser;

  chooser = gtk_file_chooser_native_new (_("Send a File"),
                                         GTK_WINDOW (gtk_widget_get_root (widget)),
                                         GTK_FILE_CHOOSER_ACTION_OPEN,
                                         _("_Send"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect_object (chooser, "response", G_CALLBACK (on_file_chosen), self, 0);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static gboolean
on_drop (CompanionConversationView *self,
         const GValue              *value,
         double                     x,
         double                     y,
         GtkDropTarget             *target)
{
  if (!G_VALUE_HOLDS (value, G_TYPE_FILE) || self->chat == NULL)
    return FALSE;
  companion_conversation_view_send_file (self, g_value_get_object (value));
  return TRUE;
}

/* Media. */

static void
set_download (CompanionConversationView *self,
              const char                *hash,
              double                     fraction)
{
  guint n;

  if (self->messages == NULL)
    return;
  n = g_list_model_get_n_items (G_LIST_MODEL (self->messages));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(CompanionMessageItem) item = g_list_model_get_item (G_LIST_MODEL (self->messages), i);
      if (g_strcmp0 (companion_message_item_get_media_hash (item), hash) == 0)
        companion_message_item_set_download (item, fraction);
    }
}

static JsonObject *
find_media (CompanionConversationView *self,
            const char                *hash)
{
  guint n = self->messages != NULL ? g_list_model_get_n_items (G_LIST_MODEL (self->messages)) : 0;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(CompanionMessageItem) item = g_list_model_get_item (G_LIST_MODEL (self->messages), i);
      if (g_strcmp0 (companion_message_item_get_media_hash (item), hash) == 0)
        return companion_message_item_get_media (item);
    }
  return NULL;
}

static void
on_launched (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(CompanionConversationView) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_app_info_launch_default_for_uri_finish (result, &error) && self->engine != NULL)
    toast (self, error->message);
}

typedef struct
{
  CompanionConversationView *view;
  char                      *kind;
  char                      *name;
} MediaOpen;

static void
media_open_free (MediaOpen *open)
{
  g_object_unref (open->view);
  g_free (open->kind);
  g_free (open->name);
  g_free (open);
}

static void
on_media_path (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  MediaOpen *open = user_data;
  CompanionConversationView *self = open->view;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GFile) file = NULL;

  path = companion_mirror_reader_media_path_finish (COMPANION_MIRROR_READER (source), result, &error);
  if (path == NULL || self->engine == NULL)
    {
      if (self->engine != NULL)
        toast (self, error != NULL ? error->message : _("The file is not on this computer yet"));
      media_open_free (open);
      return;
    }
  file = g_file_new_for_path (path);
  if (g_strcmp0 (open->kind, "image") == 0)
    {
      GtkWidget *viewer = companion_image_viewer_new (GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (self))),
                                                      file, open->name);
      gtk_window_present (GTK_WINDOW (viewer));
    }
  else
    {
      g_autofree char *uri = g_file_get_uri (file);
      g_app_info_launch_default_for_uri_async (uri, NULL, NULL, on_launched, g_object_ref (self));
    }
  media_open_free (open);
}

static void
open_downloaded (CompanionConversationView *self,
                 const char                *hash)
{
  JsonObject *media = find_media (self, hash);
  MediaOpen *open = g_new0 (MediaOpen, 1);

  open->view = g_object_ref (self);
  open->kind = g_strdup (media != NULL ? json_object_get_string_member_with_default (media, "kind", "") : "");
  open->name = g_strdup (media != NULL ? json_object_get_string_member_with_default (media, "name", "") : "");
  companion_mirror_reader_media_path_async (companion_engine_get_reader (self->engine), hash, NULL,
                                            on_media_path, open);
}

static void
on_media_progress (CompanionConversationView *self,
                   const char                *hash,
                   guint64                    received,
                   guint64                    size)
{
  set_download (self, hash, size > 0 ? (double) received / (double) size : 0);
}

static void
on_media_complete (CompanionConversationView *self,
                   const char                *hash)
{
  set_download (self, hash, -1);
  if (g_hash_table_remove (self->opening, hash))
    open_downloaded (self, hash);
}

static void
on_media_failed (CompanionConversationView *self,
                 const char                *hash,
                 GError                    *error)
{
  set_download (self, hash, -1);
  if (g_hash_table_remove (self->opening, hash))
    toast (self, error->message);
}

static void
open_media_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  CompanionConversationView *self = COMPANION_CONVERSATION_VIEW (widget);
  const char *hash = g_variant_get_string (parameter, NULL);
  g_autoptr(GError) error = NULL;

  /* "complete" comes at once for a file already here. */
  g_hash_table_add (self->opening, g_strdup (hash));
  set_download (self, hash, 0);
  if (!companion_media_transfer_request (companion_engine_get_media (self->engine), hash, &error))
    {
      g_hash_table_remove (self->opening, hash);
      set_download (self, hash, -1);
      toast (self, error->message);
    }
}

/* The widget. */

static void
companion_conversation_view_size_allocate (GtkWidget *widget,
                                           int        width,
                                           int        height,
                                           int        baseline)
{
  CompanionConversationView *self = COMPANION_CONVERSATION_VIEW (widget);
  guint n = self->messages != NULL ? g_list_model_get_n_items (G_LIST_MODEL (self->messages)) : 0;

  gtk_widget_allocate (self->box, width, height, baseline, NULL);
  /* The rows are laid out now, so the list can anchor to the last one;
   * laid out again at once, this very frame shows the end. */
  if (self->bottom_pending && n > 0 && gtk_widget_get_mapped (GTK_WIDGET (self->list_view)))
    {
      self->bottom_pending = FALSE;
      gtk_widget_activate_action (GTK_WIDGET (self->list_view), "list.scroll-to-item", "u", n - 1);
      gtk_widget_allocate (self->box, width, height, baseline, NULL);
    }
}

static void
companion_conversation_view_measure (GtkWidget      *widget,
                                     GtkOrientation  orientation,
                                     int             for_size,
                                     int            *minimum,
                                     int            *natural,
                                     int            *minimum_baseline,
                                     int            *natural_baseline)
{
  gtk_widget_measure (COMPANION_CONVERSATION_VIEW (widget)->box, orientation, for_size,
                      minimum, natural, minimum_baseline, natural_baseline);
}

static void
companion_conversation_view_dispose (GObject *object)
{
  CompanionConversationView *self = COMPANION_CONVERSATION_VIEW (object);

  companion_conversation_view_set_chat (self, NULL);
  g_clear_pointer (&self->box, gtk_widget_unparent);
  g_clear_object (&self->selection);
  g_clear_object (&self->engine);

  G_OBJECT_CLASS (companion_conversation_view_parent_class)->dispose (object);
}

static void
companion_conversation_view_finalize (GObject *object)
{
  CompanionConversationView *self = COMPANION_CONVERSATION_VIEW (object);

  g_clear_pointer (&self->opening, g_hash_table_unref);

  G_OBJECT_CLASS (companion_conversation_view_parent_class)->finalize (object);
}

static void
companion_conversation_view_class_init (CompanionConversationViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = companion_conversation_view_dispose;
  object_class->finalize = companion_conversation_view_finalize;

  widget_class->size_allocate = companion_conversation_view_size_allocate;
  widget_class->measure = companion_conversation_view_measure;
  gtk_widget_class_set_css_name (widget_class, "conversation");
  gtk_widget_class_install_action (widget_class, "conversation.send", NULL, send_action);
  gtk_widget_class_install_action (widget_class, "conversation.attach", NULL, attach_action);
  gtk_widget_class_install_action (widget_class, "conversation.open-media", "s", open_media_action);
}

static GtkWidget *
icon_button (const char *icon_name,
             const char *action_name,
             const char *label)
{
  GtkWidget *button = gtk_button_new_from_icon_name (icon_name);

  gtk_actionable_set_action_name (GTK_ACTIONABLE (button), action_name);
  gtk_widget_set_tooltip_text (button, label);
  gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
  gtk_widget_set_valign (button, GTK_ALIGN_END);
  return button;
}

static void
companion_conversation_view_init (CompanionConversationView *self)
{
  g_autoptr(GtkListItemFactory) factory = gtk_signal_list_item_factory_new ();
  GtkWidget *header, *composer_scroller, *send, *attach, *empty;
  GtkEventController *keys;
  GtkDropTarget *drop;
  GtkAdjustment *adjustment;

  self->opening = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->stick_to_bottom = TRUE;

  self->box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  gtk_widget_set_parent (self->box, GTK_WIDGET (self));

  header = adw_header_bar_new ();
  self->back_button = GTK_BUTTON (gtk_button_new_from_icon_name ("go-previous-symbolic"));
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->back_button), "win.show-chats");
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->back_button), _("Back to Chats"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->back_button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Back to Chats"), -1);
  gtk_widget_set_visible (GTK_WIDGET (self->back_button), FALSE);
  adw_header_bar_pack_start (ADW_HEADER_BAR (header), GTK_WIDGET (self->back_button));
  self->title = ADW_WINDOW_TITLE (adw_window_title_new ("", NULL));
  adw_header_bar_set_title_widget (ADW_HEADER_BAR (header), GTK_WIDGET (self->title));
  adw_header_bar_set_show_start_title_buttons (ADW_HEADER_BAR (header), FALSE);
  gtk_box_append (GTK_BOX (self->box), header);

  self->toasts = ADW_TOAST_OVERLAY (adw_toast_overlay_new ());
  gtk_widget_set_vexpand (GTK_WIDGET (self->toasts), TRUE);
  gtk_box_append (GTK_BOX (self->box), GTK_WIDGET (self->toasts));
  self->stack = GTK_STACK (gtk_stack_new ());
  adw_toast_overlay_set_child (self->toasts, GTK_WIDGET (self->stack));

  empty = adw_status_page_new ();
  adw_status_page_set_icon_name (ADW_STATUS_PAGE (empty), "mail-unread-symbolic");
  adw_status_page_set_title (ADW_STATUS_PAGE (empty), _("No Chat Selected"));
  adw_status_page_set_description (ADW_STATUS_PAGE (empty), _("Choose a chat to read and write its messages."));
  gtk_stack_add_named (self->stack, empty, "none");
  empty = adw_status_page_new ();
  adw_status_page_set_title (ADW_STATUS_PAGE (empty), _("No Messages"));
  gtk_stack_add_named (self->stack, empty, "empty");

  g_signal_connect (factory, "setup", G_CALLBACK (setup_row), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_row), NULL);
  g_signal_connect (factory, "unbind", G_CALLBACK (unbind_row), NULL);
  self->selection = gtk_no_selection_new (NULL);
  self->list_view = GTK_LIST_VIEW (gtk_list_view_new (GTK_SELECTION_MODEL (g_object_ref (self->selection)),
                                                      g_object_ref (factory)));
  gtk_widget_add_css_class (GTK_WIDGET (self->list_view), "messages");
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->list_view), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Messages"), -1);
  self->scroller = GTK_SCROLLED_WINDOW (gtk_scrolled_window_new ());
  gtk_scrolled_window_set_policy (self->scroller, GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_child (self->scroller, GTK_WIDGET (self->list_view));
  gtk_stack_add_named (self->stack, GTK_WIDGET (self->scroller), "messages");
  adjustment = gtk_scrolled_window_get_vadjustment (self->scroller);
  g_signal_connect_object (adjustment, "value-changed", G_CALLBACK (on_scrolled), self, G_CONNECT_SWAPPED);
  gtk_stack_set_visible_child_name (self->stack, "none");

  self->composer_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_widget_add_css_class (self->composer_box, "composer");
  gtk_box_append (GTK_BOX (self->box), self->composer_box);
  attach = icon_button ("mail-attachment-symbolic", "conversation.attach", _("Attach a File"));
  gtk_box_append (GTK_BOX (self->composer_box), attach);
  composer_scroller = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (composer_scroller), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_propagate_natural_height (GTK_SCROLLED_WINDOW (composer_scroller), TRUE);
  gtk_scrolled_window_set_max_content_height (GTK_SCROLLED_WINDOW (composer_scroller), 160);
  gtk_widget_set_hexpand (composer_scroller, TRUE);
  self->composer = GTK_TEXT_VIEW (gtk_text_view_new ());
  gtk_text_view_set_wrap_mode (self->composer, GTK_WRAP_WORD_CHAR);
  gtk_text_view_set_accepts_tab (self->composer, FALSE);
  gtk_widget_add_css_class (GTK_WIDGET (self->composer), "composer-text");
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->composer), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Message"), -1);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (composer_scroller), GTK_WIDGET (self->composer));
  gtk_box_append (GTK_BOX (self->composer_box), composer_scroller);
  send = icon_button ("document-send-symbolic", "conversation.send", _("Send"));
  gtk_widget_add_css_class (send, "suggested-action");
  gtk_box_append (GTK_BOX (self->composer_box), send);
  gtk_widget_set_sensitive (self->composer_box, FALSE);

  keys = gtk_event_controller_key_new ();
  gtk_event_controller_set_propagation_phase (keys, GTK_PHASE_CAPTURE);
  g_signal_connect_object (keys, "key-pressed", G_CALLBACK (on_composer_key), self, G_CONNECT_SWAPPED);
  gtk_widget_add_controller (GTK_WIDGET (self->composer), keys);

  drop = gtk_drop_target_new (G_TYPE_FILE, GDK_ACTION_COPY);
  g_signal_connect_object (drop, "drop", G_CALLBACK (on_drop), self, G_CONNECT_SWAPPED);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drop));
}

GtkWidget *
companion_conversation_view_new (CompanionEngine *engine)
{
  CompanionConversationView *self;
  CompanionMediaTransfer *media;

  g_return_val_if_fail (COMPANION_IS_ENGINE (engine), NULL);

  self = g_object_new (COMPANION_TYPE_CONVERSATION_VIEW, NULL);
  self->engine = g_object_ref (engine);
  media = companion_engine_get_media (engine);
  g_signal_connect_object (media, "progress", G_CALLBACK (on_media_progress), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (media, "complete", G_CALLBACK (on_media_complete), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (media, "failed", G_CALLBACK (on_media_failed), self, G_CONNECT_SWAPPED);
  return GTK_WIDGET (self);
}

static void
mark_read (CompanionConversationView *self)
{
  g_autoptr(JsonObject) fields = json_object_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *client_id = NULL;

  json_object_set_string_member (fields, "chat", companion_chat_item_get_id (self->chat));
  client_id = companion_desktop_sync_queue_command (companion_engine_get_sync (self->engine), "read", fields, &error);
  if (client_id == NULL)
    g_debug ("Cannot mark %s read: %s", companion_chat_item_get_id (self->chat), error->message);
}

void
companion_conversation_view_set_chat (CompanionConversationView *self,
                                      CompanionChatItem         *chat)
{
  g_return_if_fail (COMPANION_IS_CONVERSATION_VIEW (self));

  if (self->chat == chat)
    return;
  if (self->messages != NULL)
    g_signal_handlers_disconnect_by_data (self->messages, self);
  gtk_no_selection_set_model (self->selection, NULL);
  g_clear_object (&self->messages);
  g_set_object (&self->chat, chat);
  g_hash_table_remove_all (self->opening);

  gtk_widget_set_sensitive (self->composer_box, chat != NULL);
  if (chat == NULL)
    {
      adw_window_title_set_title (self->title, "");
      gtk_stack_set_visible_child_name (self->stack, "none");
      return;
    }

  adw_window_title_set_title (self->title, companion_chat_item_get_title (chat));
  self->messages = companion_message_list_new (companion_engine_get_reader (self->engine),
                                               companion_chat_item_get_id (chat),
                                               companion_chat_item_is_group (chat));
  g_signal_connect_object (self->messages, "items-changed", G_CALLBACK (on_messages_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->messages, "loaded", G_CALLBACK (on_messages_loaded), self, G_CONNECT_SWAPPED);
  gtk_no_selection_set_model (self->selection, G_LIST_MODEL (self->messages));
  self->stick_to_bottom = TRUE;
  companion_message_list_refresh (self->messages);
  if (companion_chat_item_get_unread (chat) > 0)
    mark_read (self);
  gtk_widget_grab_focus (GTK_WIDGET (self->composer));
}

CompanionChatItem *
companion_conversation_view_get_chat (CompanionConversationView *self)
{
  g_return_val_if_fail (COMPANION_IS_CONVERSATION_VIEW (self), NULL);
  return self->chat;
}

void
companion_conversation_view_set_folded (CompanionConversationView *self,
                                        gboolean                   folded)
{
  g_return_if_fail (COMPANION_IS_CONVERSATION_VIEW (self));
  gtk_widget_set_visible (GTK_WIDGET (self->back_button), folded);
}

void
companion_conversation_view_refresh (CompanionConversationView *self)
{
  g_return_if_fail (COMPANION_IS_CONVERSATION_VIEW (self));

  if (self->messages != NULL)
    companion_message_list_refresh (self->messages);
  if (self->chat != NULL)
    adw_window_title_set_title (self->title, companion_chat_item_get_title (self->chat));
}

CompanionMessageList *
companion_conversation_view_get_messages (CompanionConversationView *self)
{
  g_return_val_if_fail (COMPANION_IS_CONVERSATION_VIEW (self), NULL);
  return self->messages;
}

GtkListView *
companion_conversation_view_get_list_view (CompanionConversationView *self)
{
  g_return_val_if_fail (COMPANION_IS_CONVERSATION_VIEW (self), NULL);
  return self->list_view;
}

GtkTextView *
companion_conversation_view_get_composer (CompanionConversationView *self)
{
  g_return_val_if_fail (COMPANION_IS_CONVERSATION_VIEW (self), NULL);
  return self->composer;
}
