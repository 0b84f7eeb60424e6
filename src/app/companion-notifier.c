/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-notifier"

#include "config.h"

#include <glib/gi18n.h>
#include <gtk/gtk.h>

#include "companion-name-cache.h"
#include "companion-notifier.h"
#include "companion-record.h"

/* A notification shows the start of a message, not all of it. */
#define BODY_MAX_CHARS 200
/* What arrived shortly before the start is still news when it is synced. */
#define START_GRACE_MS (60 * 1000)
/* Message and call ids already considered; forgotten past this many, when
 * the time watermark alone keeps old records from notifying again. */
#define SEEN_MAX 4096

struct _CompanionNotifier
{
  GObject                parent_instance;

  GApplication          *application; /* weak: the application owns us */
  CompanionDesktopSync  *sync;
  CompanionNameCache    *names;
  GSettings             *settings;
  GCancellable          *cancellable;
  /* ms: records older than this are edits, reactions or receipts of what
   * was there before, never news. */
  gint64                 watermark;
  GHashTable            *seen;
};

G_DEFINE_FINAL_TYPE (CompanionNotifier, companion_notifier, G_TYPE_OBJECT)

static gboolean
notifications_enabled (CompanionNotifier *self)
{
  return self->settings == NULL || g_settings_get_boolean (self->settings, "notifications-enabled");
}

static gboolean
application_is_focused (CompanionNotifier *self)
{
  if (!GTK_IS_APPLICATION (self->application))
    return FALSE;
  /* Any window with the focus means the user sees the news already. */
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self->application)); l != NULL; l = l->next)
    if (gtk_window_is_active (l->data))
      return TRUE;
  return FALSE;
}

/* Cuts TEXT to at most BODY_MAX_CHARS characters, on a character boundary. */
static char *
shorten (const char *text)
{
  g_autofree char *head = NULL;

  if (g_utf8_strlen (text, -1) <= BODY_MAX_CHARS)
    return g_strdup (text);
  head = g_utf8_substring (text, 0, BODY_MAX_CHARS);
  return g_strconcat (head, "…", NULL);
}

static void
send_message_notification (CompanionNotifier *self,
                           JsonObject        *message)
{
  g_autoptr(GNotification) notification = NULL;
  g_autofree char *id = NULL;
  g_autofree char *title = NULL;
  g_autofree char *body = NULL;
  const char *chat_id = json_object_get_string_member (message, "chat");
  JsonObject *chat = companion_name_cache_get_chat (self->names, chat_id);
  const char *chat_title = companion_name_cache_get_chat_title (self->names, chat_id);
  const char *sender = companion_name_cache_get_contact_name (self->names,
                                                              json_object_get_string_member (message, "from"));
  const char *text = json_object_get_string_member_with_default (message, "text", "");

  if (g_str_equal (json_object_get_string_member (chat, "kind"), "group") && *chat_title != '\0')
    /* Translators: a notification's title: a person's name, then a group chat's title */
    title = g_strdup_printf (_("%s in %s"), sender, chat_title);
  else
    title = g_strdup (*chat_title != '\0' ? chat_title : sender);

  if (*text != '\0')
    body = shorten (text);
  else
    body = g_strdup (_("Sent an attachment"));

  notification = g_notification_new (title);
  g_notification_set_body (notification, body);
  g_notification_set_category (notification, "im.received");
  g_notification_set_default_action_and_target (notification, "app.open-chat", "s", chat_id);
  /* One notification a chat: the newest message replaces the last one. */
  id = g_strconcat ("chat-", chat_id, NULL);
  g_debug ("Notifying a message in chat %s", chat_id);
  g_application_send_notification (self->application, id, notification);
}

static void
send_call_notification (CompanionNotifier *self,
                        JsonObject        *call)
{
  g_autoptr(GNotification) notification = NULL;
  g_autoptr(GString) names = g_string_new (NULL);
  g_autofree char *id = NULL;
  const char *kind = json_object_get_string_member (call, "kind");
  JsonArray *participants = json_object_get_array_member (call, "participants");

  for (guint i = 0; i < json_array_get_length (participants); i++)
    g_string_append_printf (names, "%s%s", i > 0 ? ", " : "",
                            companion_name_cache_get_contact_name (self->names,
                                                                   json_array_get_string_element (participants, i)));
  notification = g_notification_new (g_str_equal (kind, "video") ? _("Missed Video Call") : _("Missed Call"));
  g_notification_set_body (notification, names->str);
  g_notification_set_category (notification, "call.unanswered");
  g_notification_set_default_action (notification, "app.show-calls");
  id = g_strconcat ("call-", json_object_get_string_member (call, "id"), NULL);
  g_debug ("Notifying missed call %s", json_object_get_string_member (call, "id"));
  g_application_send_notification (self->application, id, notification);
}

/* Messages and calls to announce once their names are read. */
typedef struct
{
  CompanionNotifier *self;
  GPtrArray         *news;  /* JsonObject * */
} Announcement;

static void
announcement_free (Announcement *announcement)
{
  g_object_unref (announcement->self);
  g_ptr_array_unref (announcement->news);
  g_free (announcement);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Announcement, announcement_free)

static void
on_names_resolved (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(Announcement) announcement = user_data;
  g_autoptr(GError) error = NULL;
  CompanionNotifier *self = announcement->self;
  GPtrArray *news = announcement->news;

  if (!companion_name_cache_resolve_finish (COMPANION_NAME_CACHE (source), result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("Cannot read the names for a notification: %s", error->message);
      return;
    }
  /* Checked last: the user may have come back while names were read. */
  if (self->application == NULL || !notifications_enabled (self) || application_is_focused (self))
    return;

  for (guint i = 0; i < news->len; i++)
    {
      JsonObject *record = g_ptr_array_index (news, i);

      if (json_object_has_member (record, "chat"))
        {
          JsonObject *chat = companion_name_cache_get_chat (self->names,
                                                            json_object_get_string_member (record, "chat"));

          /* A chat deleted since, or muted, says nothing. */
          if (chat != NULL && !json_object_get_boolean_member_with_default (chat, "muted", FALSE))
            send_message_notification (self, record);
        }
      else
        send_call_notification (self, record);
    }
}

/* Whether RECORD (a message or call with "id" and "time") is news, and
 * remembers it either way so a later edit or reaction of it is not. */
static gboolean
is_news (CompanionNotifier *self,
         JsonObject        *record)
{
  const char *id = json_object_get_string_member (record, "id");
  gint64 time = json_object_get_int_member (record, "time");
  gboolean news;

  news = time >= self->watermark && !g_hash_table_contains (self->seen, id);
  if (g_hash_table_size (self->seen) >= SEEN_MAX)
    g_hash_table_remove_all (self->seen);
  g_hash_table_add (self->seen, g_strdup (id));
  return news;
}

static gboolean
is_incoming_message (JsonObject *record)
{
  return json_object_get_string_member_with_default (record, "from", NULL) != NULL &&
         !json_object_get_boolean_member_with_default (record, "deleted", FALSE) &&
         !json_object_has_member (record, "edited_at");
}

static void
on_changes_applied (CompanionNotifier *self,
                    GPtrArray         *changes)
{
  g_autoptr(GHashTable) newest_by_chat = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) news = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  g_autoptr(GStrvBuilder) chat_ids = g_strv_builder_new ();
  g_autoptr(GStrvBuilder) contact_ids = g_strv_builder_new ();
  g_auto(GStrv) chats = NULL;
  g_auto(GStrv) contacts = NULL;
  Announcement *announcement;
  gint64 newest = self->watermark;
  GHashTableIter iter;
  gpointer value;

  companion_name_cache_forget_changed (self->names, changes);
  for (guint i = 0; i < changes->len; i++)
    {
      CompanionChange *change = g_ptr_array_index (changes, i);
      JsonObject *record = change->record;

      if (change->is_delete || (change->entity != COMPANION_ENTITY_MESSAGE &&
                                change->entity != COMPANION_ENTITY_CALL))
        continue;
      newest = MAX (newest, json_object_get_int_member (record, "time"));
      if (!is_news (self, record))
        continue;
      if (change->entity == COMPANION_ENTITY_MESSAGE && is_incoming_message (record))
        /* The batch is in order: the last message of a chat wins. */
        g_hash_table_replace (newest_by_chat, (gpointer) json_object_get_string_member (record, "chat"), record);
      else if (change->entity == COMPANION_ENTITY_CALL &&
               json_object_get_boolean_member_with_default (record, "missed", FALSE))
        {
          JsonArray *participants = json_object_get_array_member (record, "participants");

          for (guint p = 0; p < json_array_get_length (participants); p++)
            g_strv_builder_add (contact_ids, json_array_get_string_element (participants, p));
          g_ptr_array_add (news, json_object_ref (record));
        }
    }
  self->watermark = newest;

  g_hash_table_iter_init (&iter, newest_by_chat);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      g_strv_builder_add (chat_ids, json_object_get_string_member (value, "chat"));
      g_strv_builder_add (contact_ids, json_object_get_string_member (value, "from"));
      g_ptr_array_add (news, json_object_ref (value));
    }
  if (news->len == 0 || !notifications_enabled (self))
    return;

  announcement = g_new0 (Announcement, 1);
  announcement->self = g_object_ref (self);
  announcement->news = g_steal_pointer (&news);
  chats = g_strv_builder_end (chat_ids);
  contacts = g_strv_builder_end (contact_ids);
  companion_name_cache_resolve_async (self->names, (const char * const *) chats,
                                      (const char * const *) contacts, self->cancellable,
                                      on_names_resolved, announcement);
}

static void
companion_notifier_dispose (GObject *object)
{
  CompanionNotifier *self = COMPANION_NOTIFIER (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_weak_pointer (&self->application);
  g_clear_object (&self->sync);
  g_clear_object (&self->names);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (companion_notifier_parent_class)->dispose (object);
}

static void
companion_notifier_finalize (GObject *object)
{
  CompanionNotifier *self = COMPANION_NOTIFIER (object);

  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->seen, g_hash_table_unref);

  G_OBJECT_CLASS (companion_notifier_parent_class)->finalize (object);
}

static void
companion_notifier_class_init (CompanionNotifierClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = companion_notifier_dispose;
  object_class->finalize = companion_notifier_finalize;
}

static void
companion_notifier_init (CompanionNotifier *self)
{
  self->cancellable = g_cancellable_new ();
  self->seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->watermark = g_get_real_time () / 1000 - START_GRACE_MS;
}

CompanionNotifier *
companion_notifier_new (GApplication          *application,
                        CompanionDesktopSync  *sync,
                        CompanionMirrorReader *reader,
                        GSettings             *settings)
{
  CompanionNotifier *self;

  g_return_val_if_fail (G_IS_APPLICATION (application), NULL);
  g_return_val_if_fail (COMPANION_IS_DESKTOP_SYNC (sync), NULL);
  g_return_val_if_fail (COMPANION_IS_MIRROR_READER (reader), NULL);
  g_return_val_if_fail (settings == NULL || G_IS_SETTINGS (settings), NULL);

  self = g_object_new (COMPANION_TYPE_NOTIFIER, NULL);
  g_set_weak_pointer (&self->application, application);
  self->sync = g_object_ref (sync);
  self->names = companion_name_cache_new (reader);
  self->settings = settings != NULL ? g_object_ref (settings) : NULL;
  g_signal_connect_object (sync, "changes-applied", G_CALLBACK (on_changes_applied), self, G_CONNECT_SWAPPED);
  return self;
}
