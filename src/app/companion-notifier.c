/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-notifier"

#include "config.h"

#include <glib/gi18n.h>
#include <gtk/gtk.h>

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
  CompanionMirrorReader *reader;
  GSettings             *settings;
  GCancellable          *cancellable;
  /* ms: records older than this are edits, reactions or receipts of what
   * was there before, never news. */
  gint64                 watermark;
  GHashTable            *seen;
};

G_DEFINE_FINAL_TYPE (CompanionNotifier, companion_notifier, G_TYPE_OBJECT)

/* One pending notification while its names are looked up. */
typedef struct
{
  CompanionNotifier *self;
  JsonObject        *record;   /* the message or call */
  JsonObject        *chat;     /* messages: the chat, once looked up */
  char             **names;    /* contacts still to look up */
  GPtrArray         *found;    /* their names (char *) */
  guint              next;
} Pending;

static void
pending_free (Pending *pending)
{
  g_clear_object (&pending->self);
  g_clear_pointer (&pending->record, json_object_unref);
  g_clear_pointer (&pending->chat, json_object_unref);
  g_clear_pointer (&pending->names, g_strfreev);
  g_clear_pointer (&pending->found, g_ptr_array_unref);
  g_free (pending);
}

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

static char *
join_names (GPtrArray *names)
{
  g_autoptr(GString) text = g_string_new (NULL);

  for (guint i = 0; i < names->len; i++)
    {
      if (i > 0)
        g_string_append (text, ", ");
      g_string_append (text, g_ptr_array_index (names, i));
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static void
send_message_notification (CompanionNotifier *self,
                           Pending           *pending)
{
  g_autoptr(GNotification) notification = NULL;
  g_autofree char *id = NULL;
  g_autofree char *title = NULL;
  g_autofree char *body = NULL;
  const char *chat_id = json_object_get_string_member (pending->record, "chat");
  const char *chat_title = json_object_get_string_member_with_default (pending->chat, "title", "");
  const char *kind = json_object_get_string_member_with_default (pending->chat, "kind", "direct");
  const char *text = json_object_get_string_member_with_default (pending->record, "text", "");
  const char *sender = pending->found->len > 0 ? g_ptr_array_index (pending->found, 0) : NULL;

  if (g_str_equal (kind, "group") && sender != NULL && *chat_title != '\0')
    /* Translators: a notification's title: a person's name, then a group chat's title */
    title = g_strdup_printf (_("%s in %s"), sender, chat_title);
  else if (*chat_title != '\0')
    title = g_strdup (chat_title);
  else if (sender != NULL)
    title = g_strdup (sender);
  else
    title = g_strdup (_("New Message"));

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
                        Pending           *pending)
{
  g_autoptr(GNotification) notification = NULL;
  g_autofree char *id = NULL;
  g_autofree char *body = NULL;
  const char *kind = json_object_get_string_member_with_default (pending->record, "kind", "voice");

  notification = g_notification_new (g_str_equal (kind, "video") ? _("Missed Video Call")
                                                                 : _("Missed Call"));
  body = join_names (pending->found);
  g_notification_set_body (notification, body);
  g_notification_set_category (notification, "call.unanswered");
  g_notification_set_default_action (notification, "app.show-calls");
  id = g_strconcat ("call-", json_object_get_string_member (pending->record, "id"), NULL);
  g_debug ("Notifying missed call %s", json_object_get_string_member (pending->record, "id"));
  g_application_send_notification (self->application, id, notification);
}

static void finish_pending (Pending *pending);

static void
on_contact_looked_up (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  Pending *pending = user_data;
  g_autoptr(JsonObject) contact = NULL;
  g_autoptr(GError) error = NULL;

  contact = companion_mirror_reader_lookup_finish (COMPANION_MIRROR_READER (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      pending_free (pending);
      return;
    }
  if (error != NULL)
    g_debug ("Cannot look up a contact: %s", error->message);
  /* A contact the mirror does not have is shown by its id rather than lost. */
  g_ptr_array_add (pending->found,
                   g_strdup (contact != NULL ? json_object_get_string_member (contact, "name")
                                             : pending->names[pending->next]));
  pending->next++;
  finish_pending (pending);
}

/* Looks up the next contact's name, or sends once all are known. */
static void
finish_pending (Pending *pending)
{
  CompanionNotifier *self = pending->self;

  if (pending->names[pending->next] != NULL)
    {
      companion_mirror_reader_lookup_async (self->reader, COMPANION_ENTITY_CONTACT,
                                            pending->names[pending->next], self->cancellable,
                                            on_contact_looked_up, pending);
      return;
    }

  /* Checked last: the user may have come back while names were read. */
  if (self->application != NULL && notifications_enabled (self) && !application_is_focused (self))
    {
      if (pending->chat != NULL)
        send_message_notification (self, pending);
      else
        send_call_notification (self, pending);
    }
  pending_free (pending);
}

static void
on_chat_looked_up (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Pending *pending = user_data;
  g_autoptr(GError) error = NULL;
  const char *from;

  pending->chat = companion_mirror_reader_lookup_finish (COMPANION_MIRROR_READER (source), result, &error);
  if (pending->chat == NULL || json_object_get_boolean_member_with_default (pending->chat, "muted", FALSE))
    {
      /* Deleted since, unreadable, or muted: nothing to say. */
      if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("Cannot look up a chat: %s", error->message);
      pending_free (pending);
      return;
    }
  from = json_object_get_string_member (pending->record, "from");
  pending->names = g_strdupv ((char *[]) { (char *) from, NULL });
  finish_pending (pending);
}

static Pending *
pending_new (CompanionNotifier *self,
             JsonObject        *record)
{
  Pending *pending = g_new0 (Pending, 1);

  pending->self = g_object_ref (self);
  pending->record = json_object_ref (record);
  pending->found = g_ptr_array_new_with_free_func (g_free);
  return pending;
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

static void
on_changes_applied (CompanionNotifier *self,
                    GPtrArray         *changes)
{
  g_autoptr(GHashTable) newest_by_chat = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                                                (GDestroyNotify) json_object_unref);
  gint64 newest = self->watermark;
  GHashTableIter iter;
  gpointer value;

  for (guint i = 0; i < changes->len; i++)
    {
      CompanionChange *change = g_ptr_array_index (changes, i);
      JsonObject *record = change->record;

      if (change->is_delete)
        continue;
      if (change->entity == COMPANION_ENTITY_MESSAGE)
        {
          gboolean incoming = json_object_get_string_member_with_default (record, "from", NULL) != NULL;

          newest = MAX (newest, json_object_get_int_member (record, "time"));
          if (!is_news (self, record) || !incoming ||
              json_object_get_boolean_member_with_default (record, "deleted", FALSE) ||
              json_object_has_member (record, "edited_at"))
            continue;
          /* The batch is in order: the last message of a chat wins. */
          g_hash_table_replace (newest_by_chat, (gpointer) json_object_get_string_member (record, "chat"),
                                json_object_ref (record));
        }
      else if (change->entity == COMPANION_ENTITY_CALL)
        {
          newest = MAX (newest, json_object_get_int_member (record, "time"));
          if (is_news (self, record) &&
              json_object_get_boolean_member_with_default (record, "missed", FALSE) &&
              notifications_enabled (self))
            {
              Pending *pending = pending_new (self, record);
              JsonArray *participants = json_object_get_array_member (record, "participants");
              guint n = json_array_get_length (participants);

              pending->names = g_new0 (char *, n + 1);
              for (guint p = 0; p < n; p++)
                pending->names[p] = g_strdup (json_array_get_string_element (participants, p));
              finish_pending (pending);
            }
        }
    }
  self->watermark = newest;

  if (!notifications_enabled (self))
    return;
  g_hash_table_iter_init (&iter, newest_by_chat);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      JsonObject *message = value;

      companion_mirror_reader_lookup_async (self->reader, COMPANION_ENTITY_CHAT,
                                            json_object_get_string_member (message, "chat"),
                                            self->cancellable, on_chat_looked_up,
                                            pending_new (self, message));
    }
}

static void
companion_notifier_dispose (GObject *object)
{
  CompanionNotifier *self = COMPANION_NOTIFIER (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_weak_pointer (&self->application);
  g_clear_object (&self->sync);
  g_clear_object (&self->reader);
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
  self->reader = g_object_ref (reader);
  self->settings = settings != NULL ? g_object_ref (settings) : NULL;
  g_signal_connect_object (sync, "changes-applied", G_CALLBACK (on_changes_applied), self, G_CONNECT_SWAPPED);
  return self;
}
